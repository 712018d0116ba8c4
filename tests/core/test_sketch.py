"""SketchStore: exponential and explicit-bucket histograms, categories, deltas, threads, fork."""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal.exponential_histogram.mapping.exponent_mapping import ExponentMapping
from opentelemetry.sdk.metrics._internal.exponential_histogram.mapping.logarithm_mapping import LogarithmMapping
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

from modeltel._columns import OTHER, TAIL_BUCKETS, hash_label, tail_label
from modeltel._config import Config
from modeltel._sketch import ROW_BUFFER, ROW_BUFFER_VALUES, SketchStore, exp_index
from modeltel._summary import summarize_input, summarize_output
from _baseline_standin import Baseline, FeatureBaseline
from _fork import in_child

CFG = Config()


def _record(store: SketchStore, obj, role: str = "input", config: Config = CFG, model: str = "m", version: str = "1"):
    summary = summarize_input(obj, config=config) if role == "input" else summarize_output(obj, config=config)
    store.record(model, version, role, summary)


def _by_feature(points):
    return {p.feature: p for p in points}


def _sdk_mapping(scale: int):
    return LogarithmMapping(scale) if scale > 0 else ExponentMapping(scale)


def _brute_force(values: np.ndarray, scale: int) -> tuple[dict[int, int], dict[int, int], int]:
    """Bucket counts per index, computed value by value with the OpenTelemetry SDK's mapping."""
    mapping = _sdk_mapping(scale)
    values = values[np.isfinite(values)]
    pos = Counter(mapping.map_to_index(float(v)) for v in values if v > 0)
    neg = Counter(mapping.map_to_index(float(-v)) for v in values if v < 0)
    return dict(pos), dict(neg), int((values == 0).sum())


def _buckets(offset: int, counts) -> dict[int, int]:
    return {offset + i: n for i, n in enumerate(counts) if n}


def _sdk_exponential_point(values: np.ndarray, max_size: int):
    """What the OpenTelemetry SDK's own exponential histogram aggregation makes of values."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        views=[View(instrument_name="h", aggregation=ExponentialBucketHistogramAggregation(max_size=max_size))],
    )
    hist = provider.get_meter("t").create_histogram("h")
    for v in values:
        hist.record(float(v))
    data = reader.get_metrics_data()
    provider.shutdown()
    return data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points[0]


DATASETS = {
    "normal": lambda rng: rng.normal(size=3000),
    "lognormal-wide": lambda rng: rng.lognormal(0, 6, size=3000),
    "narrow": lambda rng: rng.uniform(100.0, 100.5, size=3000),
    "powers-of-two": lambda rng: np.ldexp(1.0, rng.integers(-40, 40, size=3000)),
    "negative": lambda rng: -rng.exponential(5.0, size=3000),
    "with-zeros-nan-inf": lambda rng: np.concatenate([rng.normal(size=2000), [0.0] * 7, [np.nan] * 3, [np.inf, -np.inf]]),
}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_exponential_buckets_match_a_brute_force_count_with_the_sdk_mapping(name):
    """Every bucket count equals a value-by-value count with the SDK's index mapping."""
    values = DATASETS[name](np.random.default_rng(11))
    store = SketchStore()
    _record(store, values.reshape(-1, 1))
    (p,) = store.collect().exponential
    pos, neg, zeros = _brute_force(values, p.scale)
    assert _buckets(p.positive_offset, p.positive) == pos
    assert _buckets(p.negative_offset, p.negative) == neg
    assert p.zero_count == zeros
    finite = values[np.isfinite(values)]
    assert p.count == finite.size and p.sum == pytest.approx(finite.sum())
    assert math.isnan(p.min) and math.isnan(p.max)  # never sent: each is a real value
    assert len(p.positive) <= CFG.max_histogram_buckets and len(p.negative) <= CFG.max_histogram_buckets


