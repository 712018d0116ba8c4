"""Automatic predict spans for ML libraries, patched with wrapt, restored on uninstrument.

Libraries are patched when they are imported (wrapt post-import hooks), so instrumenting
costs nothing for a library the application never imports, and nothing is imported on
its behalf (PyTorch in particular is only patched if the application imports it).

What is wrapped, per library:

- scikit-learn: ``predict``, ``predict_proba``, ``predict_log_proba`` and
  ``decision_function`` of every estimator class (those already defined, and those defined
  later, through ``BaseEstimator.__init_subclass__``), and ``transform`` of pipelines only.
  Inner steps of a pipeline run inside the pipeline's span and add none of their own.
  ``fit``/``partial_fit``/``fit_transform``/``fit_predict``/``score`` run with predictions
  suppressed, so training and evaluation are not counted as traffic.
- XGBoost: ``Booster.predict`` and ``Booster.inplace_predict`` (the scikit-learn wrappers
  are covered by the scikit-learn patch, their inner Booster calls nest).
- LightGBM: ``Booster.predict``.
- ONNX Runtime: ``InferenceSession.run``.
- PyTorch: ``nn.Module.__call__`` of a module in eval mode (submodules nest).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Iterable

import wrapt

from modeltel import _semconv as sc
from modeltel._identity import model_vocabulary
from modeltel._telemetry import report_internal_error
from modeltel.instrumentation._common import (
    default_baseline,
    model_identity,
    predictions_suppressed,
    run_observed,
    suppressed_predictions,
)

__all__ = ["LIBRARIES", "instrument_libraries", "uninstrument_libraries", "patched"]

#: Library key -> the module whose import triggers the patch.
LIBRARIES: dict[str, str] = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnxruntime": "onnxruntime",
    "torch": "torch",
}

_SKLEARN_PREDICT = ("predict", "predict_proba", "predict_log_proba", "decision_function")
_SKLEARN_TRAIN = ("fit", "partial_fit", "fit_transform", "fit_predict", "score")


class _ModeltelWrapper(wrapt.FunctionWrapper):
    """Marks the wrappers modeltel installed, so none is installed twice."""


_lock = threading.RLock()
_active = False
_enabled: frozenset[str] = frozenset()
_hooks_registered = False
# (owner, attribute, what was in owner.__dict__ before, our wrapper or replacement)
_patches: list[tuple[Any, str, Any, Any]] = []
_patched_libraries: set[str] = set()


def patched() -> frozenset[str]:
    """The libraries patched right now."""
    return frozenset(_patched_libraries)


def _wrap(owner: Any, attribute: str, wrapper: Callable[..., Any]) -> bool:
    original = owner.__dict__.get(attribute)
    if original is None or isinstance(original, _ModeltelWrapper):
        return False
    replacement = _ModeltelWrapper(original, wrapper)
    setattr(owner, attribute, replacement)
    _patches.append((owner, attribute, original, replacement))
    return True


# -- wrappers ---------------------------------------------------------------------------


def _first_arg(args: tuple[Any, ...], kwargs: dict[str, Any], *names: str) -> Any:
    if args:
        return args[0]
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return None


def _training(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    with suppressed_predictions():
        return wrapped(*args, **kwargs)


Described = tuple[str, str, dict[str, Any]]


def _observed(
    site: str, wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any], describe: Callable[[], Described]
) -> Any:
    """The library call as one prediction. ``describe()`` gives the model, its version and the
    rest of :func:`run_observed`'s keyword arguments; when it fails, the failure is counted at
    ``site`` and the call runs unobserved."""
    try:
        model, version, options = describe()
    except Exception as exc:  # noqa: BLE001 - a hook never breaks the library's call
        report_internal_error(site, exc)
        return wrapped(*args, **kwargs)
    return run_observed(model, version, lambda: wrapped(*args, **kwargs), **options)


def _sklearn_name(estimator: Any) -> str:
    # A pipeline is named after the model at its end, not "Pipeline".
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        last = steps[-1][1] if isinstance(steps[-1], tuple) and len(steps[-1]) == 2 else None
        if last is not None and last != "passthrough":
            return type(last).__name__
    return type(estimator).__name__


def _fitted_feature_names(estimator: Any) -> tuple[str, ...] | None:
    """The column names the estimator was fitted on (``feature_names_in_``, set when it was
    fitted on a DataFrame): the names of a request's columns even when the application
    passes a list or an array at predict time."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return None
    try:
        return tuple(str(name) for name in names)
    except TypeError:
        return None


def _sklearn_method(method: str) -> Callable[..., Any]:
    attributes = {sc.ATTR_MODEL_METHOD: method, sc.ATTR_MODEL_LIBRARY: "sklearn"}

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if instance is None or predictions_suppressed():
            return wrapped(*args, **kwargs)

        def describe() -> Described:
            model, version = model_identity(instance, default_name=_sklearn_name(instance), baseline=default_baseline())
            return model, version, {
                "inputs": _first_arg(args, kwargs, "X"),
                "attributes": attributes,
                "feature_names": _fitted_feature_names(instance),
                "vocabulary": model_vocabulary(instance),
            }

        return _observed("hooks.sklearn_identity", wrapped, args, kwargs, describe)

    return wrapper


