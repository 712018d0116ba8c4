"""One sentinel case as a real process: `python _sentinel_app.py CASE`.

Exports over OTLP/HTTP to whatever OTEL_EXPORTER_OTLP_ENDPOINT says (the test's loopback
capture), writes its console lines to stdout and modeltel's own log to stderr, and shuts down
cleanly. Every case puts the sentinel number and string where a user's data would be.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd

import modeltel

NUMBER = 7002.123456789
TEXT = "Zq7SentinelQx"
#: Only the raw-capture case uses it, in a redacted field: it must never leave either.
REDACTED = "Rd4RedactedKp"


def _plain(X):
    return 0.5


def case_single_dict() -> None:
    modeltel.monitor(model="m")(_plain)({"income": NUMBER, "city": TEXT})


def case_single_numpy() -> None:
    modeltel.monitor(model="m")(_plain)(np.array([NUMBER, 1.0, 2.0]))


def case_single_list() -> None:
    modeltel.monitor(model="m")(_plain)([NUMBER, 3.0])


def case_batch_numpy() -> None:
    # two rows: a min/max per feature would give every value
    modeltel.monitor(model="m")(lambda X: np.array([0.1, 0.2]))(np.array([[NUMBER, 1.0], [2.0, 3.0]]))


def case_batch_pandas() -> None:
    frame = pd.DataFrame({"income": [NUMBER, 2.0, 3.0], "city": [TEXT, "a", "b"]})
    modeltel.monitor(model="m")(lambda X: np.zeros(len(X)))(frame)


def case_batch_records() -> None:
    rows = [{"income": NUMBER, "city": TEXT}, {"income": 1.0, "city": "x"}]
    modeltel.monitor(model="m")(lambda X: [0.0, 1.0])(rows)


def case_batch_dict_columns() -> None:
    modeltel.monitor(model="m")(lambda X: [0.0, 1.0])({"income": [NUMBER, 1.0], "city": [TEXT, "y"]})


def case_output_single() -> None:
    modeltel.monitor(model="m")(lambda X: NUMBER)({"a": 1.0})


def case_output_batch() -> None:
    modeltel.monitor(model="m")(lambda X: np.array([NUMBER, 1.0]))(np.ones((2, 2)))


def case_output_labels() -> None:
    modeltel.monitor(model="m")(lambda X: [TEXT, "other"])(np.ones((2, 2)))


def case_exception() -> None:
    @modeltel.monitor(model="m")
    def predict(X):
        raise ValueError(f"bad row {X} {NUMBER} {TEXT}")

    try:
        predict({"income": NUMBER, "city": TEXT})
    except ValueError:
        pass


def case_unseen_category() -> None:
    train = pd.DataFrame({"city": ["a", "b"] * 50, "income": np.linspace(0, 10, 100)})
    baseline = modeltel.Baseline.from_data(train, model="m", version="1")
    predict = modeltel.monitor(model="m", version="1", baseline=baseline)(lambda X: np.zeros(len(X)))
    predict(pd.DataFrame({"city": [TEXT, "a"], "income": [NUMBER, 1.0]}))
    predict({"city": TEXT, "income": NUMBER})


def case_projection() -> None:
    """A row whose first multivariate projection is the sentinel number (its inputs are not)."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"income": rng.normal(50, 10, 400), "age": rng.normal(40, 5, 400), "rate": rng.uniform(0, 1, 400)})
    baseline = modeltel.Baseline.from_data(train, model="m", version="1")
    proj = baseline.projection
    row = np.asarray(proj.mean) + NUMBER * np.asarray(proj.scale) * np.asarray(proj.directions[0])
    assert abs(proj.project(row[None, :])[0][0, 0] - NUMBER) < 1e-6
    predict = modeltel.monitor(model="m", version="1", baseline=baseline)(lambda X: np.zeros(len(X)))
    record = dict(zip(proj.columns, row.tolist()))
    predict(record)
    predict(pd.DataFrame([record, {**record, "rate": 0.5}]))


def case_baseline_extremes() -> None:
    # the in-band baseline: the sentinel is the training max of income (a min/max would give
    # it) and a rare training label beyond the 32 top categories (its tail bucket only)
    rng = np.random.default_rng(0)
    income = np.append(rng.uniform(0.0, 10.0, 999), NUMBER)
    city = [f"c{i % 40}" for i in range(999)] + [TEXT]
    baseline = modeltel.Baseline.from_data(pd.DataFrame({"income": income, "city": city}), model="m", version="1")
    predict = modeltel.monitor(model="m", version="1", baseline=baseline)(lambda X: np.zeros(len(X)))
    predict(pd.DataFrame({"city": ["c1", "c2"], "income": [1.0, 2.0]}))


def case_internal_error() -> None:
    class Hostile(list):
        def __len__(self) -> int:
            raise RuntimeError(f"length of {TEXT} {NUMBER}")

    modeltel.monitor(model="m")(_plain)(Hostile([NUMBER]))


def case_keys_are_data() -> None:
    predict = modeltel.monitor(model="m", feature_names="hash")(_plain)
    predict({TEXT: 1.0, "word": 2.0})
    predict(pd.DataFrame({TEXT: [1.0, 2.0], "word": [3.0, 4.0]}))


def case_raw_capture_on() -> None:
    predict = modeltel.monitor(model="m", capture_raw=True, raw_sample_rate=1.0, redact=["ssn"])(lambda X: 0.5)
    predict({"income": NUMBER, "city": TEXT, "ssn": REDACTED})


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    modeltel.configure(service_name="sentinel")
    globals()[f"case_{sys.argv[1]}"]()
    modeltel.shutdown()


if __name__ == "__main__":
    main()
