"""What things are called: a model (name and version), a value as a category label, a type.

Each rule exists once, here, and every part of the SDK (``@monitor``, ``observe()``, the
server routes, the ML-library hooks, summaries, sketches and baselines) uses it. If two
copies drifted apart, a baseline's categories would stop matching production's, or one
model would report two identities.

Model identity, by precedence (first that says wins):

1. the name/version given in code (``@monitor(model=...)``, ``predict_route(...)``, ...);
2. :func:`register_model` on the model object;
3. ``MODELTEL_MODEL_NAME`` / ``MODELTEL_MODEL_VERSION``;
4. the model object's ``model_name``/``name`` and ``model_version``/``version``/``__version__``
   attributes;
5. the model and version a baseline was made for (a served route's or hooked model's
   baseline, so that its distributions are compared with that baseline);
6. a name from the code (the predict function's or a pipeline's final step's) or the
   model's class; for the version, a content hash of a scikit-learn-style model's fitted
   state (``sha-<12 hex>``, see :func:`detected_version`), else ``unknown``.
"""

from __future__ import annotations

import hashlib
import math
import threading
import weakref
from typing import Any, Sequence

import numpy as np

from modeltel import _registry, _semconv, _telemetry

__all__ = [
    "detected_version",
    "model_vocabulary",
    "model_identity",
    "number_label",
    "register_model",
    "type_name",
    "value_label",
]

_NAME_ATTRS = ("model_name", "name")
_VERSION_ATTRS = ("model_version", "version", "__version__")


# -- type names ------------------------------------------------------------------------------


def type_name(obj: Any) -> str:
    """``float``, ``numpy.ndarray``, ``pandas.DataFrame``: the type's top-level module and name."""
    cls = type(obj)
    module = cls.__module__.split(".", 1)[0]
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


# -- labels ----------------------------------------------------------------------------------


def number_label(v: float) -> str | None:
    """A number used as a category: ``3.0`` -> ``'3'``, ``2.5`` -> ``'2.5'``; NaN -> ``None``."""
    if v != v:
        return None
    if math.isfinite(v) and v == int(v):
        return str(int(v))
    return repr(float(v))


def value_label(v: Any) -> str | None:
    """Any categorical value as its label, ``None`` for a null (None, NaN, pandas NA/NaT).

    Integers and integral floats without a decimal point, other numbers as :func:`number_label`;
    booleans are ``true``/``false``; bytes are decoded.
    """
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return number_label(float(v))
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if type(v).__name__ in ("NAType", "NaTType"):
        return None
    return str(v)


# -- model identity --------------------------------------------------------------------------

_lock = threading.Lock()
_registered: "weakref.WeakKeyDictionary[Any, tuple[str | None, str | None]]" = weakref.WeakKeyDictionary()
# Objects that cannot be weakly referenced are kept by id with a strong reference, bounded.
_strong: dict[int, tuple[Any, str | None, str | None]] = {}
_MAX_STRONG = 1024
# Detected versions, once per model object (hashing the fitted state is not free).
_detected: "weakref.WeakKeyDictionary[Any, str | None]" = weakref.WeakKeyDictionary()


# Registrations are the user's configuration and survive a reset; detected versions are a cache.
_registry.register("identity.detected_versions", reset=_detected.clear)


def register_model(model: Any, name: str | None = None, version: str | None = None) -> Any:
    """Give a model object the name and version its automatic predict spans carry.

    Returns ``model`` so it can be used inline::

        clf = modeltel.instrumentation.register_model(joblib.load("fraud.pkl"), "fraud", "3.1.0")
        clf.predict(X)   # span "predict fraud", ml.model.version 3.1.0 (auto-instrumented)
    """
    with _lock:
        try:
            _registered[model] = (name, version)
        except TypeError:  # not weak-referenceable (e.g. some C extension objects)
            if len(_strong) < _MAX_STRONG or id(model) in _strong:
                _strong[id(model)] = (model, name, version)
    return model


def _registered_identity(model: Any) -> tuple[str | None, str | None]:
    try:
        found = _registered.get(model)
    except TypeError:
        found = None
    if found is not None:
        return found
    strong = _strong.get(id(model))
    if strong is not None and strong[0] is model:
        return strong[1], strong[2]
    return None, None


def _str_attr(obj: Any, names: Sequence[str]) -> str | None:
    for attr in names:
        try:
            value = getattr(obj, attr, None)
        except Exception:  # noqa: BLE001 - a property that raises is no name
            continue
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value)
            if text:
                return text
    return None


_vocabularies: "weakref.WeakKeyDictionary[Any, frozenset[str] | None]" = weakref.WeakKeyDictionary()
_registry.register("identity.vocabularies", reset=_vocabularies.clear)
_MAX_VOCABULARY = 1000


