"""The outcome names the SDK writes are the ones the Go connector reads (one value each)."""

from __future__ import annotations

import re
from pathlib import Path

from modeltel import _semconv as sc

GO = Path(__file__).resolve().parents[2] / "src" / "mlperformanceconnector" / "semconv.go"

# Python constant -> Go constant, for every name both sides use.
SHARED = {
    "EVENT_OUTCOME_PREDICTED": "eventPredicted",
    "EVENT_OUTCOME_OBSERVED": "eventObserved",
    "EVENT_PREDICTION": "eventPrediction",
    "ATTR_MODEL_NAME": "attrModelName",
    "ATTR_MODEL_VERSION": "attrModelVersion",
    "ATTR_OUTCOME_KEYS": "attrKeys",
    "ATTR_PREDICTION_CLASSES": "attrPredClasses",
    "ATTR_PREDICTION_SCORES": "attrPredScores",
    "ATTR_PREDICTION_VALUES": "attrPredValues",
    "ATTR_PREDICTION_PROBABILITIES": "attrPredProbs",
    "ATTR_PREDICTION_PROBABILITY_CLASSES": "attrProbClasses",
    "ATTR_OUTCOME_SEGMENTS": "attrSegments",
    "ATTR_OUTCOME_POSITIVE_CLASS": "attrPositiveClass",
    "ATTR_OUTCOME_LABELS": "attrLabels",
    "ATTR_OUTCOME_VALUES": "attrValues",
    "ATTR_REFERENCE_ACCURACY": "attrRefAccuracy",
    "ATTR_REFERENCE_MAE": "attrRefMAE",
    "ATTR_REFERENCE_SOURCE": "attrRefSource",
    "REFERENCE_SOURCE_BASELINE": "refSourceBaseline",
    "ATTR_CALIBRATION_SCORES": "attrCalScores",
    "ATTR_CALIBRATION_PROBABILITIES": "attrCalProbs",
    "ATTR_REFERENCE_LABELS": "attrRefLabels",
    "ATTR_REFERENCE_LABEL_COUNTS": "attrRefLabelCounts",
}


def test_python_and_go_outcome_names_agree():
    go = dict(re.findall(r'^\s+(\w+)\s+=\s+"([^"]+)"', GO.read_text(), flags=re.M))
    for py_name, go_name in SHARED.items():
        assert getattr(sc, py_name) == go[go_name], (py_name, go_name)
