"""``@monitor`` and ``observe()``: the public entry points on top of one :class:`Prediction`.

The lifecycle itself (span, summaries, metrics, log record, context, containment) lives in
``modeltel._prediction``; this module only finds the model input of a call and picks the
runner for the kind of function decorated.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, TypeVar, cast, overload

import wrapt
from typing_extensions import Unpack

from modeltel import _telemetry
from modeltel._prediction import (
    MISSING,
    ObserveArgs,
    OptionArgs,
    Options,
    Prediction,
    current_prediction,
    run,
    run_async,
    stream,
    stream_async,
)

__all__ = ["Prediction", "current_prediction", "monitor", "observe"]

F = TypeVar("F", bound=Callable[..., Any])

_SELF_NAMES = frozenset({"self", "cls"})


def _input_position(func: Callable[..., Any], input_arg: str | None) -> int | None:
    """Position of ``input_arg`` among the call's positional arguments (self/cls excluded)."""
    if input_arg is None:
        return 0
    target = getattr(func, "__func__", func)
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    if parameters and parameters[0].name in _SELF_NAMES:
        parameters = parameters[1:]
    names = [p.name for p in parameters]
    if input_arg not in names:
        raise ValueError(
            f"modeltel.monitor: input_arg={input_arg!r} is not a parameter of "
            f"{getattr(target, '__qualname__', target)!r}; parameters are {names}"
        )
    kind = parameters[names.index(input_arg)].kind
    if kind is inspect.Parameter.KEYWORD_ONLY:
        return None
    return names.index(input_arg)


def _select_input(
    options: Options, position: int | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if options.input_arg is not None and options.input_arg in kwargs:
        return kwargs[options.input_arg]
    if position is not None and position < len(args):
        return args[position]
    if options.input_arg is None and kwargs:
        return next(iter(kwargs.values()))
    return MISSING


@overload
def monitor(func: F, /) -> F: ...
@overload
def monitor(**options: Unpack[OptionArgs]) -> Callable[[F], F]: ...
def monitor(func: Any = None, /, **options: Any) -> Any:
    """Monitor a predict function: a span, metrics and a JSON log record per call.

    Works on plain functions, ``async def`` functions, methods (instance, class, static)
    and generators or async generators (each yielded item is a streamed output). The
    model input is the first positional argument after ``self``/``cls``, or the argument
    named by ``input_arg``. Name, signature, docstring and ``inspect`` results of the
    function survive.

    Args:
        model: model name; else the model object's registration, ``MODELTEL_MODEL_NAME``,
            its ``model_name`` or ``name`` attribute or class name, or the function name.
        version: model version; else ``MODELTEL_MODEL_VERSION``, the model object's
            ``model_version``/``version``/``__version__``, a hash of a scikit-learn model's
            fitted state, or ``"unknown"``.
        input_arg: the parameter holding the model input.
        feature_names: names for inputs without column names (numpy arrays, lists); or,
            for inputs whose keys are data (a bag of words, ids), ``"hash"`` to send every
            feature name as a keyed hash, or a mapping ``{key: exported name}`` (keys not in
            it are hashed).
        baseline: a :class:`modeltel.Baseline` or the path of a saved one: numeric
            features are then exported on its bin edges, categoricals on its categories,
            the baseline itself in-band, and inputs are checked against its schema
            (``ml.data_quality.violations``). A file that cannot be loaded is logged as an
            error and monitoring goes on without it.
        capture_raw: opt in to raw input/output payloads in log records (sampled).
        capture_error_messages: opt in to exception text on the span and log record (else
            ``MODELTEL_CAPTURE_ERROR_MESSAGES``; by default only the exception type).
        raw_sample_rate: share of predictions whose raw payload is logged.
        redact: field/column names replaced by ``[REDACTED]`` in raw payloads.
        log_sample_rate: share of successful predictions with a sampled span that get an
            ``ml.prediction`` log record (else ``MODELTEL_LOG_SAMPLE_RATE``; by default none:
            the span is the record; failures are always logged).
        flag_outliers: with a baseline, count the input rows beyond its 0.1%/99.9% tail
            edges on the span (``ml.data_quality.outlier_rows``).

    Example::

        @modeltel.monitor(model="fraud", version="3.1.0")
        def predict(X):
            return clf.predict_proba(X)[:, 1]
    """
    # Checked here, at @monitor(...), so that a wrong option fails where it is written.
    # On a method, the model object (the instance, or the class) names the model.
    method_options = Options.create("modeltel.monitor", **options)

    def decorate(function: F) -> F:
        if not callable(function) and not isinstance(function, (classmethod, staticmethod)):
            raise TypeError(f"modeltel.monitor: {function!r} is not callable")
        target = getattr(function, "__func__", function)
        opts = dataclasses.replace(method_options, fallback_name=getattr(target, "__name__", "model"))
        position = _input_position(target, opts.input_arg)
        if inspect.isasyncgenfunction(target):
            kind = "async_stream"
        elif inspect.iscoroutinefunction(target):
            kind = "async"
        elif inspect.isgeneratorfunction(target):
            kind = "stream"
        else:
            kind = "call"

        def prediction(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Prediction:
            inputs = _select_input(opts, position, args, kwargs)
            if instance is None:
                return Prediction(opts, None, inputs)
            return Prediction(method_options, instance, inputs)

        @wrapt.decorator
        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not _telemetry.default_config().enabled:
                return wrapped(*args, **kwargs)
            if kind == "call":  # the hot path: prediction() written out
                inputs = _select_input(opts, position, args, kwargs)
                made = Prediction(opts, None, inputs) if instance is None else Prediction(method_options, instance, inputs)
                return run(made, lambda: wrapped(*args, **kwargs))
            if kind == "async":
                return run_async(prediction(instance, args, kwargs), lambda: wrapped(*args, **kwargs))
            begin = lambda: prediction(instance, args, kwargs)  # noqa: E731 - at the first step
            if kind == "stream":
                return stream(begin, lambda: wrapped(*args, **kwargs))
            return stream_async(begin, lambda: wrapped(*args, **kwargs))

        return cast(F, wrapper(function))

    if func is None:
        return decorate
    return decorate(func)


class observe:
    """Monitor code that is not one function, as a sync or async context manager.

    Example::

        with modeltel.observe(model="fraud", version="3.1.0") as p:
            p.record_input(X)
            y = clf.predict(X)
            p.record_output(y)

    An exception inside the block is recorded on the span and re-raised unchanged.
    ``model`` may also be a model object (its registration and ``name``/``version``
    attributes are used). The keyword options are those of :func:`monitor`.
    """

    __slots__ = ("_options", "_model_object", "_prediction")

    def __init__(self, model: Any = None, version: str | None = None, **options: Unpack[ObserveArgs]) -> None:
        is_name = model is None or isinstance(model, str)
        self._model_object = None if is_name else model
        self._options = Options.create(
            "modeltel.observe", model=model if is_name else None, version=version, **options
        )
        self._prediction: Prediction | None = None

    def __enter__(self) -> Prediction:
        self._prediction = Prediction(self._options, self._model_object)
        return self._prediction.__enter__()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._prediction is not None:
            self._prediction.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Prediction:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)
