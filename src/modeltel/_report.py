"""Offline drift report: production data against a baseline, as one self-contained HTML page.

The page puts the dataset verdict on top, then a ranked table, then one card per feature
(most drifted first) with the baseline and production histograms overlaid as inline SVG.
No scripts, fonts or images are fetched: the file opens anywhere, offline.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modeltel import _drift
from modeltel._baseline import Baseline, FeatureBaseline, ProductionHistograms, _chunks

__all__ = ["DriftReport", "drift_report"]

BASE_COLOR = "#4c78a8"
PROD_COLOR = "#f58518"
VERDICT_COLOR = {"drift": "#c0392b", "no_drift": "#2e7d32", "insufficient_data": "#7f8c8d"}
VERDICT_TEXT = {"drift": "drift", "no_drift": "no drift", "insufficient_data": "insufficient data"}


@dataclass
class DriftReport:
    """The result of :func:`drift_report`: scores, verdicts and the histograms behind them."""

    baseline: Baseline
    result: _drift.DatasetDrift
    reference: dict[str, _drift.Histogram]
    production: dict[str, _drift.Histogram]
    rows: int
    title: str

    @property
    def verdict(self) -> str:
        return self.result.verdict

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (non-finite scores become strings)."""

        def clean(v: float) -> float | str:
            return v if math.isfinite(v) else str(v)

        return {
            "model": self.baseline.model,
            "version": self.baseline.version,
            "baseline_id": self.baseline.id,
            "rows": self.rows,
            "verdict": self.result.verdict,
            "drifted": self.result.drifted,
            "evaluated": self.result.evaluated,
            "features": [
                {
                    "name": fd.name,
                    "role": fd.role,
                    "kind": fd.kind,
                    "verdict": fd.verdict,
                    "reasons": fd.reasons,
                    "n_production": fd.n_production,
                    "scores": {k: clean(v) for k, v in fd.scores.items()},
                }
                for fd in self.result.features
            ],
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the HTML page (or JSON when the path ends in .json)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        else:
            path.write_text(self.to_html(), encoding="utf-8")
        return path

    def to_html(self) -> str:
        return _render(self)


def drift_report(
    baseline: Baseline | str | os.PathLike[str],
    data: Any,
    *,
    predictions: Any = None,
    targets: Any = None,
    config: _drift.DriftConfig | None = None,
    title: str | None = None,
) -> DriftReport:
    """Compare production ``data`` (any input type, or an iterable of chunks) with a baseline.

    Example::

        report = modeltel.drift_report("baselines/fraud-3.1.0.json", X_last_week)
        report.save("drift.html")
        print(report.verdict)
    """
    if not isinstance(baseline, Baseline):
        baseline = Baseline.load(baseline)
    prod = ProductionHistograms(baseline)
    pieces: Iterable[tuple[Any, Any, Any]]
    if predictions is None and targets is None:
        pieces = ((x, None, None) for x in _chunks(data))
    else:
        pieces = [(data, predictions, targets)]
    for x, p, t in pieces:
        prod.add(x, predictions=p, targets=t)
    return _compare(baseline, prod, config, title)


def _compare(
    baseline: Baseline, prod: ProductionHistograms, config: _drift.DriftConfig | None, title: str | None
) -> DriftReport:
    reference = baseline.histograms()
    production = prod.histograms()
    outputs = list(baseline.predictions) + list(baseline.targets)
    result = _drift.evaluate(reference, production, config, outputs=outputs)
    return DriftReport(
        baseline=baseline,
        result=result,
        reference=reference,
        production=production,
        rows=prod.rows,
        title=title or f"Drift report: {baseline.model} {baseline.version}",
    )


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


def _svg_histogram(fb: FeatureBaseline, ref: _drift.Histogram, prod: _drift.Histogram | None) -> str:
    """Baseline and production proportions per bucket, overlaid (equal-width bucket slots)."""
    r = ref.counts / ref.total if ref.total else np.zeros(ref.counts.size)
    p = prod.counts / prod.total if prod is not None and prod.total else np.zeros(ref.counts.size)
    n = r.size
    width, height, left, bottom, top = 560, 190, 44, 42, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(float(r.max(initial=0)), float(p.max(initial=0)), 1e-9)
    step = next((t for t in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25) if 4 * t >= peak), 0.25)
    ymax = step * math.ceil(peak / step - 1e-9)
    slot = plot_w / max(n, 1)
    parts = [
        f'<svg class="hist" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="histogram of {_e(fb.name)}: baseline and production" xmlns="http://www.w3.org/2000/svg">'
    ]
    tick = 0.0
    while tick <= ymax + 1e-12:
        y = top + plot_h - tick / ymax * plot_h
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3" stroke-width="1"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">{tick:.0%}</text>'
            if step >= 0.01
            else f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">{tick:.1%}</text>'
        )
        tick += step
    for i in range(n):
        x = left + i * slot
        for values, color, cls, inset in ((r, BASE_COLOR, "base", 0.08), (p, PROD_COLOR, "prod", 0.22)):
            h = values[i] / ymax * plot_h
            parts.append(
                f'<rect class="{cls}" x="{x + slot * inset:.2f}" y="{top + plot_h - h:.2f}" '
                f'width="{slot * (1 - 2 * inset):.2f}" height="{h:.2f}" fill="{color}" fill-opacity="0.6">'
                f"<title>{_e(_bucket_name(fb, i))}: {'baseline' if cls == 'base' else 'production'} {values[i]:.1%}</title></rect>"
            )
    # x labels
    if fb.kind == "categorical":
        labels = list(fb.categories) + ["__other__"]
        step = max(1, math.ceil(n / 12))
        for i in range(0, n, step):
            x = left + (i + 0.5) * slot
            text = labels[i] if len(labels[i]) <= 10 else labels[i][:9] + "\u2026"
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle" fill="#444">{_e(text)}</text>'
            )
    elif fb.discrete:
        # One bucket per training value (bucket 0 = below the smallest, last = above the largest).
        values = fb.edges[1:]
        step = max(1, math.ceil(len(values) / 12))
        for i in range(0, len(values), step):
            x = left + (i + 1.5) * slot
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle" fill="#444">{_e(_edge_label(values[i]))}</text>'
            )
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="#888">'
            "one bucket per training value (first: below the smallest, last: above the largest)</text>"
        )
    else:
        edges = fb.edges
        step = max(1, math.ceil(len(edges) / 7))
        for j in range(0, len(edges), step):
            x = left + (j + 1) * slot
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="#888"/>')
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 15}" font-size="10" text-anchor="middle" fill="#444">{_e(_edge_label(edges[j]))}</text>'
            )
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="#888">'
            "baseline quantile buckets, drawn equal width (tick = bucket upper edge)</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _bucket_name(fb: FeatureBaseline, i: int) -> str:
    if fb.kind == "categorical":
        return (list(fb.categories) + ["__other__"])[i]
    lo = "-inf" if i == 0 else _edge_label(fb.edges[i - 1])
    hi = "+inf" if i == len(fb.edges) else _edge_label(fb.edges[i])
    return f"({lo}, {hi}]"


