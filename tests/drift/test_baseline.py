"""Baselines: edges, counts, special columns, input types, persistence and chunked building."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from modeltel._baseline import QUANTILES, Baseline, BaselineError


def _independent_counts(edges, x):
    """OTLP upper-inclusive bucket counts via pandas.cut(right=True), not our code."""
    bins = [-np.inf, *edges, np.inf]
    return pd.cut(pd.Series(x), bins=bins, right=True).value_counts(sort=False).tolist()


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    n = 20000
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 1.0, n),
            "age": rng.normal(40, 12, n),
            "country": rng.choice(["fr", "de", "us", "uk"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "rooms": rng.integers(1, 6, n),
            "flag": rng.random(n) < 0.3,
        }
    )


def test_numeric_edges_are_20_quantile_bins_plus_tail_edges(frame):
    """A continuous feature gets edges at 5%..95% and the 0.1/1/99/99.9% quantiles; counts are exact."""
    b = Baseline.from_data(frame, model="m", version="1")
    fb = b.features["age"]
    assert fb.kind == "numeric" and not fb.discrete
    assert len(fb.edges) == len(QUANTILES) == 23
    np.testing.assert_allclose(fb.edges, np.quantile(frame["age"], QUANTILES))
    assert fb.counts == _independent_counts(fb.edges, frame["age"])
    assert fb.count == sum(fb.counts) == len(frame)
    assert fb.outlier_low == pytest.approx(np.quantile(frame["age"], 0.001))
    assert fb.outlier_high == pytest.approx(np.quantile(frame["age"], 0.999))
    assert fb.min == frame["age"].min() and fb.max == frame["age"].max()
    assert fb.mean == pytest.approx(frame["age"].mean(), rel=1e-12)
    assert fb.std == pytest.approx(frame["age"].std(ddof=0), rel=1e-10)


def test_few_distinct_values_are_discrete_with_one_bucket_per_value(frame):
    """rooms (5 values) gets edges at its values plus one just below the smallest."""
    fb = Baseline.from_data(frame, model="m", version="1").features["rooms"]
    assert fb.discrete
    assert fb.edges[1:] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert fb.edges[0] < 1.0 and fb.counts[0] == 0 and fb.counts[-1] == 0
    assert fb.counts[1:-1] == frame["rooms"].value_counts().sort_index().tolist()


def test_constant_ties_infinities_and_all_null_columns():
    """Constant: one value bucket; ties: deduplicated edges; inf in outer buckets; all-null: no edges."""
    n = 1000
    rng = np.random.default_rng(1)
    tied = np.where(rng.random(n) < 0.5, 0.0, rng.exponential(1.0, n))
    with_inf = rng.normal(size=n)
    with_inf[:3] = np.inf
    with_inf[3] = -np.inf
    with_inf[4:10] = np.nan
    df = pd.DataFrame({"const": 7.0, "tied": tied, "inf": with_inf, "empty": np.nan})
    b = Baseline.from_data(df, model="m", version="1")
    const = b.features["const"]
    assert const.counts == [0, n, 0] and const.edges[1] == 7.0 and const.std == 0.0
    ti = b.features["tied"]
    assert len(ti.edges) == len(set(ti.edges)) < 23
    assert ti.counts == _independent_counts(ti.edges, tied)
    assert ti.counts[ti.edges.index(0.0)] >= 0.5 * n - 60
    inf = b.features["inf"]
    assert inf.inf_count == 4 and inf.null_count == 6 and inf.count == n - 6
    assert np.isfinite(inf.max) and np.isfinite(inf.mean)
    assert inf.counts[-1] >= 3 and inf.counts[0] >= 1 and sum(inf.counts) == n - 6
    empty = b.features["empty"]
    assert empty.edges == [] and empty.counts == [0] and empty.null_rate == 1.0 and empty.min is None
    json.loads(json.dumps(b.to_dict(), allow_nan=False))  # serialisable: no NaN in the file


def test_categorical_top_k_with_other_bools_and_named_numeric(frame):
    """Strings and bools are categorical, top-K by frequency, the rest in __other__ (last).
    With more labels than K, the top is chosen on a random half of the rows and counted on the
    other half (counts that chose their labels are inflated); with at most K, every row counts."""
    b = Baseline.from_data(frame, model="m", version="1", max_categories=3, categorical=["rooms"])
    c = b.features["country"]
    assert c.kind == "categorical" and c.categories == ["fr", "de", "us"]
    vc = frame["country"].value_counts()
    assert sum(c.counts) == c.count and abs(c.count - len(frame) / 2) < 4 * (len(frame) / 4) ** 0.5
    for got, label in zip(c.counts, ["fr", "de", "us", "uk"]):
        assert abs(got - vc[label] / 2) < 4 * (vc[label] / 4) ** 0.5 and got != vc[label]
    assert Baseline.from_data(frame, model="m", version="1", max_categories=4).features["country"].counts == [
        vc["fr"], vc["de"], vc["us"], vc["uk"], 0
    ]
    assert b.features["flag"].categories == ["false", "true"] and b.features["flag"].counts[-1] == 0
    rooms = b.features["rooms"]
    assert rooms.kind == "categorical" and rooms.dtype == "numeric-as-category"
    assert set(rooms.categories) <= {"1", "2", "3", "4", "5"}
    assert list(b.features) == list(frame.columns)  # input order kept
    schema = b.schema["features"]
    assert [s["name"] for s in schema] == list(frame.columns)
    assert schema[1]["min"] == frame["age"].min()


def test_predictions_and_targets_are_named_like_the_sdk(frame):
    """1-D scores -> 'prediction'; 2-D -> 'prediction[i]'; class labels categorical; targets 'target'."""
    rng = np.random.default_rng(2)
    proba = rng.random((len(frame), 2))
    labels = rng.integers(0, 2, len(frame))
    b = Baseline.from_data(frame, model="m", version="1", predictions=proba, targets=labels)
    assert list(b.predictions) == ["prediction[0]", "prediction[1]"]
    assert b.predictions["prediction[0]"].kind == "numeric"
    assert list(b.targets) == ["target"] and b.targets["target"].kind == "categorical"
    b1 = Baseline.from_data(frame, model="m", version="1", predictions=proba[:, 0])
    assert list(b1.predictions) == ["prediction"]


@pytest.mark.parametrize("convert", ["numpy", "polars", "pyarrow", "records"])
def test_other_input_types_give_the_same_distributions(frame, convert):
    """numpy, polars, pyarrow and records inputs give the pandas baseline's edges and counts."""
    num = frame[["amount", "age"]].iloc[:2000]
    ref = Baseline.from_data(num, model="m", version="1")
    if convert == "numpy":
        other = Baseline.from_data(num.to_numpy(), model="m", version="1", feature_names=["amount", "age"])
    elif convert == "polars":
        other = Baseline.from_data(pl.from_pandas(num), model="m", version="1")
    elif convert == "pyarrow":
        other = Baseline.from_data(pa.Table.from_pandas(num, preserve_index=False), model="m", version="1")
    else:
        other = Baseline.from_data(num.to_dict("records"), model="m", version="1")
    for name in ("amount", "age"):
        assert other.features[name].edges == ref.features[name].edges
        assert other.features[name].counts == ref.features[name].counts
    assert other.id == ref.id