_SKLEARN_WRAPPERS = {name: _sklearn_method(name) for name in (*_SKLEARN_PREDICT, "transform")}


def _is_pipeline(cls: type) -> bool:
    """A scikit-learn Pipeline (or a subclass), told by its MRO's names: while
    ``sklearn.pipeline`` is being imported (the usual case: ``from sklearn.pipeline import
    Pipeline`` or unpickling a model) its ``Pipeline`` attribute does not exist yet."""
    return any(c.__name__ == "Pipeline" and c.__module__ == "sklearn.pipeline" for c in cls.__mro__)


def _patch_sklearn_class(cls: type) -> None:
    # The methods often live on mixins that are not BaseEstimator subclasses
    # (LinearClassifierMixin.predict, ClassifierMixin.score, ...): patch the whole MRO.
    for owner in cls.__mro__:
        if owner is object:
            continue
        for name in _SKLEARN_PREDICT:
            if name in owner.__dict__:
                _wrap(owner, name, _SKLEARN_WRAPPERS[name])
        if "transform" in owner.__dict__ and _is_pipeline(owner):
            _wrap(owner, "transform", _SKLEARN_WRAPPERS["transform"])
        for name in _SKLEARN_TRAIN:
            if name in owner.__dict__:
                _wrap(owner, name, _training)


def _patch_sklearn(module: Any) -> None:
    from sklearn.base import BaseEstimator

    def all_subclasses(root: type) -> list[type]:
        seen: dict[type, None] = {}
        stack: list[type] = [root]
        while stack:
            subclasses: list[type] = stack.pop().__subclasses__()
            for sub in subclasses:
                if sub not in seen:
                    seen[sub] = None
                    stack.append(sub)
        return list(seen)

    for cls in all_subclasses(BaseEstimator):
        _patch_sklearn_class(cls)

    # Classes defined later (most of scikit-learn is imported lazily, unpickled models
    # import their modules, users define their own estimators) are patched as they are
    # created. BaseEstimator defines no __init_subclass__ of its own; ours chains to the
    # next one in the MRO (scikit-learn's metadata-routing hook).
    previous = BaseEstimator.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        if previous is not None:
            previous.__get__(None, cls)(**kwargs)
        else:
            super(BaseEstimator, cls).__init_subclass__(**kwargs)
        if _active and "sklearn" in _patched_libraries:
            try:
                with _lock:
                    _patch_sklearn_class(cls)
            except Exception as exc:  # noqa: BLE001 - never break a class definition
                report_internal_error("hooks.sklearn_subclass", exc)

    hook: Any = classmethod(__init_subclass__)
    BaseEstimator.__init_subclass__ = hook
    _patches.append((BaseEstimator, "__init_subclass__", previous, hook))


def _booster_method(library: str, method: str, input_names: tuple[str, ...]) -> Callable[..., Any]:
    default_name = f"{library}.Booster"
    site = f"hooks.{library}_identity"

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if instance is None or predictions_suppressed():
            return wrapped(*args, **kwargs)

        def describe() -> Described:
            model, version = model_identity(instance, default_name=default_name, baseline=default_baseline())
            data = _first_arg(args, kwargs, *input_names)
            attributes: dict[str, Any] = {sc.ATTR_MODEL_METHOD: method, sc.ATTR_MODEL_LIBRARY: library}
            if type(data).__name__ != "DMatrix":
                return model, version, {"inputs": data, "attributes": attributes}
            # A DMatrix holds its data in native memory: rows and columns only.
            attributes[sc.ATTR_INPUT_ROWS] = int(data.num_row())
            attributes[sc.ATTR_INPUT_FEATURES] = int(data.num_col())
            return model, version, {"inputs": data, "has_inputs": False, "attributes": attributes}

        return _observed(site, wrapped, args, kwargs, describe)

    return wrapper


def _patch_xgboost(module: Any) -> None:
    from xgboost.core import Booster

    _wrap(Booster, "predict", _booster_method("xgboost", "predict", ("data",)))
    _wrap(Booster, "inplace_predict", _booster_method("xgboost", "inplace_predict", ("data",)))
    _wrap(Booster, "update", _training)


def _patch_lightgbm(module: Any) -> None:
    from lightgbm.basic import Booster

    _wrap(Booster, "predict", _booster_method("lightgbm", "predict", ("data",)))


