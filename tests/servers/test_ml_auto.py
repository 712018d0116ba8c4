"""ML-library auto-instrumentation: one predict span per model call, names and versions,
nested calls, training not counted, uninstrument restores the libraries exactly."""

from __future__ import annotations

import numpy as np
import pytest

from modeltel.instrumentation import ModeltelInstrumentor, register_model
from modeltel.testing import capture


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture
def instrumented():
    instrumentor = ModeltelInstrumentor()
    instrumentor.instrument(configure=False, web=False)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def _predict_spans(cap):
    return [s for s in cap.spans if s.name.startswith("predict ")]


def test_sklearn_estimator_predict_gives_one_span_with_class_name_and_input_summary(instrumented, data):
    from sklearn.linear_model import LogisticRegression

    X, y = data
    with capture() as cap:
        clf = LogisticRegression().fit(X, y)  # training: not a prediction
        assert not _predict_spans(cap)
        out = clf.predict_proba(X[:10])
    assert out.shape == (10, 2)
    (span,) = _predict_spans(cap)
    assert span.name == "predict LogisticRegression"
    assert span.attributes["ml.model.method"] == "predict_proba"
    # No version given: one detected from the fitted model's content.
    assert span.attributes["ml.model.version"].startswith("sha-")
    assert span.attributes["ml.input.rows"] == 10
    assert span.attributes["ml.input.features"] == 4
    (point,) = cap.metric_points("ml.prediction.duration")
    assert point.count == 1 and dict(point.attributes)["ml.model.name"] == "LogisticRegression"


def test_detected_version_differs_between_fitted_models_and_survives_a_pickle(instrumented, data):
    """Two services each serving a LogisticRegression must not be merged into one model:
    the detected version is a hash of the fitted state, equal for the same model reloaded."""
    import pickle

    from sklearn.linear_model import LogisticRegression

    X, y = data
    first = LogisticRegression().fit(X, y)
    other = LogisticRegression(C=0.01).fit(X, y)
    reloaded = pickle.loads(pickle.dumps(first))
    with capture() as cap:
        for model in (first, other, reloaded):
            model.predict(X[:3])
    versions = [s.attributes["ml.model.version"] for s in _predict_spans(cap)]
    assert versions[0] != versions[1]
    assert versions[0] == versions[2]


def test_sklearn_pipeline_gives_one_span_named_after_its_final_step(instrumented, data):
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    pipe = make_pipeline(StandardScaler(), PCA(n_components=3), RandomForestClassifier(n_estimators=5, random_state=0))
    with capture() as cap:
        pipe.fit(X, y)
        pipe.predict(X[:7])
        pipe.predict_proba(X[:7])
    spans = _predict_spans(cap)
    assert [s.name for s in spans] == ["predict RandomForestClassifier"] * 2
    assert [s.attributes["ml.model.method"] for s in spans] == ["predict", "predict_proba"]
    # inner transform/predict calls of the steps added no spans and no metric points
    (point,) = cap.metric_points("ml.prediction.duration")
    assert point.count == 2


def test_sklearn_transform_is_instrumented_only_on_pipelines(instrumented, data):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = data
    scaler = StandardScaler().fit(X)
    embed = make_pipeline(StandardScaler(), PCA(n_components=2)).fit(X)
    with capture() as cap:
        scaler.transform(X[:5])  # a preprocessing step on its own: not a model call
        embed.transform(X[:5])
    (span,) = _predict_spans(cap)
    assert span.name == "predict PCA" and span.attributes["ml.model.method"] == "transform"


def test_registered_name_and_version_win_and_env_version_applies(instrumented, data, monkeypatch):
    from sklearn.tree import DecisionTreeClassifier

    X, y = data
    named = register_model(DecisionTreeClassifier().fit(X, y), name="churn", version="2.0.1")
    plain = DecisionTreeClassifier().fit(X, y)
    plain.version = "0.9"  # a version attribute on the model object
    with capture() as cap:
        named.predict(X[:3])
        plain.predict(X[:3])
    with capture(model_version="7.7.7") as cap_env:
        DecisionTreeClassifier().fit(X, y).predict(X[:3])
    a, b = _predict_spans(cap)
    assert (a.name, a.attributes["ml.model.version"]) == ("predict churn", "2.0.1")
    assert (b.name, b.attributes["ml.model.version"]) == ("predict DecisionTreeClassifier", "0.9")
    (c,) = _predict_spans(cap_env)
    assert c.attributes["ml.model.version"] == "7.7.7"