def _once_per_model(cache: "weakref.WeakKeyDictionary[Any, Any]", model: Any, compute: Any) -> Any:
    """``compute(model)`` once per model object (``None`` if it fails: these are niceties)."""
    try:
        return cache[model]
    except (KeyError, TypeError):
        pass
    try:
        value = compute(model)
    except Exception:  # noqa: BLE001 - a nicety; the caller has a fallback
        value = None
    try:
        cache[model] = value
    except TypeError:
        pass
    return value


def _classes(model: Any) -> frozenset[str] | None:
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) > _MAX_VOCABULARY:
        return None
    return frozenset(label for label in map(value_label, list(classes)) if label is not None)


def model_vocabulary(model: Any) -> frozenset[str] | None:
    """The labels a classifier can output (its ``classes_``, by :func:`value_label`), once
    per model object: the model's own vocabulary is not user data, so its output classes
    are exported in clear while every other string label stays hashed. ``None`` for a model
    without classes (or with more than 1000)."""
    return _once_per_model(_vocabularies, model, _classes)


def detected_version(model: Any) -> str | None:
    """A version for a model nobody named one for: ``sha-`` and 12 hex digits of a hash of
    a scikit-learn-style model's parameters and fitted state (attributes ending in ``_``),
    computed once per model object. Two different models of the same class get different
    versions; the same model loaded in two replicas gets the same one. ``None`` for other
    objects."""
    if model is None or not callable(getattr(model, "get_params", None)):
        return None
    return _once_per_model(_detected, model, _fitted_hash)


def _fitted_hash(model: Any) -> str | None:
    digest = hashlib.sha256(type_name(model).encode())
    digest.update(type(model).__qualname__.encode())
    _hash_into(digest, model, depth=0)
    return "sha-" + digest.hexdigest()[:12]


def _hash_value(digest: Any, value: Any, depth: int) -> None:
    """One parameter or fitted attribute: arrays by their bytes, estimators recursively,
    sequences item by item (pipeline steps are (name, estimator) pairs), the rest by repr."""
    if callable(getattr(value, "tobytes", None)):
        digest.update(value.tobytes())
    elif callable(getattr(value, "get_params", None)):
        _hash_into(digest, value, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value[:10_000]:
            _hash_value(digest, item, depth + 1)
    elif type(value).__name__ == "Tree" and callable(getattr(value, "__getstate__", None)):
        state = value.__getstate__()  # scikit-learn's Cython trees
        for part in ("nodes", "values"):
            if state.get(part) is not None:
                digest.update(state[part].tobytes())
    else:
        digest.update(repr(value).encode())


def _hash_into(digest: Any, obj: Any, depth: int) -> None:
    """Feed what defines a fitted estimator into ``digest``: its hyper-parameters and its
    fitted arrays (``coef_``, ``classes_``, trees, ...), recursing into pipeline steps."""
    if depth > 6:
        return
    params = getattr(obj, "get_params", None)
    if callable(params):
        for key, value in sorted(params(deep=False).items()):
            digest.update(key.encode())
            _hash_value(digest, value, depth)
    for key in sorted(vars(obj)) if hasattr(obj, "__dict__") else ():
        if key.endswith("_") and not key.startswith("_"):
            digest.update(key.encode())
            _hash_value(digest, getattr(obj, key, None), depth)


def model_identity(
    model: Any = None,
    name: str | None = None,
    version: str | None = None,
    default_name: str | None = None,
    default_version: str | None = None,
    *,
    baseline: Any = None,
) -> tuple[str, str]:
    """The (name, version) of a prediction, by the precedence in the module docstring.

    ``name``/``version``: what the code said; ``model``: the model object (or ``None``);
    ``default_name``/``default_version``: what the code or the model file says when
    nothing above does (before the class name and the detected version), after what
    ``baseline`` (a :class:`modeltel.Baseline` or ``None``) was made for.
    """
    if baseline is not None:
        default_name = getattr(baseline, "model", None) or default_name
        default_version = getattr(baseline, "version", None) or default_version
    if name is None or version is None:
        config = _telemetry.default_config()
        registered_name, registered_version = (None, None) if model is None else _registered_identity(model)
        name = name or registered_name or config.model_name
        version = version or registered_version or config.model_version
        if model is not None:
            name = name or _str_attr(model, _NAME_ATTRS)
            version = version or _str_attr(model, _VERSION_ATTRS) or default_version or detected_version(model)
        if name is None and model is not None and default_name is None:
            default_name = model.__name__ if isinstance(model, type) else type(model).__name__
        version = version or default_version
    return name or default_name or "model", version or _semconv.DEFAULT_MODEL_VERSION