@pytest.mark.parametrize("name", ["lognormal-wide", "narrow", "powers-of-two", "negative"])
@pytest.mark.parametrize("max_size", [20, 160])
def test_scale_and_buckets_equal_the_sdk_aggregation_for_one_signed_data(name, max_size):
    """For one-signed data, scale, offsets and counts are exactly what the SDK aggregation gives."""
    values = DATASETS[name](np.random.default_rng(3))
    store = SketchStore()
    _record(store, values.reshape(-1, 1), config=Config(max_histogram_buckets=max_size))
    (p,) = store.collect().exponential
    # The SDK's Histogram API takes non-negative values only: mirror negative data.
    sign = -1.0 if (values < 0).all() else 1.0
    sdk = _sdk_exponential_point(values * sign, max_size)
    assert p.scale == sdk.scale
    ours = (p.positive_offset, p.positive) if sign > 0 else (p.negative_offset, p.negative)
    assert _buckets(*ours) == _buckets(sdk.positive.offset, sdk.positive.bucket_counts)
    assert p.count == sdk.count
    assert math.isnan(p.min) and math.isnan(p.max)  # the SDK keeps them; modeltel never sends them


def test_merging_batches_downscales_to_fit_max_buckets():
    """A narrow batch then a wide one: the store downscales and counts stay exact at the new scale."""
    rng = np.random.default_rng(5)
    narrow = rng.uniform(1.0, 1.01, size=500)
    wide = rng.lognormal(0, 8, size=500)
    store = SketchStore()
    _record(store, narrow.reshape(-1, 1), config=Config(max_histogram_buckets=40))
    _record(store, wide.reshape(-1, 1), config=Config(max_histogram_buckets=40))
    (p,) = store.collect().exponential
    alone = SketchStore()
    _record(alone, narrow.reshape(-1, 1), config=Config(max_histogram_buckets=40))
    assert p.scale < alone.collect().exponential[0].scale  # it was downscaled
    both = np.concatenate([narrow, wide])
    pos, _, _ = _brute_force(both, p.scale)
    assert _buckets(p.positive_offset, p.positive) == pos
    assert len(p.positive) <= 40 and p.count == 1000


def test_single_rows_and_batches_bin_identically():
    """Buffered single records give the same histogram as the same rows recorded as one batch."""
    rng = np.random.default_rng(9)
    rows = rng.normal(10, 3, size=(300, 4))
    one_by_one, batched = SketchStore(), SketchStore()
    for r in rows:
        _record(one_by_one, {f"f{j}": float(v) for j, v in enumerate(r)})
    _record(batched, rows)
    a = _by_feature(one_by_one.collect().exponential)
    b = _by_feature(batched.collect().exponential)
    for name in ("f0", "f1", "f2", "f3"):
        # same values: same buckets once both are brought to the same scale
        scale = min(a[name].scale, b[name].scale)
        col = rows[:, int(name[1])]
        assert _buckets(a[name].positive_offset, a[name].positive) == _brute_force(col, a[name].scale)[0]
        assert _buckets(b[name].positive_offset, b[name].positive) == _brute_force(col, b[name].scale)[0]
        assert a[name].count == b[name].count == 300 and scale <= 20


def test_exp_index_is_upper_inclusive():
    """exp_index puts exact powers of two in the bucket they close: (2^(i/2^s), 2^((i+1)/2^s)]."""
    assert exp_index(1.0, 0) == -1 and exp_index(2.0, 0) == 0 and exp_index(2.5, 0) == 1
    assert exp_index(4.0, 1) == 3 and exp_index(0.5, 3) == -9
    for scale in (-2, 0, 3, 8):
        for v in (0.3, 1.7, 1024.0, 1e-5, 12345.678):
            assert exp_index(v, scale) == _sdk_mapping(scale).map_to_index(v)