def test_estimator_classes_defined_after_instrumenting_are_covered(instrumented, data):
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Threshold(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.array([0, 1])
            return self

        def predict(self, X):
            return (np.asarray(X)[:, 0] > 0).astype(int)

    X, y = data
    with capture() as cap:
        model = Threshold().fit(X, y)
        model.predict(X[:4])
        model.score(X, y)  # evaluation calls predict inside: not counted
    (span,) = _predict_spans(cap)
    assert span.name == "predict Threshold"


def test_model_call_inside_monitor_adds_no_span(instrumented, data):
    import modeltel
    from sklearn.linear_model import LogisticRegression

    X, y = data
    clf = LogisticRegression().fit(X, y)

    @modeltel.monitor(model="outer", version="1")
    def predict(rows):
        return clf.predict(rows)

    with capture() as cap:
        predict(X[:5])
    assert [s.name for s in _predict_spans(cap)] == ["predict outer"]


def test_xgboost_sklearn_api_and_booster_give_one_span_each(instrumented, data):
    import xgboost as xgb

    X, y = data
    with capture() as cap:
        model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
        model.predict_proba(X[:6])  # calls Booster.inplace_predict/predict inside
        booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3)
        booster.predict(xgb.DMatrix(X[:8]))
        booster.inplace_predict(X[:9])
    spans = _predict_spans(cap)
    assert [s.name for s in spans] == ["predict XGBClassifier", "predict xgboost.Booster", "predict xgboost.Booster"]
    assert spans[1].attributes["ml.input.rows"] == 8
    assert spans[1].attributes["ml.input.features"] == X.shape[1]
    assert spans[2].attributes["ml.input.rows"] == 9


def test_lightgbm_sklearn_api_and_booster(instrumented, data):
    import lightgbm as lgb

    X, y = data
    with capture() as cap:
        model = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
        model.predict(X[:4])
        register_model(model.booster_, name="lgb-native", version="5")
        model.booster_.predict(X[:3])
    spans = _predict_spans(cap)
    assert [s.name for s in spans] == ["predict LGBMClassifier", "predict lgb-native"]
    assert spans[1].attributes["ml.model.version"] == "5"
    assert spans[1].attributes["ml.input.rows"] == 3


