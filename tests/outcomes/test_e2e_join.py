"""End to end: replicas of a classifier, a separate label service, a collector restart.

Three classifier processes send joinable predictions; a label process sends outcomes with
delays (10% never, some before their prediction, some twice, some for keys never predicted);
the collector (the real otelcol-modeltel with collector-config/outcomes.yaml and file_storage)
is stopped with SIGTERM between the two phases and started again. The connector's figures
must equal scikit-learn's on the rows that joined, to 1e-9 (ROC AUC within its stated
binning error and 0.005), its unmatched counts must be exact, and the labels of one segment
flip in phase 2 (concept drift): ml.performance.degraded fires for that segment only. The
estimate before labels (confidence-based, every prediction) tracks the realised accuracy of
a segment whose inputs shift while the model stays calibrated, and misses concept drift.
The replicas pass no reference=: each model's baseline (built with predictions and targets)
brings its reference accuracy and calibration in-band. A second model, churn, has concept
drift alone: mldrift in the same collector keeps its input features at no_drift while its
eu segment's ml.performance.degraded fires.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

import modeltel

from backends.test_datadog import _metric_refs
from e2e._collector import CONFIGS, free_port, log_records, metric_points, number
from modeltel._outcome_metrics import score_bins

HERE = Path(__file__).parent
SEGMENTS = ["eu", "us", "apac", "latam"]
REPLICAS, ROWS, TTL_S = 3, 400, 20
CHURN_ROWS = 200


def make_plan(path: Path) -> dict:
    rng = np.random.default_rng(16)
    rows, sends = [], []
    for phase in (1, 2):
        for replica in range(REPLICAS):
            for i in range(ROWS):
                key = f"p{phase}-r{replica}-{i}"
                segment = SEGMENTS[int(rng.integers(4))]
                # Covariate shift: in phase 2 "us" scores move up; the model stays calibrated.
                shift = 1.5 if phase == 2 and segment == "us" else 0.0
                score = float(1 / (1 + np.exp(-rng.normal(shift, 2.5))))
                y = int(rng.random() < score)
                if phase == 2 and segment == "eu":
                    y = 1 - y  # concept drift: same inputs and scores, the world changed
                u = rng.random()
                fate = "never" if u < 0.10 else "early" if u < 0.20 else "delayed"
                dup = fate == "delayed" and rng.random() < 0.05
                rows.append({"key": key, "phase": phase, "replica": replica, "segment": segment,
                             "score": score, "y": y, "fate": fate, "dup": dup})
                predicted_at = 1.5 + (i // 20) * 0.1
                if fate == "early":
                    sends.append({"phase": 1, "at": 0.0 if phase == 1 else 8.0, "key": key, "label": y})
                elif fate == "delayed":
                    at = round(predicted_at + float(rng.uniform(0.5, 4.0)), 1)
                    sends.append({"phase": phase, "at": at, "key": key, "label": y})
                    if dup:
                        sends.append({"phase": phase, "at": round(at + 1.0, 1), "key": key, "label": 1 - y})
    for i in range(20):
        sends.append({"phase": 2, "at": 0.0, "key": f"never-predicted-{i}", "label": 1})
    # "churn": concept drift alone. Its inputs keep the baseline's distribution in both
    # phases; in phase 2 the labels of eu flip. Every outcome comes, 1 s after its batch.
    churn = []
    for phase in (1, 2):
        for replica in range(REPLICAS):
            for i in range(CHURN_ROWS):
                segment = SEGMENTS[int(rng.integers(4))]
                score = float(1 / (1 + np.exp(-rng.normal(0.0, 2.5))))
                y = int(rng.random() < score)
                if phase == 2 and segment == "eu":
                    y = 1 - y
                key = f"c{phase}-r{replica}-{i}"
                churn.append({"key": key, "phase": phase, "replica": replica, "segment": segment, "score": score, "y": y})
                at = round(1.5 + (i // 10) * 0.1 + 1.0, 1)
                sends.append({"phase": phase, "at": at, "key": key, "label": y, "model": "churn"})
    plan = {"model": "fraud", "version": "3.1.0", "rows": rows, "sends": sends, "churn": churn,
            "baseline": str(make_baseline(path.parent / "fraud.json", "fraud", "3.1.0", 160)),
            "churn_baseline": str(make_baseline(path.parent / "churn.json", "churn", "1", 161))}
    path.write_text(json.dumps(plan))
    return plan


def make_baseline(path: Path, model: str, version: str, seed: int) -> Path:
    """A baseline from validation data drawn like phase 1 (calibrated scores), with the
    predictions and targets: it carries the reference accuracy and the calibration."""
    rng = np.random.default_rng(seed)
    n = 4000
    score = 1 / (1 + np.exp(-rng.normal(0.0, 2.5, n)))
    X = pd.DataFrame({"segment": rng.choice(SEGMENTS, n), "x": score})
    y = (rng.random(n) < score).astype(int)
    return modeltel.Baseline.from_data(X, model=model, version=version, predictions=np.column_stack([1 - score, score]),
                                       targets=y).save(path)


def run_phase(plan_path: Path, phase: int, endpoint: str) -> None:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "MODELTEL_EXPORTER": "otlp", "OTEL_BLRP_SCHEDULE_DELAY": "200", "MODELTEL_HASH_KEY": "e2e-outcomes"}
    procs = [
        subprocess.Popen([sys.executable, str(HERE / "_classifier.py"), "--plan", str(plan_path),
                          "--phase", str(phase), "--replica", str(r)], env=env, stdout=subprocess.DEVNULL)
        for r in range(REPLICAS)
    ]
    procs.append(subprocess.Popen([sys.executable, str(HERE / "_labels.py"), "--plan", str(plan_path),
                                   "--phase", str(phase)], env=env, stdout=subprocess.DEVNULL))
    for p in procs:
        assert p.wait(timeout=120) == 0


REGRESSION = """
import modeltel, numpy as np
from modeltel import _outcomes
modeltel.configure(service_name="price-api")
_outcomes.emit_joinable(model="price", version="1", prediction_id="r", output=np.array([10.0, 20.5, 31.0]),
                        keys=["a", "b", "c"], reference={"mae": 1.0})
