"""Backtest charts: cumulative savings per variant and value capture per day (PNG with
matplotlib through reporting's chart helpers; a self-contained HTML page with the PNG inline and
the totals; series for the CLI's terminal charts)."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from pathlib import Path

import numpy as np

from flex_pipelines.backtest.results import BacktestResult

__all__ = ["backtest_chart_png", "backtest_html", "cumulative_savings", "daily_capture"]


def _day_times(result: BacktestResult) -> list[datetime]:
    return [datetime(d.day.year, d.day.month, d.day.day) for d in result.days]


def cumulative_savings(result: BacktestResult) -> dict[str, tuple[list[datetime], list[float]]]:
    """Per variant: (days, cumulative savings in the site's currency)."""
    xs = _day_times(result)
    return {
        v: (xs, np.cumsum([d.savings(v) for d in result.days]).tolist())
        for v in result.variant_names
    }


def daily_capture(
    result: BacktestResult, variants: list[str] | None = None
) -> dict[str, tuple[list[datetime], list[float]]]:
    """Per variant but ``perfect``: (days, value capture per day; days without a gap left out)."""
    out = {}
    for v in variants or [n for n in result.variant_names if n != "perfect"]:
        pairs = [(x, d.capture(v)) for x, d in zip(_day_times(result), result.days, strict=True)]
        kept = [(x, c) for x, c in pairs if c is not None]
        out[v] = ([x for x, _ in kept], [float(c) for _, c in kept])
    return out


def backtest_chart_png(result: BacktestResult, path: str | Path | None = None) -> bytes:
    """Two panels: cumulative savings per variant, and value capture per day."""
    from flex_pipelines.reporting.charts import pyplot, save_png

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {v: palette[i % len(palette)] for i, v in enumerate(result.variant_names)}
    for v, (xs, ys) in cumulative_savings(result).items():
        width = 2.2 if v in ("perfect", "forecast") else 1.2
        ax1.plot(xs, ys, label=v, linewidth=width, color=color[v])
    ax1.set_ylabel(f"cumulative savings ({result.currency})")
    ax1.set_title(
        f"Backtest of {result.site_name}, {result.first} to {result.last} "
        f"(viewpoint {result.gate_closure} the day before)"
    )
    ax1.legend(ncol=4, fontsize=8, frameon=False)
    ax1.grid(alpha=0.3)
    for v, (xs, ys) in daily_capture(result).items():
        ax2.plot(xs, ys, marker=".", linestyle="-", linewidth=0.8, label=v, color=color[v])
    ax2.axhline(1.0, color="black", linewidth=0.6)
    ax2.legend(ncol=4, fontsize=8, frameon=False)
    ax2.set_ylabel("value capture per day")
    ax2.grid(alpha=0.3)
    fig.autofmt_xdate()
    return save_png(fig, path)


def backtest_html(result: BacktestResult, path: str | Path, png: bytes | None = None) -> Path:
    """A self-contained HTML page: the chart (inline PNG) and the per-variant totals."""
    png = png or backtest_chart_png(result)
    rows = []
    for t in result.totals():
        cap = "" if t.value_capture is None else f"{100 * t.value_capture:.1f} %"
        rows.append(
            f"<tr><td>{html.escape(t.variant)}</td><td>{t.cost:.2f}</td><td>{t.savings:.2f}</td>"
            f"<td>{cap}</td><td>{t.worst_decile_savings:.2f}</td><td>{t.over_limit_mwh:.3f}</td>"
            f"<td>{1000 * t.solve_s_per_day:.0f}</td></tr>"
        )
    cur = html.escape(result.currency)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Backtest {html.escape(result.site_name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Backtest: {html.escape(result.site_name)}, {result.first} to {result.last}</h1>
<p>{len(result.days)} days scheduled at {result.gate_closure} the day before,
{len(result.skipped)} skipped; costs in {cur} at realised prices and loads.</p>
<img alt="cumulative savings and value capture" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<table><tr><th>variant</th><th>cost</th><th>savings</th><th>value capture</th>
<th>worst-decile savings/day</th><th>over limit (MWh)</th><th>solve ms/day</th></tr>
{"".join(rows)}</table></body></html>
"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
