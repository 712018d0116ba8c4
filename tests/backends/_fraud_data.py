"""The fraud model's training data, shared by model_app.py (the server) and the tests that
send drifted copies of it. No side effects on import (model_app.py configures modeltel)."""

from __future__ import annotations

import numpy as np


def training_data(rows: int = 5000, seed: int = 7) -> np.ndarray:
    """What the model was trained on; the tests send drifted copies of it."""
    rng = np.random.default_rng(seed)
    return np.column_stack([
        rng.lognormal(mean=3.0, sigma=0.5, size=rows),  # amount
        rng.normal(40.0, 10.0, size=rows),  # age
        rng.uniform(0.0, 1.0, size=rows),  # score
    ])
