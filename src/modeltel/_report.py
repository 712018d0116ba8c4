"""Offline drift report: production data against a baseline, as one self-contained HTML page.

The page is a list of sections (:data:`SECTIONS`), each a function of the report returning
HTML or nothing: the header, a banner that says what needs attention, data quality, drift
over time (when the data was split by a time column), the ranked table, one card per
feature (most drifted first) with the baseline and production histograms overlaid on the
feature's value axis as inline SVG, and a footer with the rules behind every verdict. A new
section (model performance, ...) is one more function in the list. No scripts, fonts or
images are fetched: the file opens anywhere, offline, and inline in a notebook
(:meth:`DriftReport._repr_html_`).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modeltel import _drift
from modeltel._baseline import Baseline, FeatureBaseline, ProductionHistograms, _chunks
from modeltel._dataquality import DataQuality, small_baseline_warning
from modeltel._performance import FIGURES, Performance

__all__ = ["DriftReport", "Period", "ReportInputs", "drift_report"]

BASE_COLOR = "#4c78a8"
PROD_COLOR = "#f58518"
VERDICT_COLOR = {"drift": "#c0392b", "no_drift": "#2e7d32", "insufficient_data": "#7f8c8d"}
VERDICT_TEXT = {"drift": "drift", "no_drift": "no drift", "insufficient_data": "insufficient data"}
#: Banner colours: drift, something to look at (a feature drifted, bad data, too few rows), all clear.
BANNER_COLOR = {"drift": "#c0392b", "attention": "#b26a00", "clear": "#2e7d32", "insufficient_data": "#5f6b73"}
#: A time split yields at most this many periods (beyond it: a larger period).
MAX_PERIODS = 400


@dataclass
class Period:
    """One period of a report split by a time column: its start, rows and drift result."""

    start: str
    rows: int
    result: _drift.DatasetDrift
    production: dict[str, _drift.Histogram]
    performance: Performance | None = None


@dataclass
class DriftReport:
    """The result of :func:`drift_report`: scores, verdicts, data quality and the histograms behind them.

    In a notebook the report renders inline; ``to_pandas()`` gives one row per feature and score.
    """

    baseline: Baseline
    result: _drift.DatasetDrift
    reference: dict[str, _drift.Histogram]
    production: dict[str, _drift.Histogram]
    rows: int
    title: str
    quality: DataQuality | None = None
    periods: list[Period] = field(default_factory=list)
    time_column: str | None = None
    every: str | None = None
    #: Baseline input features absent from the data.
    missing: list[str] = field(default_factory=list)
    #: Rows whose time column could not be read as a time (in the whole, in no period).
    bad_times: int = 0
    #: Predictions scored against targets, when both were given.
    performance: Performance | None = None

    @property
    def verdict(self) -> str:
        return self.result.verdict

    @property
    def multivariate(self) -> str | None:
        """``drift`` when the baseline's multivariate projections drift (None without them)."""
        return self.result.multivariate

    @property
    def warnings(self) -> list[str]:
        """Things that weaken the verdicts: a small baseline, missing features."""
        out = []
        small = small_baseline_warning(self.baseline.rows)
        if small:
            out.append(small)
        if self.missing:
            out.append(f"{len(self.missing)} baseline feature(s) missing from the data: {', '.join(self.missing)}")
        if self.bad_times:
            out.append(
                f"{self.bad_times:,} rows with no readable time in {self.time_column!r}: "
                "counted in the whole, in no period"
            )
        return out

    @property
    def quality_issues(self) -> dict[str, list[str]]:
        return self.quality.issues() if self.quality is not None else {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (non-finite scores become strings)."""
        out = {
            "model": self.baseline.model,
            "version": self.baseline.version,
            "baseline_id": self.baseline.id,
            "baseline_rows": self.baseline.rows,
            "rows": self.rows,
            "verdict": self.result.verdict,
            "drifted": self.result.drifted,
            "evaluated": self.result.evaluated,
            "multivariate": self.result.multivariate,
            "warnings": self.warnings,
            "missing_features": list(self.missing),
            "features": [_feature_dict(fd) for fd in self.result.features],
            "data_quality": self.quality.to_dict() if self.quality is not None else None,
            "performance": self.performance.to_dict() if self.performance is not None else None,
        }
        if self.periods:
            out["time_column"] = self.time_column
            out["every"] = self.every
            out["periods"] = [
                {
                    "start": p.start,
                    "rows": p.rows,
                    "verdict": p.result.verdict,
                    "drifted": p.result.drifted,
                    "evaluated": p.result.evaluated,
                    "performance": p.performance.to_dict() if p.performance is not None else None,
                    "features": [_feature_dict(fd) for fd in p.result.features],
                }
                for p in self.periods
            ]
        return out

    def to_pandas(self) -> Any:
        """One row per feature and score: feature, role, kind, verdict, rows, score, value.

        Example::

            df = report.to_pandas()
            df[df.score == "psi"].sort_values("value", ascending=False)
        """
        import pandas as pd

        rows = [
            {
                "feature": fd.name,
                "role": fd.role,
                "kind": fd.kind,
                "verdict": fd.verdict,
                "rows": fd.n_production,
                "score": name,
                "value": float(value),
            }
            for fd in self.result.features
            for name, value in fd.scores.items()
        ]
        columns = ["feature", "role", "kind", "verdict", "rows", "score", "value"]
        return pd.DataFrame(rows, columns=columns)

    def write_html(self, path: str | os.PathLike[str]) -> Path:
        return _write(path, self.to_html())

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        return _write(path, json.dumps(self.to_dict(), indent=1) + "\n")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the HTML page (or JSON when the path ends in .json)."""
        if Path(path).suffix == ".json":
            return self.write_json(path)
        return self.write_html(path)

    def to_html(self) -> str:
        return _render(self)

    def _repr_html_(self) -> str:
        """The page in an isolated frame: its styles stay out of the notebook's."""
        return (
            f'<iframe class="modeltel-report" title="{_e(self.title)}" srcdoc="{_e(self.to_html())}" '
            'style="width:100%;height:720px;border:1px solid #ddd;border-radius:4px"></iframe>'
        )

    def __repr__(self) -> str:
        return (
            f"<DriftReport {self.baseline.model} {self.baseline.version}: {self.result.verdict}, "
            f"{self.result.drifted} of {self.result.evaluated} input features drifted, {self.rows:,} rows, "
            f"{len(self.quality_issues)} feature(s) with data-quality issues>"
        )


def _feature_dict(fd: _drift.FeatureDrift) -> dict[str, Any]:
    def clean(v: float) -> float | str:
        return v if math.isfinite(v) else str(v)

    return {
        "name": fd.name,
        "role": fd.role,
        "kind": fd.kind,
        "verdict": fd.verdict,
        "reasons": fd.reasons,
        "n_production": fd.n_production,
        "scores": {k: clean(v) for k, v in fd.scores.items()},
        "reason_codes": list(getattr(fd, "reason_codes", [])),
        "tests": [
            {"rule": t.rule, "pvalue": clean(t.pvalue), "qvalue": clean(t.qvalue), "alpha": t.alpha,
             "effect": clean(t.effect), "floor": clean(t.floor), "fired": t.fired}
            for t in getattr(fd, "tests", [])
        ],
    }


def _write(path: str | os.PathLike[str], text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class ReportInputs:
    """Chunks of production data gathered for one report: overall, per period, data quality.

    ``add(frame, predictions, targets)`` takes a pandas DataFrame (data quality and time
    splits need one) or any input the SDK accepts.
    """

    def __init__(self, baseline: Baseline, *, time_column: str | None = None, every: str | None = None) -> None:
        if (time_column is None) != (every is None):
            raise ValueError("a time split needs both time_column and every (e.g. every='1d')")
        self.baseline = baseline
        self.prod = ProductionHistograms(baseline)
        self.quality = DataQuality(baseline)
        self.time_column = time_column
        self.every = every
        self._step: Any = None
        if every is not None:
            self._step = parse_duration(every)
        self.periods: dict[Any, ProductionHistograms] = {}
        self.period_performance: dict[Any, Performance] = {}
        self._labels = (getattr(baseline, "performance", None) or {}).get("labels")
        self.performance = Performance(reference_labels=self._labels)
        self.bad_times = 0

    def add(self, frame: Any, predictions: Any = None, targets: Any = None) -> None:
        if type(frame).__module__.split(".")[0] in ("polars", "pyarrow") and hasattr(frame, "to_pandas"):
            try:
                frame = frame.to_pandas()  # data quality and time splits read pandas
            except Exception:  # noqa: BLE001 - e.g. polars without pyarrow: the drift part still works
                pass
        is_pandas = type(frame).__module__.split(".")[0] == "pandas" and hasattr(frame, "columns")
        if is_pandas:
            frame = self.quality.add(frame)
        elif self.time_column is not None:
            raise ValueError("a time split needs a pandas DataFrame")
        both = predictions is not None and targets is not None
        if both:
            self.performance.add(predictions, targets)
        if self.time_column is None:
            self.prod.add(_inputs(frame, self.baseline), predictions=predictions, targets=targets)
            return
        import pandas as pd

        if self.time_column not in frame.columns:
            raise ValueError(f"no time column {self.time_column!r} in the data (columns: {list(frame.columns)})")
        with warnings.catch_warnings():  # unreadable times are counted (bad_times), not warned about per chunk
            warnings.simplefilter("ignore", UserWarning)
            ts = pd.to_datetime(frame[self.time_column], errors="coerce", utc=True)
        self.bad_times += int(ts.isna().sum())
        self.prod.add(_inputs(frame, self.baseline), predictions=predictions, targets=targets)
        starts = ts.dt.floor(pd.Timedelta(self._step))
        for start, index in starts.groupby(starts, sort=True).indices.items():
            hist = self.periods.get(start)
            if hist is None:
                if len(self.periods) >= MAX_PERIODS:
                    raise ValueError(
                        f"more than {MAX_PERIODS} periods of {self.every}: use a longer period"
                    )
                hist = self.periods[start] = ProductionHistograms(self.baseline)
            hist.add(
                _inputs(frame.iloc[index], self.baseline),
                predictions=_take(predictions, index),
                targets=_take(targets, index),
            )
            if both:
                self.period_performance.setdefault(start, Performance(reference_labels=self._labels)).add(_take(predictions, index), _take(targets, index))

    def report(self, config: _drift.DriftConfig | None = None, title: str | None = None) -> DriftReport:
        baseline = self.baseline
        reference = baseline.histograms()
        outputs = list(baseline.predictions) + list(baseline.targets)
        production = self.prod.histograms()
        result = _drift.evaluate(reference, production, config, outputs=outputs)
        periods = []
        for start in sorted(self.periods):
            hist = self.periods[start]
            prod = hist.histograms()
            periods.append(
                Period(
                    _period_label(start, self._step), hist.rows, _drift.evaluate(reference, prod, config, outputs=outputs),
                    prod, self.period_performance.get(start),
                )
            )
        return DriftReport(
            baseline=baseline,
            result=result,
            reference=reference,
            production=production,
            rows=self.prod.rows,
            title=title or f"Drift report: {baseline.model} {baseline.version}",
            quality=self.quality if self.quality.checked else None,
            periods=periods,
            time_column=self.time_column,
            every=self.every,
            missing=[n for n in baseline.features if n not in self.prod.seen] if self.prod.rows else [],
            bad_times=self.bad_times,
            performance=self.performance if (self.performance.rows or self.performance.skipped) else None,
        )


_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*", re.IGNORECASE)


def parse_duration(text: str) -> _dt.timedelta:
    """'30m', '6h', '1d', '2w' -> a timedelta (the period of a time split)."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"every={text!r} is not a duration (examples: 30m, 1h, 6h, 1d, 7d, 2w)")
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"every={text!r} must be a positive duration")
    return _dt.timedelta(seconds=seconds)


def _inputs(frame: Any, baseline: Baseline) -> Any:
    """The baseline's input columns of a DataFrame (other inputs go as they are)."""
    if hasattr(frame, "columns") and type(frame).__module__.split(".")[0] == "pandas":
        return frame[[c for c in frame.columns if c in baseline.features]]
    return frame


def _take(values: Any, index: Any) -> Any:
    if values is None:
        return None
    return np.asarray(values)[index]


def _period_label(start: Any, step: Any) -> str:
    if step is not None and step % _dt.timedelta(days=1) == _dt.timedelta(0):
        return start.strftime("%Y-%m-%d")
    return start.strftime("%Y-%m-%d %H:%M")


def drift_report(
    baseline: Baseline | str | os.PathLike[str],
    data: Any,
    *,
    predictions: Any = None,
    targets: Any = None,
    config: _drift.DriftConfig | None = None,
    title: str | None = None,
    time_column: str | None = None,
    every: str | None = None,
) -> DriftReport:
    """Compare production ``data`` (any input type, or an iterable of chunks) with a baseline.

    With pandas DataFrames the report also checks data quality (values that are not numbers,
    null rates, the training range, labels the baseline never saw); ``time_column`` and
    ``every`` (``"1d"``, ``"6h"``) add a verdict per period and a timeline per feature.

    Example::

        report = modeltel.drift_report("baselines/fraud-3.1.0.json", X_last_week)
        report.save("drift.html")
        print(report.verdict)
        report.to_pandas()       # in a notebook, `report` alone renders the page inline
    """
    if not isinstance(baseline, Baseline):
        baseline = Baseline.load(baseline)
    inputs = ReportInputs(baseline, time_column=time_column, every=every)
    pieces: Iterable[tuple[Any, Any, Any]]
    if predictions is None and targets is None:
        pieces = ((x, None, None) for x in _chunks(data))
    else:
        pieces = [(data, predictions, targets)]
    for x, p, t in pieces:
        inputs.add(x, p, t)
    return inputs.report(config, title)


# --------------------------------------------------------------------------- rendering


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "&ndash;"
    if math.isinf(v):
        return "&infin;"
    if math.isnan(v):
        return "&ndash;"
    if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e5):
        return f"{v:.2e}"
    return f"{v:.{digits}f}"


def _fmt_p(v: float | None) -> str:
    if v is not None and 0 <= v < 1e-4:
        return "&lt;0.0001"
    return _fmt(v, 4)


def _edge_label(v: float) -> str:
    return f"{v:.4g}"


def _nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round values between lo and hi, about n of them (1, 2, 5 x 10^k steps)."""
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _svg_open(name: str, what: str, width: int, height: int) -> str:
    return (
        f'<svg class="{what}" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{what} of {_e(name)}" xmlns="http://www.w3.org/2000/svg">'
    )


def _text(x: float, y: float, s: str, *, anchor: str = "middle", fill: str = "#444") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="{anchor}" fill="{fill}">{s}</text>'


def _svg_histogram(fb: FeatureBaseline, ref: _drift.Histogram, prod: _drift.Histogram | None, other: str) -> str:
    """Baseline and production shares per bucket, overlaid.

    Continuous numeric features are drawn on their value axis (bar area = share of rows; the
    two open-ended tail buckets in narrow slots at the ends); discrete and categorical ones
    one slot per value.
    """
    r = ref.counts / ref.total if ref.total else np.zeros(ref.counts.size)
    p = prod.counts / prod.total if prod is not None and prod.total else np.zeros(ref.counts.size)
    width, height, left, bottom, top = 560, 190, 44, 42, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    edges = np.asarray(fb.edges, dtype=np.float64)
    real_axis = fb.kind == "numeric" and not fb.discrete and edges.size >= 2 and edges[-1] > edges[0]
    if real_axis:
        tail = plot_w * 0.06
        inner = plot_w - 2 * tail
        scale = inner / (edges[-1] - edges[0])
        x0 = np.concatenate(([left], left + tail + (edges - edges[0]) * scale))
        x1 = np.concatenate((left + tail + (edges - edges[0]) * scale, [left + plot_w]))
        widths = np.maximum(x1 - x0, 0.5)
        # Height = share / width, so that a bar's area is its share whatever the bucket width.
        r_h, p_h = r / widths, p / widths
    else:
        n = r.size
        slot = plot_w / max(n, 1)
        x0 = left + np.arange(n) * slot
        x1 = x0 + slot
        r_h, p_h = r, p
    peak = max(float(r_h.max(initial=0)), float(p_h.max(initial=0)), 1e-12)
    parts = [_svg_open(fb.name, "hist", width, height)]
    if not real_axis:
        step = next((t for t in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25) if 4 * t >= peak), 0.25)
        ymax = step * math.ceil(peak / step - 1e-9)
        tick = 0.0
        while tick <= ymax + 1e-12:
            y = top + plot_h - tick / ymax * plot_h
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3" stroke-width="1"/>')
            parts.append(_text(left - 4, y + 4, f"{tick:.0%}" if step >= 0.01 else f"{tick:.1%}", anchor="end", fill="#666"))
            tick += step
    else:
        ymax = peak * 1.05
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#ccc"/>')
    for i in range(r.size):
        w = x1[i] - x0[i]
        for values, heights, color, cls, inset in ((r, r_h, BASE_COLOR, "base", 0.04), (p, p_h, PROD_COLOR, "prod", 0.16)):
            h = heights[i] / ymax * plot_h
            parts.append(
                f'<rect class="{cls}" x="{x0[i] + w * inset:.2f}" y="{top + plot_h - h:.2f}" '
                f'width="{max(w * (1 - 2 * inset), 0.3):.2f}" height="{h:.2f}" fill="{color}" fill-opacity="0.6">'
                f"<title>{_e(_bucket_name(fb, i, other))}: {'baseline' if cls == 'base' else 'production'} {values[i]:.1%}</title></rect>"
            )
    axis_y = top + plot_h + 14
    if fb.kind == "categorical":
        labels = list(fb.categories) + [other]
        step = max(1, math.ceil(len(labels) / 12))
        for i in range(0, len(labels), step):
            text = labels[i] if len(labels[i]) <= 12 else labels[i][:11] + "\u2026"
            parts.append(_text((x0[i] + x1[i]) / 2, axis_y, _e(text)))
    elif fb.discrete:
        points = fb.edges[1:]
        step = max(1, math.ceil(len(points) / 12))
        for i in range(0, len(points), step):
            parts.append(_text((x0[i + 1] + x1[i + 1]) / 2, axis_y, _e(_edge_label(points[i]))))
        parts.append(_text(left + plot_w / 2, height - 6, "one bucket per training value (first: below the smallest)", fill="#888"))
    elif real_axis:
        for v in _nice_ticks(float(edges[0]), float(edges[-1])):
            x = left + tail + (v - edges[0]) * scale
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="#888"/>')
            parts.append(_text(x, axis_y + 1, _e(_edge_label(v))))
        parts.append(_text(left + tail / 2, axis_y + 1, "&lt;", fill="#888"))
        parts.append(_text(left + plot_w - tail / 2, axis_y + 1, "&gt;", fill="#888"))
        parts.append(
            _text(left + plot_w / 2, height - 6,
                  f"{_e(fb.name)} (value axis; bar area = share of rows; &lt; / &gt;: beyond the training tails)", fill="#888")
        )
    parts.append("</svg>")
    return "".join(parts)


def _bucket_name(fb: FeatureBaseline, i: int, other: str = "other") -> str:
    if fb.kind == "categorical":
        return (list(fb.categories) + [other])[i]
    lo = "-inf" if i == 0 else _edge_label(fb.edges[i - 1])
    hi = "+inf" if i == len(fb.edges) else _edge_label(fb.edges[i])
    return f"({lo}, {hi}]"


def _svg_timeline(name: str, report: DriftReport) -> str:
    """PSI of one feature per period, each point coloured by that period's verdict."""
    points = []
    for period in report.periods:
        fd = next((f for f in period.result.features if f.name == name), None)
        points.append((period.start, fd))
    width, height, left, bottom, top = 560, 120, 44, 30, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    cfg = report.result.config.for_feature(name)
    values = [fd.scores.get(k, 0.0) for _, fd in points if fd is not None and fd.scores for k in ("psi", "psi_threshold")]
    finite = [v for v in values if math.isfinite(v)]
    ymax = max([cfg.psi_threshold * 1.5] + [v * 1.1 for v in finite])
    n = len(points)
    slot = plot_w / max(n, 1)
    parts = [_svg_open(name, "timeline", width, height)]
    y_thr = top + plot_h - cfg.psi_threshold / ymax * plot_h
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#ccc"/>')
    if cfg.mode == "fixed":
        parts.append(
            f'<line class="threshold" x1="{left}" x2="{left + plot_w}" y1="{y_thr:.1f}" y2="{y_thr:.1f}" '
            'stroke="#c0392b" stroke-dasharray="4 3" stroke-width="1"/>'
        )
        parts.append(_text(left - 4, y_thr + 3, f"{cfg.psi_threshold:g}", anchor="end", fill="#c0392b"))
    parts.append(_text(left - 4, top + 8, f"{ymax:.2g}", anchor="end", fill="#666"))
    if top + plot_h - y_thr > 10 or cfg.mode != "fixed":
        parts.append(_text(left - 4, top + plot_h + 3, "0", anchor="end", fill="#666"))
    path = []
    for i, (start, fd) in enumerate(points):
        x = left + (i + 0.5) * slot
        verdict = fd.verdict if fd is not None else "insufficient_data"
        psi = fd.scores.get("psi") if fd is not None and fd.scores else None
        if fd is None or psi is None:
            parts.append(
                f'<circle class="point" data-period="{_e(start)}" data-verdict="{verdict}" cx="{x:.1f}" '
                f'cy="{top + plot_h:.1f}" r="3" fill="none" stroke="#999"><title>{_e(start)}: no data</title></circle>'
            )
            continue
        y = top + plot_h - min(psi, ymax) / ymax * plot_h
        path.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle class="point" data-period="{_e(start)}" data-verdict="{verdict}" cx="{x:.1f}" cy="{y:.1f}" r="4" '
            f'fill="{_color(verdict)}"><title>{_e(start)}: PSI {psi:.3f}, {_verdict_text(verdict)}, '
            f"{fd.n_production:,} rows</title></circle>"
        )
    if len(path) > 1:
        parts.insert(3, f'<polyline points="{" ".join(path)}" fill="none" stroke="#999" stroke-width="1"/>')
    if cfg.mode != "fixed":
        # Thresholds that depend on the sample sizes: one per period, where the math gave one.
        limits = [
            f"{left + (i + 0.5) * slot:.1f},{top + plot_h - min(fd.scores['psi_threshold'], ymax) / ymax * plot_h:.1f}"
            for i, (_, fd) in enumerate(points)
            if fd is not None and math.isfinite(fd.scores.get("psi_threshold", math.nan))
        ]
        if limits:
            parts.insert(3, f'<polyline class="threshold" points="{" ".join(limits)}" fill="none" stroke="#c0392b" '
                            'stroke-dasharray="4 3" stroke-width="1"><title>PSI threshold of each period</title></polyline>')
    label_step = max(1, math.ceil(n / 6))
    for i in range(0, n, label_step):
        parts.append(_text(left + (i + 0.5) * slot, top + plot_h + 14, _e(points[i][0])))
    parts.append(_text(left + plot_w / 2, height - 3, f"PSI per {_e(report.every)} ({_e(report.time_column)})", fill="#888"))
    parts.append("</svg>")
    return "".join(parts)