def _badge(verdict: str) -> str:
    return f'<span class="badge" style="background:{VERDICT_COLOR[verdict]}">{VERDICT_TEXT[verdict]}</span>'


def _score_cells(fd: _drift.FeatureDrift) -> str:
    s = fd.scores
    test = s.get("ks_qvalue", s.get("chi2_qvalue"))
    effect = s.get("wasserstein_normalized", s.get("linf"))
    return (
        f'<td class="num">{_fmt(s.get("psi"))}</td>'
        f'<td class="num">{_fmt(s.get("jensen_shannon"))}</td>'
        f'<td class="num">{_fmt(effect)}</td>'
        f'<td class="num">{_fmt_p(test)}</td>'
    )


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;background:#f5f6f8;color:#222}
header{padding:18px 28px 8px}h1{font-size:22px;margin:0 0 4px}.meta{color:#666;font-size:13px}
.verdict{margin:12px 28px;padding:16px 20px;border-radius:8px;color:#fff;font-size:20px;font-weight:600}
.verdict small{display:block;font-size:13px;font-weight:400;opacity:.9;margin-top:4px}
table{border-collapse:collapse;margin:8px 28px 16px;background:#fff;font-size:13px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{padding:6px 10px;border-bottom:1px solid #eee;text-align:left}th{background:#fafafa;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px;margin:0 28px 28px}
.feature{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08);border-left:5px solid #ccc}
.feature h2{font-size:16px;margin:0 0 4px;display:flex;gap:8px;align-items:center}
.feature .kind{color:#888;font-size:12px;font-weight:400}.reasons{font-size:12px;color:#444;margin:2px 0 6px}
.scores{font-size:12px;color:#333}.scores b{font-weight:600}
.legend{margin:0 28px 8px;font-size:13px}.sw{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-1px;opacity:.75}
footer{margin:0 28px 28px;color:#777;font-size:12px}
"""


def _render(report: DriftReport) -> str:
    b = report.baseline
    res = report.result
    fb_all = b.all_features()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cfg = res.config
    if res.verdict == "drift":
        headline = f"Dataset drift: {res.drifted} of {res.evaluated} features drifted"
    elif res.verdict == "no_drift":
        headline = f"No dataset drift: {res.drifted} of {res.evaluated} features drifted"
    else:
        headline = "Insufficient data for a dataset verdict"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(report.title)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(report.title)}</h1>",
        f'<div class="meta">model <b>{_e(b.model)}</b> version <b>{_e(b.version)}</b> &middot; baseline '
        f"<code>{_e(b.id)}</code> ({b.rows:,} rows, {_e(b.created_at)}) &middot; production {report.rows:,} rows "
        f"&middot; {now}</div></header>",
        f'<div id="dataset-verdict" class="verdict" data-verdict="{res.verdict}" '
        f'style="background:{VERDICT_COLOR[res.verdict]}">{_e(headline)}'
        f"<small>dataset drift when at least {cfg.dataset_drift_share:.0%} of the input features drift "
        f"({res.share:.0%} did) &middot; {cfg.mode} thresholds</small></div>",
        '<table id="ranking"><thead><tr><th>#</th><th>feature</th><th>role</th><th>kind</th><th>verdict</th>'
        '<th class="num">PSI</th><th class="num">Jensen-Shannon</th><th class="num">Wasserstein/σ or L∞</th>'
        '<th class="num">KS / χ² q</th></tr></thead><tbody>',
    ]
    for rank, fd in enumerate(res.features, 1):
        out.append(
            f'<tr data-feature="{_e(fd.name)}" data-verdict="{fd.verdict}"><td>{rank}</td>'
            f'<td><a href="#f-{_e(fd.name)}">{_e(fd.name)}</a></td><td>{fd.role}</td><td>{fd.kind}</td>'
            f"<td>{_badge(fd.verdict)}</td>{_score_cells(fd)}</tr>"
        )
    out.append("</tbody></table>")
    out.append(
        f'<div class="legend"><span class="sw" style="background:{BASE_COLOR}"></span>baseline'
        f'<span class="sw" style="background:{PROD_COLOR}"></span>production (share of rows per bucket)</div>'
    )
    out.append('<div class="grid">')
    for fd in res.features:
        fb = fb_all[fd.name]
        ref = report.reference[fd.name]
        prod = report.production.get(fd.name)
        s = fd.scores
        reasons = "; ".join(fd.reasons) if fd.reasons else (
            "within thresholds" if fd.verdict == "no_drift" else ""
        )
        score_bits = [f"PSI <b>{_fmt(s.get('psi'))}</b>", f"JS <b>{_fmt(s.get('jensen_shannon'))}</b>"]
        if fd.kind == "numeric":
            score_bits += [
                f"KS <b>{_fmt(s.get('ks_statistic'))}</b> (q {_fmt_p(s.get('ks_qvalue', s.get('ks_pvalue')))})",
                f"Wasserstein/σ <b>{_fmt(s.get('wasserstein_normalized'))}</b>",
            ]
            if prod is not None and prod.min is not None and fb.min is not None:
                score_bits.append(f"range {_fmt(fb.min)}..{_fmt(fb.max)} → {_fmt(prod.min)}..{_fmt(prod.max)}")
        else:
            score_bits += [f"χ² p <b>{_fmt_p(s.get('chi2_pvalue'))}</b>", f"L∞ <b>{_fmt(s.get('linf'))}</b>"]
        out.append(
            f'<section class="feature" id="f-{_e(fd.name)}" data-feature="{_e(fd.name)}" data-verdict="{fd.verdict}" '
            f'style="border-left-color:{VERDICT_COLOR[fd.verdict]}">'
            f'<h2>{_e(fd.name)} {_badge(fd.verdict)}<span class="kind">{fd.kind} {fd.role} &middot; '
            f"{fd.n_production:,} rows</span></h2>"
            f'<div class="reasons">{_e(reasons)}</div>'
            f"{_svg_histogram(fb, ref, prod)}"
            f'<div class="scores">{" &middot; ".join(score_bits)}</div></section>'
        )
    out.append("</div>")
    out.append(
        "<footer>Scores from histograms only (docs/drift-math.md). Numeric: drift when PSI &ge; "
        f"{_fmt(cfg.psi_threshold, 2)}, or KS q &lt; {cfg.ks_alpha:g} and Wasserstein/σ &ge; {cfg.wasserstein_threshold:g}. "
        f"Categorical: χ² q &lt; {cfg.chi2_alpha:g} below {cfg.chi2_max_rows:,} rows, else Jensen-Shannon &ge; "
        f"{cfg.js_threshold:g}. Fewer than {cfg.min_samples:,} rows: insufficient data. Generated by modeltel.</footer>"
    )
    out.append("</body></html>")
    return "\n".join(out)