modeltel.record_outcomes(["a", "b", "c"], [11.0, 20.0, 30.5], model="price", task="regression")
modeltel.shutdown()
"""


def send_regression(endpoint: str) -> None:
    """A regression model's three joined rows (MAE 2/3), so its metrics exist too."""
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "MODELTEL_EXPORTER": "otlp"}
    subprocess.run([sys.executable, "-c", REGRESSION], env=env, check=True, stdout=subprocess.DEVNULL, timeout=60)


def last_points(lines: list[dict], name: str) -> dict[tuple, float]:
    """The last exported value of each point of a metric, keyed by its sorted attributes."""
    out = {}
    for a, p in metric_points(lines, name):
        out[tuple(sorted((k, str(v)) for k, v in a.items()))] = p
    return out


def unmatched_reasons(outputs: list[list[dict]]) -> dict[str, float]:
    """ml.outcome.unmatched by reason, summed over versions, segments and collectors."""
    reasons: dict[str, float] = {}
    for lines in outputs:
        for k, p in last_points(lines, "ml.outcome.unmatched").items():
            reason = dict(k)["ml.outcome.reason"]
            reasons[reason] = reasons.get(reason, 0) + number(p)
    return reasons


def model_level(points: dict[tuple, dict], **extra: str) -> float:
    """The value of the point for the model as a whole (no ml.segment) with `extra` attributes."""
    want = {("ml.model.name", "fraud"), ("ml.model.version", "3.1.0"), *extra.items()}
    (value,) = [number(p) for k, p in points.items() if set(k) == want]
    return value


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_join_across_replicas_delays_duplicates_and_a_restart(start_collector, tmp_path):
    plan_path = tmp_path / "plan.json"
    plan = make_plan(plan_path)
    scrape = f"127.0.0.1:{free_port()}"
    collector = start_collector(
        "outcomes.yaml", OTELCOL_STORAGE_DIR=str(tmp_path / "storage"), MLPERF_TTL=f"{TTL_S}s",
        MLPERF_EMIT_INTERVAL="1s", MLPERF_MIN_SAMPLES="200", PROMETHEUS_EXPORTER_ENDPOINT=scrape,
        MLDRIFT_WINDOW="10m", MLDRIFT_SLOT_SIZE="1s", MLDRIFT_EMIT_INTERVAL="1s", MLDRIFT_MIN_SAMPLES="500",
    )
    run_phase(plan_path, 1, collector.http_endpoint)
    collector.stop()  # SIGTERM: pending predictions and early outcomes must survive
    collector.start()
    restored = re.findall(r'join state restored.*?"pending": (\d+)', collector.log.read_text())
    assert len(restored) == 2 and int(restored[1]) > 0, restored  # the second start read the state back
    run_phase(plan_path, 2, collector.http_endpoint)
    send_regression(collector.http_endpoint)

    rows = plan["rows"]
    joined = [r for r in rows if r["fate"] != "never"]
    never = len(rows) - len(joined)
    dups = sum(r["dup"] for r in rows)
    deadline = time.monotonic() + TTL_S + 30
    while True:  # the expired and unknown counts are final once every TTL ran out
        lines = collector.lines()
        reasons = unmatched_reasons([lines])
        if (reasons.get("expired") == never and reasons.get("unknown_key") == 20) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert reasons == {"expired": never, "unknown_key": 20, "duplicate": dups}, (reasons, never, dups)

    outcomes = sum(number(p) for k, p in last_points(lines, "ml.performance.outcomes").items() if ("ml.model.name", "fraud") in k)
    assert outcomes == len(joined)

    y = np.array([r["y"] for r in joined])
    score = np.array([r["score"] for r in joined])
    pred = (score >= 0.5).astype(int)
    gauges = {name: last_points(lines, f"ml.performance.{name}") for name in
              ("accuracy", "f1", "precision", "recall", "log_loss", "brier", "roc_auc", "roc_auc.error_bound",
               "pr_auc", "pr_auc.error_bound")}
    assert model_level(gauges["accuracy"]) == pytest.approx(metrics.accuracy_score(y, pred), abs=1e-9)
    assert model_level(gauges["log_loss"]) == pytest.approx(metrics.log_loss(y, score), abs=1e-9)
    assert model_level(gauges["brier"]) == pytest.approx(metrics.brier_score_loss(y, score), abs=1e-9)
    p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, labels=[0, 1], zero_division=0)
    for i, cls in enumerate(["0", "1"]):
        assert model_level(gauges["f1"], **{"ml.performance.class": cls}) == pytest.approx(f[i], abs=1e-9)
        assert model_level(gauges["precision"], **{"ml.performance.class": cls}) == pytest.approx(p[i], abs=1e-9)
        assert model_level(gauges["recall"], **{"ml.performance.class": cls}) == pytest.approx(r[i], abs=1e-9)
    assert model_level(gauges["f1"], **{"ml.performance.class": "macro"}) == pytest.approx(
        metrics.f1_score(y, pred, average="macro"), abs=1e-9)
    exact_auc = metrics.roc_auc_score(y, score)
    auc, bound = model_level(gauges["roc_auc"]), model_level(gauges["roc_auc.error_bound"])
    print(f"e2e join: {len(joined)} joined of {len(rows)} predictions, {never} expired, {dups} duplicates; "
          f"ROC AUC {auc:.6f} vs exact {exact_auc:.6f} (|error| {abs(auc - exact_auc):.2e}, bound {bound:.2e})")
    assert abs(auc - exact_auc) <= bound + 1e-12
    assert abs(auc - exact_auc) < 0.005
    # PR AUC: scikit-learn's average precision with the scores' histogram slots as thresholds.
    pr_auc = model_level(gauges["pr_auc"])
    assert pr_auc == pytest.approx(metrics.average_precision_score(y, score_bins(score)), abs=1e-9)
    exact_ap = metrics.average_precision_score(y, score)
    print(f"e2e join: PR AUC {pr_auc:.6f} vs exact {exact_ap:.6f} (bound {model_level(gauges['pr_auc.error_bound']):.2e})")
    assert abs(pr_auc - exact_ap) <= model_level(gauges["pr_auc.error_bound"]) + 1e-12

    # Estimated performance: exactly the expectation over every prediction of the segment
    # (labelled or not), through the calibration the baseline brought in-band; close to
    # realised where calibration holds (us: covariate shift), far from it under concept
    # drift (eu: labels flipped).
    baselines = {m: modeltel.Baseline.load(plan[k]).performance for m, k in (("fraud", "baseline"), ("churn", "churn_baseline"))}
    cal = baselines["fraud"]["calibration"]
    est = last_points(lines, "ml.performance.estimated.accuracy")
    acc = gauges["accuracy"]
    gaps = {}
    for seg in ("us", "eu"):
        s = np.array([r["score"] for r in rows if r["segment"] == seg])
        p_cal = np.interp(s, cal["scores"], cal["probabilities"])
        expected = np.mean(np.where(s > 0.5, p_cal, 1 - p_cal))
        got = model_level(est, **{"ml.segment": seg})
        assert got == pytest.approx(expected, abs=1e-9)
        realised = model_level(acc, **{"ml.segment": seg})
        n = sum(1 for r in joined if r["segment"] == seg)
        gaps[seg] = (got, realised, n)
    (est_us, real_us, n_us), (est_eu, real_eu, _) = gaps["us"], gaps["eu"]
    print(f"e2e join: estimated vs realised accuracy: us (covariate shift) {est_us:.4f} vs {real_us:.4f} "
          f"(|gap| {abs(est_us - real_us):.4f}, {n_us} joined); eu (concept drift) {est_eu:.4f} vs {real_eu:.4f}")
    assert abs(est_us - real_us) < 3 * np.sqrt(real_us * (1 - real_us) / n_us)  # within sampling noise
    assert est_eu - real_eu > 0.1  # the estimate cannot see concept drift

    mae = [number(p) for k, p in last_points(lines, "ml.performance.mae").items() if ("ml.model.name", "price") in k]
    assert mae == [pytest.approx(2 / 3, abs=1e-9)]

    # The shipped dashboard and alert rules query only names the real Prometheus export has.
    with urllib.request.urlopen(f"http://{scrape}/metrics", timeout=5) as r:
        exported = {line.split("{")[0].split(" ")[0] for line in r.read().decode().splitlines() if line.startswith("ml_")}
    for shipped in (CONFIGS / "dashboards" / "grafana-performance.json", CONFIGS / "alerts" / "modeltel-performance.rules.yml"):
        text = shipped.read_text()
        label_names = set(re.findall(r"\b(ml_[a-z0-9_]+)\s*(?:=~|!=|=)", text))
        label_names |= {n.strip() for group in re.findall(r"by \(([^)]*)\)", text) for n in group.split(",")}
        queried = set(re.findall(r"\b(ml_[a-z0-9_]+)", text)) - label_names
        assert queried and queried <= exported, (shipped.name, queried - exported)

    # The Datadog performance dashboard and monitors query only metrics and tags that arrive.
    tags: dict[str, set[str]] = {}
    for line in lines:
        for rm in line.get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    body = m.get("gauge") or m.get("sum") or m.get("histogram") or {}
                    for p in body.get("dataPoints", []):
                        tags.setdefault(m["name"], set()).update(kv["key"] for kv in p.get("attributes", []))
    refs = _metric_refs(CONFIGS / "dashboards" / "datadog-performance-dashboard.json",
                        CONFIGS / "dashboards" / "datadog-performance-monitors.json")
    for metric, keys in refs:
        assert metric in tags and keys | {"ml.model.name", "ml.model.version"} <= tags[metric], (metric, keys)

    events = [(rec["eventName"], {kv["key"]: next(iter(kv["value"].values())) for kv in rec.get("attributes", [])})
              for rec in log_records(lines) if rec.get("eventName", "").startswith("ml.performance.")]
    print("e2e join: events", [(e, a["ml.model.name"], a.get("ml.segment"), round(float(a["ml.performance.value"]), 3),
                                round(float(a["ml.performance.reference"]), 4)) for e, a in events])
    for model in ("fraud", "churn"):  # judged against the reference accuracy of its baseline
        mine = [(e, a) for e, a in events if a["ml.model.name"] == model]
        degraded_segments = {a.get("ml.segment") for e, a in mine if e == "ml.performance.degraded"}
        assert "eu" in degraded_segments, (model, events)
        assert not degraded_segments & {"us", "apac", "latam"}, (model, events)
        for _, a in mine:
            assert float(a["ml.performance.reference"]) == baselines[model]["metrics"]["accuracy"]

    # Concept drift alone (churn): the inputs never moved, so mldrift, in the same collector
    # with the same baseline, keeps every input feature at no_drift while performance fell.
    detected = {}
    for a, p in metric_points(lines, "ml.drift.detected"):
        detected[(a["ml.model.name"], a["ml.feature.name"], a.get("ml.feature.role"))] = number(p)
    churn_inputs = {f: v for (m, f, role), v in detected.items() if m == "churn" and role == "input"}
    fraud_inputs = {f: v for (m, f, role), v in detected.items() if m == "fraud" and role == "input"}
    print("e2e join: input drift detected, churn", churn_inputs, "fraud", fraud_inputs)
    assert set(churn_inputs) == {"segment", "x"} and set(churn_inputs.values()) == {0.0}, detected
    assert fraud_inputs.get("x") == 1.0, detected  # the covariate shift of fraud's us is seen
    started = [rec for rec in log_records(lines) if rec.get("eventName") == "ml.drift.started"
               and any(kv["key"] == "ml.model.name" and kv["value"].get("stringValue") == "churn" for kv in rec.get("attributes", []))]
    assert not started