def _color(verdict: str) -> str:
    return VERDICT_COLOR.get(verdict, "#5f6b73")  # a verdict this page does not know yet: neutral


def _verdict_text(verdict: str) -> str:
    return VERDICT_TEXT.get(verdict, verdict.replace("_", " "))


def _badge(verdict: str) -> str:
    return f'<span class="badge" style="background:{_color(verdict)}">{_verdict_text(verdict)}</span>'


_RULE_NAMES = {
    "ks": "KS",
    "chi2_contingency": "χ² (merged cells)",
    "null_rate": "null rate",
    "out_of_range": "out of range",
    "unseen_category": "unseen category",
}


def _decisive(fd: _drift.FeatureDrift) -> Any:
    """The calibrated rule that decided: the fired one with the smallest q, else the smallest q."""
    tests = getattr(fd, "tests", None) or []
    if not tests:
        return None
    fired = [t for t in tests if t.fired]
    return min(fired or tests, key=lambda t: t.qvalue)


def _test_cells(fd: _drift.FeatureDrift) -> str:
    """The statistical test of the feature: its name, p-value and, when corrected, q-value."""
    s = fd.scores
    rule = _decisive(fd)
    if rule is not None:  # calibrated: the rule that decided, Holm-adjusted
        return (
            f'<td>{_e(_RULE_NAMES.get(rule.rule, rule.rule))}</td><td class="num">{_fmt_p(rule.pvalue)}</td>'
            f'<td class="num">{_fmt_p(rule.qvalue)}</td>'
        )
    if fd.kind == "numeric":
        test, p, q = "KS", s.get("ks_pvalue"), s.get("ks_qvalue")
    else:
        test, p, q = "χ²", s.get("chi2_pvalue"), s.get("chi2_qvalue")
    if p is None:
        return '<td></td><td class="num"></td><td class="num"></td>'
    q_cell = _fmt_p(q) if q is not None else '<span title="χ² not used above chi2_max_rows rows: Jensen-Shannon decides">n/a</span>'
    return f'<td>{test}</td><td class="num">{_fmt_p(p)}</td><td class="num">{q_cell}</td>'