def test_explicit_buckets_on_baseline_edges_are_upper_inclusive():
    """With a baseline, values count on its edges with OTLP's (b[i-1], b[i]] rule."""
    edges = [0.0, 1.0, 2.0]
    store = SketchStore()
    store.set_baseline(
        "m", "1",
        Baseline("base-1", "m", "1", {"x": FeatureBaseline("x", "numeric", edges, [1, 2, 3, 4], min=-1, max=3, mean=1, count=10)}),
    )
    values = np.array([-0.5, 0.0, 0.5, 1.0, 1.0000001, 2.0, 2.5, np.nan, np.inf])
    _record(store, pd.DataFrame({"x": values}))
    snap = store.collect()
    (p,) = snap.explicit
    assert p.bounds == (0.0, 1.0, 2.0) and p.baseline_id == "base-1"
    # (-inf,0]: -0.5, 0.0 | (0,1]: 0.5, 1.0 | (1,2]: 1.0000001, 2.0 | (2,inf): 2.5
    assert p.counts == (2, 2, 2, 1)
    assert p.counts == tuple(np.bincount(np.searchsorted(edges, values[np.isfinite(values)], side="left"), minlength=4))
    # 7 values: below min_aggregate_count, so no sum; min/max are never sent
    assert p.count == 7 and math.isnan(p.sum) and math.isnan(p.min) and math.isnan(p.max)
    assert not snap.exponential  # a feature with a baseline is not also an exponential histogram
    assert _by_feature(snap.missing)["x"].value == 1  # the NaN (inf is neither value nor missing)


def test_in_band_baseline_points_are_constant_and_resent_every_collect():
    """The baseline's histogram and category counts come with every snapshot, unchanged."""
    store = SketchStore()
    baseline = Baseline(
        "b-7", "m", "1",
        {
            "x": FeatureBaseline("x", "numeric", [0.0, 1.0], [3, 4, 5], min=-2.0, max=4.0, mean=0.5, count=12),
            "color": FeatureBaseline("color", "categorical", counts=[6, 3, 1], categories=["red", "blue"]),
        },
        {"prediction": FeatureBaseline("prediction", "numeric", [0.5], [7, 5], min=0.0, max=1.0, mean=0.4, count=12)},
    )
    store.set_baseline("m", "1", baseline)
    first, second = store.collect(), store.collect()
    assert first.is_empty and second.is_empty  # no production data
    for snap in (first, second):
        hists = {(p.role, p.feature): p for p in snap.baseline_histograms}
        assert hists[("input", "x")].counts == (3, 4, 5) and hists[("input", "x")].sum == pytest.approx(6.0)
        assert hists[("output", "prediction")].bounds == (0.5,)
        cats = {p.category: p.value for p in snap.baseline_categories}
        assert cats == {"red": 6, "blue": 3, OTHER: 1}
        assert {p.baseline_id for p in snap.baseline_categories} == {"b-7"}
    assert first.baseline_histograms == second.baseline_histograms
    store.set_baseline("m", "1", None)
    assert not store.collect().baseline_histograms


def test_in_band_baseline_carries_null_counts_and_no_training_min_or_max():
    """Every in-band baseline feature comes with its null count (the collector's null_rate
    rule needs it); the training min/max (single training values) never leave, the sum only
    over at least min_aggregate_count values."""
    store = SketchStore()
    baseline = Baseline(
        "b-8", "m", "1",
        {
            "x": FeatureBaseline("x", "numeric", [0.0, 1.0], [3, 4, 5], min=-2.0, max=4.0, mean=0.5, count=12, null_count=3),
            "few": FeatureBaseline("few", "numeric", [0.0], [2, 3], min=-7.25, max=9.5, mean=1.5, count=5),
            "color": FeatureBaseline("color", "categorical", counts=[6, 3, 1], categories=["red", "blue"], null_count=2),
        },
    )
    store.set_baseline("m", "1", baseline, least=10)
    snap = store.collect()
    assert {(p.feature, p.value, p.baseline_id, p.category) for p in snap.baseline_missing} == {
        ("x", 3, "b-8", None), ("few", 0, "b-8", None), ("color", 2, "b-8", None),
    }
    hists = {p.feature: p for p in snap.baseline_histograms}
    assert all(math.isnan(p.min) and math.isnan(p.max) for p in hists.values())
    assert hists["x"].sum == pytest.approx(6.0) and math.isnan(hists["few"].sum)


