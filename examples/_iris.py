"""The model the example servers serve: a scikit-learn classifier on the iris data.

``IRIS_MODEL_PATH`` names a joblib file to load (the tests train one and pass it);
without it a small logistic regression is trained at start-up (iris ships with
scikit-learn, nothing is downloaded).
"""

from __future__ import annotations

import os
from typing import Any

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SPECIES = ("setosa", "versicolor", "virginica")


def load_model() -> Any:
    path = os.environ.get("IRIS_MODEL_PATH")
    if path:
        import joblib

        return joblib.load(path)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