def _rule_table(fd: _drift.FeatureDrift) -> str:
    """Every calibrated rule of the feature: p, Holm q against its level, effect against its floor."""
    tests = getattr(fd, "tests", None) or []
    if not tests:
        return ""
    rows = "".join(
        f'<tr data-rule="{_e(t.rule)}" data-fired="{"yes" if t.fired else "no"}"><td>{_e(_RULE_NAMES.get(t.rule, t.rule))}</td>'
        f'<td class="num">{_fmt_p(t.pvalue)}</td><td class="num">{_fmt_p(t.qvalue)} / {t.alpha:.3g}</td>'
        f'<td class="num">{_fmt(t.effect)} / {_fmt(t.floor)}</td><td>{"fired" if t.fired else ""}</td></tr>'
        for t in tests
    )
    return (
        '<table class="rules"><thead><tr><th>rule</th><th class="num">p</th><th class="num">q (Holm) / level</th>'
        '<th class="num">effect / floor</th><th></th></tr></thead><tbody>' + rows + "</tbody></table>"
    )


def _score_cells(fd: _drift.FeatureDrift) -> str:
    s = fd.scores
    numeric = fd.kind == "numeric"
    return (
        f'<td class="num">{_fmt(s.get("psi"))}</td>'
        f'<td class="num">{_fmt(s.get("jensen_shannon"))}</td>'
        f'<td class="num">{_fmt(s.get("wasserstein_normalized")) if numeric else ""}</td>'
        f'<td class="num">{"" if numeric else _fmt(s.get("linf"))}</td>'
        + _test_cells(fd)
    )


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;background:#f5f6f8;color:#222}
header{padding:18px 28px 8px}h1{font-size:22px;margin:0 0 4px}.meta{color:#666;font-size:13px}
h3{font-size:16px;margin:18px 28px 6px}
.verdict{margin:12px 28px;padding:16px 20px;border-radius:8px;color:#fff;font-size:20px;font-weight:600}
.verdict small{display:block;font-size:13px;font-weight:400;opacity:.95;margin-top:4px}
.verdict ul{margin:6px 0 0;padding-left:20px;font-size:13px;font-weight:400}
.warnings{margin:0 28px 8px;padding:8px 14px;background:#fff4e0;border-left:4px solid #b26a00;font-size:13px}
table{border-collapse:collapse;margin:8px 28px 16px;background:#fff;font-size:13px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{padding:6px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}th{background:#fafafa;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.issue{color:#8a4b00}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px;margin:0 28px 28px}
.feature{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08);border-left:5px solid #ccc}
.feature h2{font-size:16px;margin:0 0 4px;display:flex;gap:8px;align-items:center}
.feature .kind{color:#888;font-size:12px;font-weight:400}.reasons{font-size:12px;color:#444;margin:2px 0 6px}
.quality-note{font-size:12px;color:#8a4b00;margin:2px 0 6px}
.scores{font-size:12px;color:#333}.scores b{font-weight:600}
.legend{margin:0 28px 8px;font-size:13px}.sw{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-1px;opacity:.75}
.none{margin:0 28px 8px;font-size:13px;color:#555}
table.rules{margin:6px 0;font-size:12px;box-shadow:none}table.rules th,table.rules td{padding:2px 8px}
tr[data-fired="yes"] td{color:#c0392b}
footer{margin:0 28px 28px;color:#777;font-size:12px;line-height:1.5}
"""


def _section_header(report: DriftReport) -> str:
    b = report.baseline
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<header><h1>{_e(report.title)}</h1>"
        f'<div class="meta">model <b>{_e(b.model)}</b> version <b>{_e(b.version)}</b> &middot; baseline '
        f"<code>{_e(b.id)}</code> ({b.rows:,} rows, {_e(b.created_at)}) &middot; production {report.rows:,} rows "
        f"&middot; {now}</div></header>"
    )


def _banner_state(report: DriftReport) -> str:
    res = report.result
    if res.verdict == "drift":
        return "drift"
    if res.verdict == "insufficient_data":
        return "insufficient_data"
    insufficient = any(fd.verdict == "insufficient_data" and fd.role == "input" for fd in res.features)
    if res.drifted or report.quality_issues or report.warnings or insufficient:
        return "attention"
    return "clear"


def _section_banner(report: DriftReport) -> str:
    res = report.result
    cfg = res.config
    state = _banner_state(report)
    if res.verdict == "insufficient_data":
        headline = "No dataset verdict: no input feature has enough rows"
        if not res.features:
            headline = "No dataset verdict: no column of the data matches a baseline feature"
    else:
        headline = f"{res.drifted} of {res.evaluated} input features drifted"
        headline += " (dataset drift)" if res.verdict == "drift" else " (below the dataset-drift share)"
    points = []
    drifted = [fd.name for fd in res.features if fd.drifted and fd.role == "input"]
    if drifted and res.verdict != "drift":
        points.append(f"drifted: {', '.join(drifted)}")
    issues = report.quality_issues
    if issues:
        points.append(f"data quality: {len(issues)} feature(s) with issues ({', '.join(issues)}), see below")
    if res.multivariate is not None:
        moved = [fd.name for fd in res.features if fd.drifted and fd.role == "projection"]
        points.append(
            f"multivariate: {res.multivariate}"
            + (f" (the features' joint distribution moved: {', '.join(moved)})" if moved else "")
        )
    insufficient = [fd.name for fd in res.features if fd.verdict == "insufficient_data"]
    if insufficient:
        points.append(f"no verdict (fewer than {cfg.min_samples:,} rows): {', '.join(insufficient)}")
    points += report.warnings
    items = "".join(f"<li>{_e(p)}</li>" for p in points)
    return (
        f'<div id="dataset-verdict" class="verdict" data-verdict="{res.verdict}" data-state="{state}" '
        f'style="background:{BANNER_COLOR[state]}">{_e(headline)}'
        f"<small>dataset drift when at least {cfg.dataset_drift_share:.0%} of the input features drift "
        f"({res.share:.0%} did) &middot; {cfg.mode} verdicts</small>"
        + (f"<ul>{items}</ul>" if items else "")
        + "</div>"
    )


def _section_quality(report: DriftReport) -> str:
    dq = report.quality
    head = '<h3 id="data-quality">Data quality</h3>'
    if dq is None:
        return head + '<p class="none">Not checked: data quality needs the data as a pandas DataFrame.</p>'
    issues = dq.issues()
    rows = []
    for name, fq in dq.features.items():
        if not fq.rows and name not in report.missing:
            continue
        if name in report.missing:
            rows.append(
                f'<tr data-feature="{_e(name)}" data-issue="missing"><td>{_e(name)}</td><td>{fq.kind}</td>'
                '<td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td>'
                '<td class="issue">column missing from the data</td></tr>'
            )
            continue
        found = issues.get(name, [])
        rng = f"{fq.share(fq.out_of_range):.1%}" if fq.kind == "numeric" else ""
        bad = f"{fq.share(fq.non_numeric):.1%}" if fq.kind == "numeric" else f"{fq.share(fq.unseen):.1%}"
        rows.append(
            f'<tr data-feature="{_e(name)}" data-issue="{"yes" if found else "no"}"><td>{_e(name)}</td><td>{fq.kind}</td>'
            f'<td class="num">{fq.null_rate:.1%}</td><td class="num">{fq.baseline_null_rate:.1%}</td>'
            f'<td class="num">{bad}</td><td class="num">{rng}</td>'
            f'<td class="{"issue" if found else ""}">{_e("; ".join(found)) if found else "ok"}</td></tr>'
        )
    summary = (
        f'<p class="none">{len(issues)} of {sum(1 for f in dq.features.values() if f.rows)} features with issues.</p>'
        if issues
        else '<p class="none">No issues: every value of a numeric feature is a number, null rates within 5 points '
        "of the baseline's, fewer than 1% of values outside the training range or unseen.</p>"
    )
    return (
        head + summary
        + '<table id="quality"><thead><tr><th>feature</th><th>kind</th><th class="num">null rate</th>'
        '<th class="num">baseline null rate</th><th class="num">not a number / unseen label</th>'
        '<th class="num">outside training range</th><th>findings</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )




def _section_performance(report: DriftReport) -> str:
    perf = report.performance
    if perf is None:
        return ""
    head = '<h3 id="performance">Model performance</h3>'
    if perf.skipped and not perf.rows:
        return head + f'<p class="none">Not scored: {_e(perf.skipped)}.</p>'
    metrics = perf.metrics()
    cols = list(metrics)
    rows = [("all rows", perf)] + [(p.start, p.performance) for p in report.periods if p.performance is not None]
    body = "".join(
        f'<tr data-period="{_e(label)}"><td>{_e(label)}</td><td class="num">{p.rows:,}</td>'
        + "".join(f'<td class="num" data-metric="{m}">{_fmt(p.metrics().get(m))}</td>' for m in cols)
        + "</tr>"
        for label, p in rows
    )
    note = f" ({perf.missing:,} rows without a prediction or a target were not scored)" if perf.missing else ""
    return (
        head
        + f'<p class="none">{_e(perf.task)}: predictions against targets, row by row{_e(note)}; '
        "the figures of modeltel.performance_report (the collector's performance connector's rules).</p>"
        + '<table id="performance-table"><thead><tr><th></th><th class="num">rows</th>'
        + "".join(f'<th class="num">{FIGURES.get(m, m)}</th>' for m in cols)
        + "</tr></thead><tbody>" + body + "</tbody></table>"
    )


def _section_timeline(report: DriftReport) -> str:
    if not report.periods:
        return ""
    rows = []
    for p in report.periods:
        drifted = [fd.name for fd in p.result.features if fd.drifted and fd.role == "input"]
        rows.append(
            f'<tr data-period="{_e(p.start)}" data-verdict="{p.result.verdict}"><td>{_e(p.start)}</td>'
            f'<td class="num">{p.rows:,}</td><td>{_badge(p.result.verdict)}</td>'
            f'<td class="num">{p.result.drifted} of {p.result.evaluated}</td><td>{_e(", ".join(drifted))}</td></tr>'
        )
    return (
        f'<h3 id="timeline">Drift over time: {len(report.periods)} periods of {_e(report.every)} '
        f"by {_e(report.time_column)}</h3>"
        '<table id="periods"><thead><tr><th>period start</th><th class="num">rows</th><th>verdict</th>'
        '<th class="num">input features drifted</th><th>drifted</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def _section_ranking(report: DriftReport) -> str:
    out = [
        '<h3 id="features">Features</h3>',
        '<table id="ranking"><thead><tr><th>#</th><th>feature</th><th>role</th><th>kind</th><th>verdict</th>'
        '<th class="num">PSI</th><th class="num">Jensen-Shannon</th><th class="num">Wasserstein/σ</th>'
        '<th class="num">L∞</th><th>test</th><th class="num">p</th>'
        f'<th class="num">q ({"Holm" if report.result.config.mode == "calibrated" else "BH"})</th></tr></thead><tbody>',
    ]
    features = [fd for fd in report.result.features if fd.role != "projection"]  # their own section
    for rank, fd in enumerate(features, 1):
        out.append(
            f'<tr data-feature="{_e(fd.name)}" data-verdict="{fd.verdict}"><td>{rank}</td>'
            f'<td><a href="#f-{_e(fd.name)}">{_e(fd.name)}</a></td><td>{fd.role}</td><td>{fd.kind}</td>'
            f"<td>{_badge(fd.verdict)}</td>{_score_cells(fd)}</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _projection_label(report: DriftReport, name: str) -> str:
    """What a projection is: a principal component, or the minor axis of a pair of columns."""
    proj = report.baseline.projection
    if proj is None or name not in proj.features:
        return ""
    k = list(proj.features).index(name)
    if proj.kinds[k] == "pair":
        w = proj.directions[k]
        a, b = (j for j, x in enumerate(w) if x != 0.0)
        return f"{proj.columns[a]} {'+' if w[a] * w[b] > 0 else '−'} {proj.columns[b]} (standardised)"
    return f"principal component {k + 1} of {len(proj.columns)} standardised columns"


def _section_multivariate(report: DriftReport) -> str:
    res = report.result
    if res.multivariate is None:
        return ""
    rows = [fd for fd in res.features if fd.role == "projection"]
    out = [
        '<h3 id="multivariate">Multivariate</h3>',
        f'<div id="multivariate-verdict" data-verdict="{res.multivariate}">{_badge(res.multivariate)} '
        "the numeric inputs projected on directions learnt from the training data (a change in how "
        "features move together shows here while every feature alone looks the same)</div>",
        '<table id="projections"><thead><tr><th>projection</th><th>direction</th><th>verdict</th>'
        '<th class="num">PSI</th><th class="num">Jensen-Shannon</th><th class="num">Wasserstein/σ</th>'
        '<th class="num">L∞</th><th>test</th><th class="num">p</th><th class="num">q</th></tr></thead><tbody>',
    ]
    for fd in rows:
        out.append(
            f'<tr data-projection="{_e(fd.name)}" data-verdict="{fd.verdict}"><td>{_e(fd.name)}</td>'
            f"<td>{_e(_projection_label(report, fd.name))}</td><td>{_badge(fd.verdict)}</td>{_score_cells(fd)}</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _other_label(report: DriftReport, name: str) -> str:
    """The name of a categorical feature's last bucket: the unseen labels when the data is local."""
    fq = report.quality.features.get(name) if report.quality is not None else None
    if fq is None or not fq.unseen_labels:
        return "other"
    top = [label for label, _ in fq.unseen_labels.most_common(2)]
    return "other: " + ", ".join(top) + ("\u2026" if len(fq.unseen_labels) > 2 else "")


def _section_cards(report: DriftReport) -> str:
    fb_all = report.baseline.all_features()
    issues = report.quality_issues
    out = [
        f'<div class="legend"><span class="sw" style="background:{BASE_COLOR}"></span>baseline'
        f'<span class="sw" style="background:{PROD_COLOR}"></span>production</div>',
        '<div class="grid">',
    ]
    for fd in report.result.features:
        if fd.role == "projection":
            continue
        fb = fb_all[fd.name]
        ref = report.reference[fd.name]
        prod = report.production.get(fd.name)
        s = fd.scores
        calm = "no rule fired" if getattr(fd, "tests", None) else "within thresholds"
        reasons = "; ".join(fd.reasons) if fd.reasons else (calm if fd.verdict == "no_drift" else "")
        score_bits = [f"PSI <b>{_fmt(s.get('psi'))}</b>", f"JS <b>{_fmt(s.get('jensen_shannon'))}</b>"]
        if fd.kind == "numeric":
            score_bits += [
                f"KS <b>{_fmt(s.get('ks_statistic'))}</b> (p {_fmt_p(s.get('ks_pvalue'))}, q {_fmt_p(s.get('ks_qvalue'))})",
                f"Wasserstein/σ <b>{_fmt(s.get('wasserstein_normalized'))}</b>",
            ]
            if prod is not None and prod.min is not None and fb.min is not None:
                score_bits.append(f"range {_fmt(fb.min)}..{_fmt(fb.max)} → {_fmt(prod.min)}..{_fmt(prod.max)}")
        else:
            q = s.get("chi2_qvalue")
            score_bits += [
                f"χ² p <b>{_fmt_p(s.get('chi2_pvalue'))}</b>" + (f" (q {_fmt_p(q)})" if q is not None else ""),
                f"L∞ <b>{_fmt(s.get('linf'))}</b>",
            ]
        quality = "".join(f'<div class="quality-note">{_e(i)}</div>' for i in issues.get(fd.name, []))
        timeline = _svg_timeline(fd.name, report) if report.periods else ""
        out.append(
            f'<section class="feature" id="f-{_e(fd.name)}" data-feature="{_e(fd.name)}" data-verdict="{fd.verdict}" '
            f'style="border-left-color:{_color(fd.verdict)}">'
            f'<h2>{_e(fd.name)} {_badge(fd.verdict)}<span class="kind">{fd.kind} {fd.role} &middot; '
            f"{fd.n_production:,} rows</span></h2>"
            f'<div class="reasons">{_e(reasons)}</div>{quality}'
            f"{_svg_histogram(fb, ref, prod, _other_label(report, fd.name))}{timeline}{_rule_table(fd)}"
            f'<div class="scores">{" &middot; ".join(score_bits)}</div></section>'
        )
    out.append("</div>")
    return "".join(out)


def _section_footer(report: DriftReport) -> str:
    from modeltel import __version__

    cfg = report.result.config
    scores = (
        "How to read this page. Scores come from histograms: each numeric feature is binned on "
        "its baseline's quantile edges, each categorical one on its top training categories plus one "
        "bucket for every other label. PSI: population stability index; JS: Jensen-Shannon distance "
        "(base 2); Wasserstein/σ: earth mover's distance in units of the training standard deviation; "
        "L∞: largest change of a category's share. "
    )
    if cfg.mode == "calibrated":
        rules = (
            "Verdicts (calibrated): two-sample tests that account for the sampling noise of both the "
            "baseline and the data (KS and a chi-squared test on merged cells for the distribution; exact "
            "tests for the null rate, values outside the training range and unseen categories), Holm-adjusted "
            f"over every rule of every feature of the model at a family-wise level of {cfg.alpha:g} "
            f"(at most {cfg.feature_alpha:g} per feature); a rule fires when its q-value is below that level "
            f"and its effect is at least its floor ({cfg.effect_floor:g} / n_eff^0.25). "
        )
    else:
        rules = (
            f"Verdicts ({cfg.mode}); q: p-value after the Benjamini-Hochberg correction over the features. "
            f"Numeric: drift when PSI &ge; {'its sample-size threshold' if cfg.mode == 'adaptive' else _fmt(cfg.psi_threshold, 2)}, "
            f"or KS q &lt; {cfg.ks_alpha:g} and Wasserstein/σ &ge; {cfg.wasserstein_threshold:g}. Categorical: χ² q "
            f"&lt; {cfg.chi2_alpha:g} below {cfg.chi2_max_rows:,} rows, else Jensen-Shannon &ge; "
            f"{'its sample-size threshold' if cfg.mode == 'adaptive' else f'{cfg.js_threshold:g}'}. "
        )
    return (
        f"<footer>{scores}{rules}Fewer than {cfg.min_samples:,} rows: no verdict. The dataset drifts when at "
        f"least {cfg.dataset_drift_share:.0%} of the input features do. Data quality is computed from the rows "
        f"themselves. Generated by modeltel {__version__}; the page needs no network and no scripts.</footer>"
    )


#: The page, top to bottom. Each section renders from the report alone and may return "".
SECTIONS: list[Callable[[DriftReport], str]] = [
    _section_header,
    _section_banner,
    _section_quality,
    _section_performance,
    _section_timeline,
    _section_ranking,
    _section_multivariate,
    _section_cards,
    _section_footer,
]


def _render(report: DriftReport) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(report.title)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_CSS}</style></head><body>",
    ]
    out += [html_ for section in SECTIONS if (html_ := section(report))]
    out.append("</body></html>")
    return "\n".join(out)