def test_categories_with_a_baseline_are_clear_and_the_rest_is_other():
    """With a baseline, its categories go out in clear, every other label under __other__."""
    store = SketchStore()
    store.set_baseline("m", "1", Baseline("b", "m", "1", {"color": FeatureBaseline("color", "categorical", counts=[1, 1, 0], categories=["red", "blue"])}))
    _record(store, pd.DataFrame({"color": ["red", "red", "blue", "mauve", "teal", None]}))
    snap = store.collect()
    assert {p.category: p.value for p in snap.categories} == {"red": 2, "blue": 1, OTHER: 2}
    assert all(p.baseline_id == "b" for p in snap.categories)
    assert _by_feature(snap.missing)["color"].value == 1


def test_categories_without_a_baseline_are_hashed_and_capped():
    """Without a baseline labels are hashed; beyond max_categories they count in their
    hashed tail bucket (at most TAIL_BUCKETS labels more), never in clear."""
    cfg = Config(max_categories=3)
    store = SketchStore()
    _record(store, pd.DataFrame({"city": ["a", "b", "c", "d", "e", "a"]}), config=cfg)
    _record(store, {"city": "zz"}, config=cfg)
    counts = {p.category: p.value for p in store.collect().categories}
    tail: dict[str, int] = {}
    for label in ("d", "e", "zz"):
        tail[tail_label(label, None, TAIL_BUCKETS)] = tail.get(tail_label(label, None, TAIL_BUCKETS), 0) + 1
    assert counts == {hash_label("a"): 2, hash_label("b"): 1, hash_label("c"): 1, **tail}
    many = SketchStore()
    _record(many, pd.DataFrame({"city": [f"c{i}" for i in range(1000)]}), config=cfg)
    labels = {p.category for p in many.collect().categories}
    assert len(labels) <= 3 + TAIL_BUCKETS and all(label.startswith(("#", "__tail_")) for label in labels)
    clear = SketchStore()
    _record(clear, pd.DataFrame({"city": ["a", "b"]}), config=Config(hash_categories=False))
    assert {p.category for p in clear.collect().categories} == {"a", "b"}


def test_output_class_ids_stay_clear_and_string_classes_are_hashed():
    """Integer class labels of an output are sent in clear, string labels hashed."""
    store = SketchStore()
    _record(store, np.array([0, 1, 1]), role="output")
    _record(store, np.array(["spam", "ham"]), role="output", version="2")
    labels = {(p.version, p.category): p.value for p in store.collect().categories}
    assert labels == {("1", "0"): 1, ("1", "1"): 2, ("2", hash_label("spam")): 1, ("2", hash_label("ham")): 1}


def test_output_features_are_named_prediction_and_prediction_i():
    """1-D output -> prediction, 2-D -> prediction[i]; role is output."""
    store = SketchStore()
    _record(store, np.array([0.1, 0.4]), role="output")
    _record(store, np.array([[0.1, 0.9], [0.3, 0.7]]), role="output", version="2")
    points = store.collect().exponential
    assert {(p.version, p.feature, p.role) for p in points} == {
        ("1", "prediction", "output"),
        ("2", "prediction[0]", "output"),
        ("2", "prediction[1]", "output"),
    }


def test_missing_counts_none_and_nan():
    """ml.feature.missing counts None and NaN values per feature, numeric and categorical."""
    store = SketchStore()
    _record(store, [{"a": None, "s": None}, {"a": float("nan"), "s": "x"}, {"a": 1.0, "s": "y"}])
    _record(store, {"a": None, "s": None})
    missing = {p.feature: p.value for p in store.collect().missing}
    assert missing == {"a": 3, "s": 2}