def _onnx_identity(session: Any) -> tuple[str, str]:
    # The model file's own metadata comes after what code and environment say: custom
    # "model_name"/"name" and "model_version"/"version" entries, then the graph name and
    # the ONNX model_version field.
    name = version = None
    try:
        meta = session.get_modelmeta()
        custom = dict(meta.custom_metadata_map or {})
        name = custom.get("model_name") or custom.get("name") or meta.graph_name or None
        version = custom.get("model_version") or custom.get("version") or (
            str(meta.version) if meta.version else None
        )
    except Exception:  # noqa: BLE001 - metadata is a nicety
        pass
    return model_identity(session, default_name=name or "onnx_model", default_version=version, baseline=default_baseline())


def _onnx_run(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if instance is None or predictions_suppressed():
        return wrapped(*args, **kwargs)

    def describe() -> Described:
        model, version = _onnx_identity(instance)
        feed = args[1] if len(args) > 1 else kwargs.get("input_feed")
        # One input tensor is the model input; several are summarised as named columns
        # only when they are 1-D (else the dict is counted as unsupported input).
        inputs = next(iter(feed.values())) if isinstance(feed, dict) and len(feed) == 1 else feed
        return model, version, {"inputs": inputs, "attributes": _ONNX_ATTRIBUTES, "output_of": _first_output}

    return _observed("hooks.onnxruntime_identity", wrapped, args, kwargs, describe)


_ONNX_ATTRIBUTES = {sc.ATTR_MODEL_METHOD: "run", sc.ATTR_MODEL_LIBRARY: "onnxruntime"}


def _first_output(outputs: Any) -> Any:
    # run() returns one array per requested output; the first is the prediction
    # (labels for a classifier; probabilities come second).
    return outputs[0] if isinstance(outputs, list) and outputs else outputs


def _patch_onnxruntime(module: Any) -> None:
    from onnxruntime.capi.onnxruntime_inference_collection import Session

    _wrap(Session, "run", _onnx_run)


def _tensor_to_numpy(value: Any) -> Any:
    # Summaries need numbers on the CPU; a tensor on a device is described by shape only
    # (copying it back would slow the model down).
    try:
        if getattr(value, "device", None) is not None and value.device.type == "cpu":
            return value.detach().numpy()
    except Exception:  # noqa: BLE001
        pass
    return value


def _torch_call(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # Hot path: every submodule call comes through here; bail out as early as possible.
    if instance is None or instance.training or predictions_suppressed():
        return wrapped(*args, **kwargs)

    def describe() -> Described:
        model, version = model_identity(instance, baseline=default_baseline())
        inputs = _tensor_to_numpy(args[0]) if args else None
        return model, version, {
            "inputs": inputs, "has_inputs": bool(args), "attributes": _TORCH_ATTRIBUTES, "output_of": _tensor_to_numpy,
        }

    return _observed("hooks.torch_identity", wrapped, args, kwargs, describe)


_TORCH_ATTRIBUTES = {sc.ATTR_MODEL_METHOD: "__call__", sc.ATTR_MODEL_LIBRARY: "torch"}


def _patch_torch(module: Any) -> None:
    from torch.nn import Module

    _wrap(Module, "__call__", _torch_call)


_PATCHERS: dict[str, Callable[[Any], None]] = {
    "sklearn": _patch_sklearn,
    "xgboost": _patch_xgboost,
    "lightgbm": _patch_lightgbm,
    "onnxruntime": _patch_onnxruntime,
    "torch": _patch_torch,
}


def _apply(library: str, module: Any) -> None:
    with _lock:
        if not _active or library not in _enabled or library in _patched_libraries:
            return
        try:
            _PATCHERS[library](module)
            _patched_libraries.add(library)
        except Exception as exc:  # noqa: BLE001 - an unexpected library version: skip it
            report_internal_error(f"hooks.patch_{library}", exc)


def _hook_for(library: str) -> Callable[[Any], None]:
    def hook(module: Any) -> None:
        _apply(library, module)

    return hook


def instrument_libraries(libraries: Iterable[str] | None = None) -> None:
    """Patch the given libraries (default: all known) now if imported, else on import."""
    global _active, _enabled, _hooks_registered
    wanted = frozenset(LIBRARIES if libraries is None else libraries)
    unknown = wanted - set(LIBRARIES)
    if unknown:
        raise ValueError(f"unknown libraries {sorted(unknown)}; known: {sorted(LIBRARIES)}")
    with _lock:
        _active = True
        _enabled = wanted
        if not _hooks_registered:
            # Hooks cannot be unregistered; they are registered once and consult _active.
            # A hook for an already-imported module runs at once.
            _hooks_registered = True
            for library, module_name in LIBRARIES.items():
                wrapt.register_post_import_hook(_hook_for(library), module_name)
        else:
            for library, module_name in LIBRARIES.items():
                module = sys.modules.get(module_name)
                if module is not None:
                    _apply(library, module)


def uninstrument_libraries() -> None:
    """Restore every patched method and hook exactly as it was."""
    global _active
    with _lock:
        _active = False
        while _patches:
            owner, attribute, original, replacement = _patches.pop()
            if owner.__dict__.get(attribute) is not replacement:
                continue  # someone replaced it after us; leave theirs alone
            if original is None:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)
        _patched_libraries.clear()