def test_save_load_round_trip_and_content_hash(frame, tmp_path):
    """save/load keeps everything; the id is a content hash independent of creation time."""
    b = Baseline.from_data(frame, model="m", version="1")
    again = Baseline.from_data(frame, model="m", version="1")
    again.created_at = "2000-01-01T00:00:00Z"
    assert again.id == b.id and len(b.id) == 16
    other = Baseline.from_data(frame, model="m", version="2")
    assert other.id != b.id
    path = b.save(tmp_path / "b.json")
    loaded = Baseline.load(path)
    assert loaded.to_dict() == b.to_dict()
    assert loaded.features["country"].categories == b.features["country"].categories
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 2 and doc["id"] == b.id and doc["rows"] == len(frame)


def test_bad_files_give_clear_errors(frame, tmp_path):
    """Not JSON, not a baseline, modified, newer format, missing file: each a clear BaselineError."""
    b = Baseline.from_data(frame.iloc[:500], model="m", version="1")
    good = b.to_dict()
    cases = {
        "notjson.json": ("{oops", "invalid JSON"),
        "other.json": (json.dumps({"hello": 1}), "no schema_version"),
        "newer.json": (json.dumps({**good, "schema_version": 99}), "newer modeltel"),
        "edited.json": (json.dumps({**good, "rows": 1}), "modified"),
        "counts.json": (json.dumps({**good, "features": [{**good["features"][0], "counts": [1]}]}), "counts"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(BaselineError, match=message):
            Baseline.load(tmp_path / name)
    with pytest.raises(BaselineError, match="cannot read"):
        Baseline.load(tmp_path / "missing.json")


def test_chunked_sources_match_in_memory(frame):
    """A list of chunks (read twice) gives the in-memory edges and counts exactly."""
    whole = Baseline.from_data(frame, model="m", version="1")
    chunks = [frame.iloc[i : i + 3000] for i in range(0, len(frame), 3000)]
    seen = []
    chunked = Baseline.from_data(chunks, model="m", version="1", progress=seen.append)
    assert sum(seen) == 2 * len(frame)  # two passes reported
    for name, fb in whole.features.items():
        assert chunked.features[name].edges == fb.edges
        assert chunked.features[name].counts == fb.counts
        if fb.kind == "numeric":
            assert chunked.features[name].std == pytest.approx(fb.std, rel=1e-12)


def test_one_shot_iterator_with_small_sample_estimates_counts(frame):
    """A generator is read once; with a sample smaller than the data the counts are estimated."""
    gen = (frame.iloc[i : i + 4000] for i in range(0, len(frame), 4000))
    b = Baseline.from_data(gen, model="m", version="1", sample_size=5000)
    fb = b.features["age"]
    assert fb.count == len(frame)
    assert abs(sum(fb.counts) - len(frame)) <= len(fb.counts)
    share = np.asarray(fb.counts[2:-2]) / len(frame)  # the 5% bins
    assert np.all(np.abs(share - 0.05) < 0.015)


def test_missing_model_or_empty_data_or_unknown_categorical_is_an_error(frame):
    """Building needs model/version, rows, and categorical= names that exist."""
    with pytest.raises(BaselineError, match="model"):
        Baseline.from_data(frame, model="", version="1")
    with pytest.raises(BaselineError, match="unknown"):
        Baseline.from_data(frame, model="m", version="1", categorical=["nope"])
    with pytest.raises(BaselineError):
        Baseline.from_data(object(), model="m", version="1")


def test_bad_inputs_give_a_clear_baseline_error_or_a_documented_treatment():
    """Duplicate names, complex numbers, integers beyond 2**53 and timezone-aware datetimes are
    a BaselineError naming the column; values beyond 1e154 build a baseline whose display
    mean/std are None (their squares overflow) and whose file saves and loads."""
    bad = {
        "duplicate": (pd.DataFrame(np.arange(600.0).reshape(300, 2), columns=["a", "a"]), "duplicate column"),
        "complex": (pd.DataFrame({"z": np.arange(300) + 1j}), "complex"),
        "complex array": (np.ones((10, 2), dtype=complex), "complex"),
        "int64 id": (pd.DataFrame({"id": np.arange(2**60, 2**60 + 300, dtype=np.int64)}), r"2\*\*53"),
        "tz-aware": (pd.DataFrame({"t": pd.date_range("2026-01-01", periods=300, freq="h", tz="UTC")}), "timezone"),
    }
    for label, (data, message) in bad.items():
        with pytest.raises(BaselineError, match=message):
            Baseline.from_data(data, model="m", version="1")
        assert label
    huge = Baseline.from_data(pd.DataFrame({"x": [1e155, -1e155, 3e154] * 100}), model="m", version="1")
    fb = huge.features["x"]
    assert fb.std is None and fb.min == -1e155 and fb.max == 1e155
    assert Baseline.from_dict(huge.to_dict()).id == huge.id


def _zipf_labels(rng, n, move_tail=False):
    """10,000 labels with Zipf shares; ``move_tail``: the rows beyond the 32 most frequent
    labels move onto 100 rare labels (the top labels' shares stay as they were)."""
    labels = np.array([f"l{i}" for i in range(10_000)])
    p = 1.0 / np.arange(1, 10_001)
    out = rng.choice(labels, n, p=p / p.sum())
    if move_tail:
        tail = ~np.isin(out, labels[:32])
        out[tail] = rng.choice(labels[5000:5100], int(tail.sum()))
    return pd.DataFrame({"labels": out})


def test_labels_beyond_the_top_categories_are_kept_in_hashed_tail_buckets(tmp_path, monkeypatch):
    """The labels beyond max_categories are counted in 16 keyed-hash buckets (sum = __other__),
    saved and loaded with the same id; without tail_buckets the file has no tail field."""
    from modeltel._columns import TAIL_BUCKETS, tail_key_id, tail_label

    monkeypatch.delenv("MODELTEL_HASH_KEY", raising=False)  # this process's random key
    rng = np.random.default_rng(3)
    frame = _zipf_labels(rng, 5000)
    b = Baseline.from_data(frame, model="m", version="1")
    fb = b.features["labels"]
    assert len(fb.categories) == 32 and len(fb.tail_counts) == TAIL_BUCKETS
    assert sum(fb.tail_counts) == fb.counts[-1] > 0 and fb.tail_key == tail_key_id(None)
    counts = frame["labels"].value_counts()
    rare = counts[~counts.index.isin(fb.categories)]
    expected = [0] * TAIL_BUCKETS
    for label, n in rare.items():
        expected[int(tail_label(label, None, TAIL_BUCKETS)[len("__tail_"):-2])] += int(n)
    # the reference is a random half of the rows (the other half chose the top labels)
    assert all(abs(got - full / 2) <= 5 * (full / 4) ** 0.5 + 1 for got, full in zip(fb.tail_counts, expected))
    saved = json.loads(b.save(tmp_path / "b.json").read_text())
    assert saved["features"][0]["tail"] == {"key_id": fb.tail_key, "counts": fb.tail_counts}
    assert Baseline.load(tmp_path / "b.json").features["labels"].tail_counts == fb.tail_counts
    old = Baseline.from_data(frame, model="m", version="1", tail_buckets=0)
    assert "tail" not in old.to_dict()["features"][0] and old.id != b.id
    # a feature whose labels all fit in the top categories has no tail
    assert not Baseline.from_data(pd.DataFrame({"c": ["a", "b"] * 10}), model="m", version="1").features["c"].tail_counts
    broken = saved.copy()
    broken["features"][0]["tail"]["counts"][0] += 1
    with pytest.raises(BaselineError, match="tail counts"):
        Baseline.from_dict(broken)


def test_a_move_within_the_rare_labels_is_drift_only_with_the_tail_buckets(monkeypatch):
    """Production moving its rare-label rows onto 100 of the 10,000 labels keeps the
    __other__ share: one __other__ cell sees nothing, the tail buckets see it; without a
    move the tail buckets raise no alarm. A baseline hashed with another key falls back to
    __other__ on both sides."""
    from modeltel._baseline import ProductionHistograms
    from modeltel._drift import evaluate

    monkeypatch.setenv("MODELTEL_HASH_KEY", "a deployment's key")  # read when the baseline is built and used
    rng = np.random.default_rng(11)
    b = Baseline.from_data(_zipf_labels(rng, 5000), model="m", version="1")

    foreign = Baseline.from_dict(b.to_dict())
    foreign.features["labels"].tail_key = "another-key"  # as if built with another MODELTEL_HASH_KEY

    def flagged(baseline: Baseline, move: bool) -> int:
        hits = 0
        for _ in range(10):
            prod = ProductionHistograms(baseline)
            prod.add(_zipf_labels(rng, 1000, move))
            hits += evaluate(baseline.histograms(), prod.histograms()).features[0].drifted
        return hits

    assert flagged(b, move=True) >= 9
    assert flagged(b, move=False) <= 1
    assert flagged(foreign, move=True) <= 2
    assert foreign.features["labels"].histogram().tail == 0
    prod = ProductionHistograms(foreign)
    prod.add(_zipf_labels(rng, 100))
    assert prod.histograms()["labels"].tail == 0 and prod.histograms()["labels"].counts.size == 33