def test_collect_is_a_delta_and_a_second_collect_is_empty():
    """collect() returns what was recorded since the previous one; nothing twice."""
    store = SketchStore()
    _record(store, np.ones((10, 2)))
    _record(store, {"f0": 1.0, "f1": 2.0})
    first = store.collect()
    assert not first.is_empty and {p.count for p in first.exponential} == {11}
    second = store.collect()
    assert second.is_empty and second.start_time_unix_nano == first.time_unix_nano
    _record(store, np.ones((3, 2)))
    assert {p.count for p in store.collect().exponential} == {3}


def test_single_row_buffer_flushes_itself_when_full():
    """More single records than the buffer holds are binned on the way; none is lost."""
    store = SketchStore()
    for i in range(ROW_BUFFER * 2 + 5):
        _record(store, {"x": float(i)})
    (stream,) = store._streams.values()
    assert len(stream.rows) == 5  # two full buffers were binned already
    (p,) = store.collect().exponential
    assert p.count == ROW_BUFFER * 2 + 5 and p.sum == sum(range(ROW_BUFFER * 2 + 5))


def test_wide_single_records_are_binned_once_the_buffer_holds_its_values():
    """A wide record fills the buffer by its values, not its rows (memory stays bounded)."""
    store = SketchStore()
    width = 200
    per_buffer = -(-ROW_BUFFER_VALUES // (width + 1))  # rows that reach the value bound
    assert per_buffer < ROW_BUFFER
    for i in range(per_buffer + 3):
        _record(store, {f"f{j}": float(i) for j in range(width)})
    (stream,) = store._streams.values()
    assert len(stream.rows) == 3
    counts = {p.feature: p.count for p in store.collect().exponential}
    assert counts == {f"f{j}": per_buffer + 3 for j in range(width)}


def test_buffered_single_records_of_mixed_layouts_lose_nothing():
    """Single records with different features, nulls and categorical values, buffered
    together and binned when the buffer fills, count every value where it belongs."""
    store = SketchStore()
    n = ROW_BUFFER + 10
    for i in range(n):
        if i % 2:
            _record(store, {"a": float(i), "b": None if i % 3 == 0 else 1.0})
        else:
            _record(store, {"a": float(i), "c": 2.0, "s": "x" if i % 4 else None})
    snap = store.collect()
    counts = {p.feature: p.count for p in snap.exponential}
    odd = [i for i in range(n) if i % 2]
    even = [i for i in range(n) if i % 2 == 0]
    assert counts == {"a": n, "b": sum(1 for i in odd if i % 3), "c": len(even)}
    assert {p.feature: p.value for p in snap.missing} == {
        "b": sum(1 for i in odd if i % 3 == 0),
        "s": sum(1 for i in even if i % 4 == 0),
    }
    assert sum(p.value for p in snap.categories if p.feature == "s") == sum(1 for i in even if i % 4)

    same = SketchStore()  # one layout throughout, some nulls: the single-layout path
    for i in range(n):
        _record(same, {"a": float(i), "b": None if i % 5 == 0 else 2.0})
    snap = same.collect()
    assert {p.feature: p.count for p in snap.exponential} == {"a": n, "b": sum(1 for i in range(n) if i % 5)}
    assert {p.feature: p.value for p in snap.missing} == {"b": sum(1 for i in range(n) if i % 5 == 0)}


def test_overflow_features_strings_and_columns_are_counted():
    """Caps hit (features, string length) show up as overflow points, per stream."""
    cfg = Config(max_features=2, max_string_length=3)
    store = SketchStore()
    _record(store, np.zeros((4, 5)), config=cfg)  # 3 features over
    _record(store, {"a": 1.0, "b": 2.0, "c": 3.0}, config=cfg)  # 1 over (single record)
    _record(store, pd.DataFrame({"f0": ["abcdef", "ab"]}), config=cfg)  # 1 cut string
    _record(store, {"zz": 1.0}, config=cfg)  # a third distinct name in the stream: over the cap
    snap = store.collect()
    overflow = {o.kind: o.value for o in snap.overflow}
    # f0, f1 tracked by the stream; then c (cut by the record itself), a and b (the stream is
    # full) and zz are over: one count per feature per recorded summary
    assert overflow["feature"] == 3 + 1 + 2 + 1
    assert overflow["string"] == 1
    assert {p.feature for p in snap.exponential} <= {"f0", "f1"}


def test_concurrent_record_from_many_threads_loses_nothing():
    """8 threads recording batches and single rows at once: every value is counted exactly once."""
    store = SketchStore()
    batch = np.arange(1, 101, dtype=float).reshape(50, 2)
    per_thread = 40
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(per_thread):
                if i % 2:
                    _record(store, batch)
                else:
                    _record(store, {"f0": float(seed + 1), "f1": 2.0})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    collected = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        collected.append(store.collect())  # collect concurrently too
    for t in threads:
        t.join()
    collected.append(store.collect())
    assert not errors
    total = Counter()
    for snap in collected:
        for p in snap.exponential:
            total[p.feature] += p.count
    expected = 8 * (per_thread // 2) * (50 + 1)
    assert total == {"f0": expected, "f1": expected}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_starts_empty_and_keeps_baselines():
    """After fork the child's store is empty (the parent exports its data) but keeps baselines."""
    store = SketchStore()
    store.set_baseline("m", "1", Baseline("b", "m", "1", {"x": FeatureBaseline("x", "numeric", [0.0], [1, 1], count=2)}))
    _record(store, np.ones((5, 1)))

    def child() -> dict:  # what the child sees, then it records and collects its own data
        before = store.collect()
        _record(store, np.full((2, 1), 3.0))
        after = store.collect()
        return {
            "before_empty": before.is_empty,
            "baselines": len(before.baseline_histograms),
            "after_counts": [p.count for p in after.exponential],
        }

    report = in_child(child)
    assert report == {"before_empty": True, "baselines": 1, "after_counts": [2]}
    (p,) = store.collect().exponential  # the parent still has its own data
    assert p.count == 5


def test_record_ignores_nothing_silently_with_empty_inputs():
    """Empty batches record nothing and raise nothing."""
    store = SketchStore()
    _record(store, np.zeros((0, 3)))
    _record(store, pd.DataFrame({"a": pd.Series([], dtype=float)}))
    assert store.collect().is_empty


def test_huge_and_tiny_magnitudes_stay_in_range():
    """Values near the float64 limits bin without overflow (the scale drops as far as needed)."""
    values = np.array([1e-300, 1e300, -1e-300, -5e299, 1.0, 5e-324, 0.0])
    store = SketchStore()
    _record(store, values.reshape(-1, 1))
    (p,) = store.collect().exponential
    pos, neg, _ = _brute_force(values, p.scale)
    assert _buckets(p.positive_offset, p.positive) == pos and _buckets(p.negative_offset, p.negative) == neg
    assert p.count == 7 and p.zero_count == 1 and math.isnan(p.min) and math.isnan(p.sum)


def test_many_baseline_edges_use_the_same_upper_inclusive_rule():
    """Baselines with few and with many (>128) edges bin exactly like searchsorted(side='left')."""
    rng = np.random.default_rng(4)
    values = np.round(rng.normal(size=5000), 2)  # many values exactly on edges
    for n_edges in (5, 300):
        edges = np.round(np.linspace(-2.5, 2.5, n_edges), 2).tolist()
        edges = sorted(set(edges))
        store = SketchStore()
        store.set_baseline("m", "1", Baseline("b", "m", "1", {"x": FeatureBaseline("x", "numeric", edges, [0] * (len(edges) + 1))}))
        _record(store, pd.DataFrame({"x": values}))
        (p,) = store.collect().explicit
        expected = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        assert p.counts == tuple(expected.tolist())


def test_a_baseline_set_later_switches_features_from_then_on():
    """Before set_baseline: exponential + hashed labels; after: explicit buckets + clear labels."""
    store = SketchStore()
    frame = pd.DataFrame({"x": [0.5, 1.5], "color": ["red", "mauve"]})
    _record(store, frame)
    store.set_baseline(
        "m", "1",
        Baseline("b1", "m", "1", {
            "x": FeatureBaseline("x", "numeric", [1.0], [1, 1]),
            "color": FeatureBaseline("color", "categorical", counts=[1, 0], categories=["red"]),
        }),
    )
    _record(store, frame)
    snap = store.collect()
    assert [p.count for p in snap.exponential] == [2] and [p.counts for p in snap.explicit] == [(1, 1)]
    labels = {(p.category, p.baseline_id): p.value for p in snap.categories}
    assert labels == {
        (hash_label("red"), None): 1,
        (hash_label("mauve"), None): 1,
        ("red", "b1"): 1,
        (OTHER, "b1"): 1,
    }


def test_with_the_real_baseline_class_numeric_categorical_and_predictions_bin_on_it():
    """modeltel.Baseline.from_data: edges, categories, numeric-as-category and predictions all used."""
    from modeltel._baseline import Baseline as RealBaseline

    rng = np.random.default_rng(8)
    train = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, size=2000),
            "country": rng.choice(["fr", "de", "it"], size=2000),
            "zip": rng.choice([75001, 10115, 20121], size=2000).astype(float),
        }
    )
    baseline = RealBaseline.from_data(
        train, model="m", version="1", predictions=rng.random(2000), categorical=["zip"]
    )
    store = SketchStore()
    store.set_baseline("m", "1", baseline)
    prod = pd.DataFrame({"amount": [1.0, 20.0, 5000.0], "country": ["fr", "es", "de"], "zip": [75001.0, 99999.0, np.nan]})
    _record(store, prod)
    _record(store, np.array([0.2, 0.9]), role="output")
    snap = store.collect()
    assert not snap.exponential  # every feature is binned on the baseline
    explicit = {(p.role, p.feature): p for p in snap.explicit}
    amount = explicit[("input", "amount")]
    edges = baseline.features["amount"].edges
    assert amount.bounds == tuple(edges) and amount.baseline_id == baseline.id
    assert amount.counts == tuple(np.bincount(np.searchsorted(edges, prod["amount"], side="left"), minlength=len(edges) + 1))
    assert explicit[("output", "prediction")].count == 2
    cats = {(p.feature, p.category): p.value for p in snap.categories}
    assert cats == {("country", "fr"): 1, ("country", OTHER): 1, ("country", "de"): 1, ("zip", "75001"): 1, ("zip", OTHER): 1}
    assert {p.feature: p.value for p in snap.missing} == {"zip": 1}
    in_band = {p.feature for p in snap.baseline_histograms} | {p.feature for p in snap.baseline_categories}
    assert in_band == {"amount", "country", "zip", "prediction"}