def test_onnxruntime_session_run_is_one_span_with_input_and_output(instrumented, data):
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    X, y = data
    X = X.astype(np.float32)
    onx = to_onnx(LogisticRegression().fit(X, y), X[:1], options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    register_model(session, version="1.0.0")
    with capture(log_sample_rate=1.0) as cap:
        labels, probabilities = session.run(None, {session.get_inputs()[0].name: X[:12]})
    assert labels.shape == (12,) and probabilities.shape == (12, 2)
    (span,) = _predict_spans(cap)
    assert span.name == "predict ONNX(LogisticRegression)"  # the graph name skl2onnx wrote
    assert span.attributes["ml.model.method"] == "run"
    assert span.attributes["ml.model.version"] == "1.0.0"
    assert span.attributes["ml.input.rows"] == 12
    (record,) = cap.logs
    assert record["output"]["rows"] == 12


def test_model_errors_propagate_unchanged_with_an_error_span(instrumented, data):
    from sklearn.linear_model import LogisticRegression

    X, y = data
    clf = LogisticRegression().fit(X, y)
    with capture() as cap:
        with pytest.raises(ValueError) as info:
            clf.predict(X[:, :2])  # wrong number of features
    assert "features" in str(info.value)
    (span,) = _predict_spans(cap)
    assert span.status.status_code.name == "ERROR"
    (point,) = cap.metric_points("ml.prediction.duration")
    assert dict(point.attributes)["error.type"] == "ValueError"
    assert [r["level"] for r in cap.logs] == ["error"]


def test_uninstrument_restores_every_method_and_hook(data):
    import lightgbm
    import onnxruntime
    import sklearn.base
    import xgboost
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    before = {
        "lr": LogisticRegression.__dict__["predict_proba"],
        "pipe": Pipeline.__dict__["predict"],
        "fit": LogisticRegression.__dict__["fit"],
        "xgb": xgboost.Booster.__dict__["predict"],
        "lgb": lightgbm.Booster.__dict__["predict"],
        "ort": onnxruntime.capi.onnxruntime_inference_collection.Session.__dict__["run"],
    }
    had_hook = "__init_subclass__" in sklearn.base.BaseEstimator.__dict__
    instrumentor = ModeltelInstrumentor()
    instrumentor.instrument(configure=False, web=False)
    assert LogisticRegression.__dict__["predict_proba"] is not before["lr"]
    instrumentor.uninstrument()
    after = {
        "lr": LogisticRegression.__dict__["predict_proba"],
        "pipe": Pipeline.__dict__["predict"],
        "fit": LogisticRegression.__dict__["fit"],
        "xgb": xgboost.Booster.__dict__["predict"],
        "lgb": lightgbm.Booster.__dict__["predict"],
        "ort": onnxruntime.capi.onnxruntime_inference_collection.Session.__dict__["run"],
    }
    assert all(after[k] is before[k] for k in before)
    assert ("__init_subclass__" in sklearn.base.BaseEstimator.__dict__) == had_hook
    X, y = data
    with capture() as cap:
        LogisticRegression().fit(X, y).predict(X[:3])
    assert not _predict_spans(cap)


def test_libraries_can_be_chosen_and_unknown_names_are_an_error(data):
    from sklearn.linear_model import LogisticRegression

    instrumentor = ModeltelInstrumentor()
    with pytest.raises(ValueError, match="unknown libraries"):
        instrumentor.instrument(libraries=["sklearn", "tensorflo"], configure=False, web=False)
    instrumentor.uninstrument()
    instrumentor.instrument(libraries=["xgboost"], configure=False, web=False)
    try:
        X, y = data
        with capture() as cap:
            LogisticRegression().fit(X, y).predict(X[:3])
        assert not _predict_spans(cap)
    finally:
        instrumentor.uninstrument()


def test_torch_module_in_eval_mode_gives_one_span_and_training_mode_none(instrumented):
    """Runs only where torch is already installed (make test never installs it)."""
    torch = pytest.importorskip("torch")

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    x = torch.randn(5, 4)
    with capture() as cap:
        model.train()
        model(x)
        model.eval()
        with torch.no_grad():
            model(x)
    (span,) = _predict_spans(cap)
    assert span.name == "predict Sequential"  # the submodules nested inside: no spans
    assert span.attributes["ml.input.rows"] == 5


def test_opentelemetry_suppress_instrumentation_also_suppresses_predictions(instrumented, data):
    from opentelemetry.instrumentation.utils import suppress_instrumentation
    from sklearn.linear_model import LogisticRegression

    X, y = data
    clf = LogisticRegression().fit(X, y)
    with capture() as cap:
        with suppress_instrumentation():
            clf.predict(X[:2])
        clf.predict(X[:2])
    assert len(_predict_spans(cap)) == 1


def test_absent_libraries_are_skipped_quietly():
    """In a process where XGBoost, LightGBM, ONNX Runtime and torch cannot be imported."""
    import subprocess
    import sys

    code = """
import importlib.abc
import sys

BLOCKED = {"xgboost", "lightgbm", "onnxruntime", "torch"}


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from modeltel.instrumentation import ModeltelInstrumentor
from modeltel.instrumentation._ml import patched
ModeltelInstrumentor().instrument(configure=False, web=False)
import numpy as np
from sklearn.linear_model import LogisticRegression
LogisticRegression().fit(np.eye(4), [0, 1, 0, 1]).predict(np.eye(4))
for name in ("xgboost", "onnxruntime"):
    try:
        __import__(name)
    except ImportError:
        pass
assert patched() == {"sklearn"}, patched()
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr
    # The process configures nothing, so modeltel's one documented notice is the only line it may write.
    stderr = "\n".join(line for line in result.stderr.splitlines() if "modeltel: nothing is configured" not in line)
    assert "Traceback" not in stderr and "modeltel" not in stderr


def test_string_classes_of_a_classifier_are_in_clear_and_other_labels_stay_hashed(instrumented):
    """The model's own vocabulary (classes_) is not user data: its output classes are readable
    in distributions and the log record; a string that is not one of them stays hashed."""
    from sklearn.tree import DecisionTreeClassifier

    X = [[0.0], [1.0], [2.0], [3.0]]
    clf = DecisionTreeClassifier().fit(X, ["setosa", "setosa", "virginica", "virginica"])
    with capture(log_sample_rate=1.0) as cap:
        clf.predict([[0.5], [2.5]])
    (log,) = cap.logs
    assert log["output"]["classes"] == {"setosa": 1, "virginica": 1}
    store = cap.store.collect()
    labels = {p.category for p in store.categories if p.role == "output"}
    assert labels == {"setosa", "virginica"}

    import modeltel

    with capture(log_sample_rate=1.0) as cap:
        with modeltel.observe("labels", "1") as p:
            p.record_output(["setosa-like free text"])  # no vocabulary here: hashed
    (log,) = cap.logs
    (label,) = log["output"]["classes"]
    assert label.startswith("#")