def test_a_batch_of_zeros_does_not_lower_the_scale():
    """Zeros go to zero_count and leave the scale as the other values need it."""
    store = SketchStore()
    _record(store, np.array([[1.0], [1.001]] * 6))  # 12 values: enough for a fine point
    _record(store, np.zeros((5, 1)))
    (p,) = store.collect().exponential
    alone = SketchStore()
    _record(alone, np.array([[1.0], [1.001]] * 6))
    assert p.scale == alone.collect().exponential[0].scale > 10
    assert p.zero_count == 5 and p.count == 17


def test_a_point_over_too_few_values_has_no_sum_min_max_and_power_of_two_buckets():
    """One value alone in its window must not go out exactly: no sum/min/max (all three would
    be the value) and its bucket is (2^i, 2^(i+1)], not the scale-20 bucket that pins it to six
    digits. From min_aggregate_count values on the sum is sent and the resolution is full."""
    store = SketchStore()
    _record(store, np.array([[7002.123456789]]))
    (p,) = store.collect().exponential
    assert p.count == 1 and math.isnan(p.sum) and math.isnan(p.min) and math.isnan(p.max)
    assert p.scale == 0 and p.positive_offset == 12 and p.positive == (1,)  # 4096 < v <= 8192
    _record(store, np.full((CFG.min_aggregate_count, 1), 7002.123456789))
    (q,) = store.collect().exponential
    assert q.scale == 20 and q.sum == pytest.approx(7002.123456789 * CFG.min_aggregate_count)


def test_rare_labels_with_a_baseline_go_to_its_tail_buckets_in_band_too(monkeypatch):
    """A baseline with tail buckets: labels beyond its categories leave as their hashed tail
    bucket (never in clear), the in-band baseline carries the buckets (and an empty
    __other__); a process with another hash key sends __other__ for both."""
    from modeltel._baseline import Baseline as RealBaseline

    monkeypatch.delenv("MODELTEL_HASH_KEY", raising=False)  # the baseline and CFG: this process's random key
    train = pd.DataFrame({"city": ["paris"] * 50 + ["rome"] * 30 + [f"v{i}" for i in range(40)]})
    baseline = RealBaseline.from_data(train, model="m", version="1", max_categories=2)
    fb = baseline.features["city"]
    assert fb.categories == ["paris", "rome"] and sum(fb.tail_counts) == fb.counts[-1] > 0
    store = SketchStore()
    store.set_baseline("m", "1", baseline)
    _record(store, pd.DataFrame({"city": ["paris", "v1", "v2", "brand-new"]}))
    snap = store.collect()
    sent = {p.category: p.value for p in snap.categories}
    expected: dict[str, int] = {"paris": 1}
    for label in ("v1", "v2", "brand-new"):
        bucket = tail_label(label, None, TAIL_BUCKETS)
        expected[bucket] = expected.get(bucket, 0) + 1
    assert sent == expected
    inband = {p.category: p.value for p in snap.baseline_categories}
    assert inband[OTHER] == 0 and inband["paris"] == fb.counts[0]
    assert [inband[f"__tail_{j}__"] for j in range(TAIL_BUCKETS)] == fb.tail_counts
    other_key = SketchStore()
    other_key.set_baseline("m", "1", baseline, secret="another-key")
    _record(other_key, pd.DataFrame({"city": ["paris", "v1", "v2"]}), config=CFG.replace(hash_key="another-key"))
    snap = other_key.collect()
    assert {p.category: p.value for p in snap.categories} == {"paris": 1, OTHER: 2}
    assert {p.category: p.value for p in snap.baseline_categories} == {"paris": fb.counts[0], "rome": fb.counts[1], OTHER: fb.counts[2]}


@pytest.mark.parametrize("with_baseline", [False, True])
def test_row_major_and_column_major_batches_give_the_same_points(with_baseline: bool):
    """A row-major (C-order) batch is binned in row chunks without a column-major copy: its
    exponential (or explicit-bucket) points equal those of the same values column-major, with
    zeros, NaN, inf, subnormals and both signs in the columns, over several chunks."""
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 3.0, size=(9000, 6))
    x[::7, 0] = 0.0
    x[::11, 1] = np.nan
    x[::13, 2] = np.inf
    x[5, 3] = 5e-310  # subnormal
    x[:, 4] = np.abs(x[:, 4]) + 1.0  # one-signed
    x[:, 5] = -np.abs(x[:, 5])
    edges = [-3.0, -1.0, 0.0, 0.5, 2.0]
    points = []
    for layout in (np.ascontiguousarray(x), np.asfortranarray(x)):
        store = SketchStore()
        if with_baseline:
            store.set_baseline("m", "1", Baseline("b", "m", "1", {
                f"f{j}": FeatureBaseline(f"f{j}", "numeric", edges, [1] * 6, count=6) for j in range(6)
            }))
        _record(store, layout)
        snap = store.collect()
        # NaN (withheld min/max) as None; the sum to 12 digits (the two layouts add in another order)
        plain = [
            [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in dataclasses.astuple(dataclasses.replace(p, sum=float(f"{p.sum:.12g}"))))
             for p in sorted(kind, key=lambda p: p.feature)]
            for kind in (snap.exponential, snap.explicit)
        ]
        points.append(plain)
    assert points[0] == points[1]
    assert len(points[0][1 if with_baseline else 0]) == 6
