"""Charts of schedules and costs: PNG files (matplotlib, Agg backend) and Vega-Lite specs.

- :func:`schedule_chart_data` reads what a schedule chart shows from the store: the price
  (currency/MWh), the device's power (kW, consumption positive) and, when the device has one,
  its state of charge (kWh), one row per power event in the window.
- :func:`schedule_chart_png` / :func:`schedule_chart_vega`: price, power and SoC, stacked.
- :func:`cost_chart_png` / :func:`cost_chart_vega`: cost per period (e.g. the daily KPIs) next
  to the baseline cost, with the cumulative savings.
- :func:`png_markdown` embeds a PNG in Markdown (Dagster's ``MetadataValue.md`` shows it).

Vega-Lite specs are plain dicts (schema v5) with the data inlined, so the Dagster UI (as JSON
metadata), a notebook or the Vega editor can render them without extra packages.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import ReportError
from flex_pipelines.reporting.series import preferred_values
from flex_pipelines.units import convert

__all__ = [
    "schedule_chart_data",
    "schedule_chart_png",
    "schedule_chart_vega",
    "cost_chart_png",
    "cost_chart_vega",
    "png_markdown",
]

VEGA_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def _device_sensors(store: BeliefStore, power_sensor_id: int) -> tuple[int | None, int | None]:
    """(price sensor, SoC sensor) for a device power sensor, from the site model: its device's
    ``state-of-charge`` and its site's merged ``consumption-price``."""
    from flex_pipelines.scheduling.references import json_references
    from flex_pipelines.sites import AssetTree

    tree = AssetTree.load(store)
    dev = tree.device_for_sensor(power_sensor_id)
    sensor = tree.sensor(power_sensor_id)
    home = dev.asset.id if dev else sensor.asset_id
    soc = dev.state_of_charge_sensor_id if dev else None
    if home is None:
        return None, soc
    price = tree.merged_flex_context(home).get("consumption-price")
    refs = [r.sensor_id for r in json_references(price, "consumption-price")]
    return (refs[0] if len(refs) == 1 and isinstance(price, dict) else None), soc


def schedule_chart_data(
    store: BeliefStore,
    power_sensor_id: int,
    start: datetime,
    end: datetime,
    *,
    price_sensor_id: int | None = None,
    soc_sensor_id: int | None = None,
    source_types: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Columns event_start (UTC), power_kw, price (currency/MWh, forward-filled), soc_kwh.

    Price and SoC sensors default to the device's flex-context ``consumption-price`` and
    flex-model ``state-of-charge``. ``source_types`` limits the power and SoC beliefs (e.g.
    ``["scheduler"]`` for the schedule only). An empty frame when the window holds no power
    values.
    """
    sensor = store.get_sensor(power_sensor_id)
    found_price, found_soc = _device_sensors(store, power_sensor_id)
    price_sensor_id = price_sensor_id or found_price
    soc_sensor_id = soc_sensor_id or found_soc
    power = preferred_values(store, power_sensor_id, start, end, source_types=source_types)
    factor = float(convert(1.0, sensor.unit, "kW", resolution=sensor.event_resolution))
    out = power.select("event_start", (pl.col("event_value") * factor).alias("power_kw"))
    if price_sensor_id is not None and not out.is_empty():
        ps = store.get_sensor(price_sensor_id)
        prices = preferred_values(store, price_sensor_id, start - ps.event_resolution, end).select(
            "event_start", pl.col("event_value").alias("price")
        )
        out = out.sort("event_start").join_asof(prices.sort("event_start"), on="event_start")
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("price"))
    if soc_sensor_id is not None and not out.is_empty():
        ss = store.get_sensor(soc_sensor_id)
        f_soc = float(convert(1.0, ss.unit, "kWh"))
        soc = preferred_values(store, soc_sensor_id, start, end, source_types=source_types).select(
            "event_start", (pl.col("event_value") * f_soc).alias("soc_kwh")
        )
        out = out.join(soc, on="event_start", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("soc_kwh"))
    return out.sort("event_start")


def pyplot():  # noqa: ANN201
    """matplotlib's pyplot on the Agg backend (no screen), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _local(times: Sequence[datetime], timezone: str | None) -> list[datetime]:
    if timezone is None:
        return list(times)
    from flex_pipelines.time import get_zone

    tz = get_zone(timezone)
    return [t.astimezone(tz) for t in times]


def save_png(fig: Any, path: str | Path | None) -> bytes:
    """The figure as PNG bytes (110 dpi), also written to ``path`` when given."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = buf.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    pyplot().close(fig)
    return data


def schedule_chart_png(
    data: pl.DataFrame,
    path: str | Path | None = None,
    *,
    title: str = "Schedule",
    currency: str = "EUR",
    timezone: str | None = None,
) -> bytes:
    """Price (top), power (middle, bars: consumption up) and SoC (bottom, when present).

    :param data: :func:`schedule_chart_data` output. Returns the PNG bytes (also written to
        ``path`` when given).
    """
    if data.is_empty():
        raise ReportError(f"{title}: no schedule values to chart")
    from matplotlib.dates import DateFormatter

    plt = pyplot()
    has_soc = data["soc_kwh"].drop_nulls().len() > 0
    n = 3 if has_soc else 2
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.4 * n + 0.6), sharex=True)
    t = _local(data["event_start"].to_list(), timezone)
    width = (t[1] - t[0]) if len(t) > 1 else None
    axes[0].step(t, data["price"].to_list(), where="post", color="#d95f02")
    axes[0].set_ylabel(f"price\n({currency}/MWh)")
    axes[0].set_title(title)
    power = data["power_kw"].to_list()
    colors = ["#1b9e77" if p >= 0 else "#7570b3" for p in power]
    bar_w = width.total_seconds() / 86400 if width else 0.01
    axes[1].bar(t, power, width=bar_w, align="edge", color=colors)
    axes[1].axhline(0, color="black", linewidth=0.6)
    axes[1].set_ylabel("power (kW)\n+ consumption")
    if has_soc:
        axes[2].plot(t, data["soc_kwh"].to_list(), color="#e7298a", marker=".", markersize=3)
        axes[2].set_ylabel("state of charge\n(kWh)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[-1].xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M", tz=t[0].tzinfo))
    axes[-1].set_xlabel(f"time ({timezone or 'UTC'})")
    fig.autofmt_xdate()
    return save_png(fig, path)


def _records(data: pl.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for row in data.select(columns).iter_rows(named=True):
        rec = {}
        for k, v in row.items():
            rec[k] = v.isoformat() if isinstance(v, datetime) else v
        out.append(rec)
    return out


def schedule_chart_vega(
    data: pl.DataFrame, *, title: str = "Schedule", currency: str = "EUR"
) -> dict[str, Any]:
    """A Vega-Lite spec (dict) of price, power and SoC, vertically concatenated."""
    values = _records(data, ["event_start", "price", "power_kw", "soc_kwh"])
    x = {"field": "event_start", "type": "temporal", "title": "time"}
    panels: list[dict[str, Any]] = [
        {
            "mark": {"type": "line", "interpolate": "step-after", "color": "#d95f02"},
            "encoding": {
                "x": x,
                "y": {"field": "price", "type": "quantitative", "title": f"price ({currency}/MWh)"},
            },
            "height": 120,
            "width": 640,
        },
        {
            "mark": {"type": "bar", "color": "#1b9e77"},
            "encoding": {
                "x": x,
                "y": {
                    "field": "power_kw",
                    "type": "quantitative",
                    "title": "power (kW, + consumption)",
                },
            },
            "height": 160,
            "width": 640,
        },
    ]
    if data["soc_kwh"].drop_nulls().len():
        panels.append(
            {
                "mark": {"type": "line", "point": True, "color": "#e7298a"},
                "encoding": {
                    "x": x,
                    "y": {
                        "field": "soc_kwh",
                        "type": "quantitative",
                        "title": "state of charge (kWh)",
                    },
                },
                "height": 120,
                "width": 640,
            }
        )
    return {
        "$schema": VEGA_SCHEMA,
        "title": title,
        "data": {"values": values},
        "vconcat": panels,
        "resolve": {"scale": {"x": "shared"}},
    }


def _cost_columns(data: pl.DataFrame) -> tuple[str, str | None]:
    time_col = "day" if "day" in data.columns else "event_start"
    base = "baseline_cost" if "baseline_cost" in data.columns else None
    if "cost" not in data.columns:
        raise ReportError(f"cost chart needs a 'cost' column, got {data.columns}")
    return time_col, base


def cost_chart_png(
    data: pl.DataFrame,
    path: str | Path | None = None,
    *,
    title: str = "Cost",
    currency: str = "EUR",
) -> bytes:
    """Cost per period as bars (with the baseline cost beside it when present) and the
    cumulative savings as a line. ``data``: daily KPIs (``day``, ``cost``, ``baseline_cost``)
    or a per-event cost frame (``event_start``, ``cost``)."""
    time_col, base = _cost_columns(data)
    data = data.filter(pl.col("cost").is_not_null())
    if data.is_empty():
        raise ReportError(f"{title}: no costs to chart")
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.2))
    labels = [str(v)[:16] for v in data[time_col].to_list()]
    x = np.arange(len(labels))
    w = 0.38 if base else 0.7
    cost = data["cost"].to_numpy()
    ax.bar(x - (w / 2 if base else 0), cost, width=w, color="#1b9e77", label="cost")
    handles = []
    if base:
        baseline = data[base].to_numpy()
        ax.bar(
            x + w / 2,
            baseline,
            width=w,
            color="#bbbbbb",
            label="baseline cost",
            hatch="//",
            edgecolor="#888888",
        )
        ax2 = ax.twinx()
        savings = np.cumsum(baseline - cost)
        ax2.plot(x, savings, color="#d95f02", marker="o", label="cumulative savings")
        ax2.set_ylabel(f"cumulative savings ({currency})", color="#d95f02")
        lo, hi = min(0.0, float(savings.min())), max(0.0, float(savings.max()))
        ax2.set_ylim(lo - 0.1 * (hi - lo or 1), hi + 0.1 * (hi - lo or 1))
        handles += ax2.get_legend_handles_labels()[0]
        title += f" — savings {float(savings[-1]):.2f} {currency}"
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel(f"cost ({currency})")
    ax.set_title(title)
    ax.set_xlim(-0.8, len(labels) - 0.2)
    step = max(1, len(labels) // 14)
    ax.set_xticks(x[::step], labels[::step], rotation=30, ha="right")
    handles = ax.get_legend_handles_labels()[0] + handles
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False
    )
    ax.grid(axis="y", alpha=0.3)
    return save_png(fig, path)


def cost_chart_vega(
    data: pl.DataFrame, *, title: str = "Cost", currency: str = "EUR"
) -> dict[str, Any]:
    """A Vega-Lite spec of cost (and baseline cost) per period."""
    time_col, base = _cost_columns(data)
    cols = [time_col, "cost"] + ([base] if base else [])
    values = []
    for rec in _records(data.filter(pl.col("cost").is_not_null()), cols):
        t = str(rec[time_col])
        values.append({"period": t, "kind": "cost", "amount": rec["cost"]})
        if base:
            values.append({"period": t, "kind": "baseline cost", "amount": rec[base]})
    return {
        "$schema": VEGA_SCHEMA,
        "title": title,
        "data": {"values": values},
        "mark": "bar",
        "width": 640,
        "height": 240,
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "title": time_col},
            "xOffset": {"field": "kind"},
            "y": {"field": "amount", "type": "quantitative", "title": f"cost ({currency})"},
            "color": {
                "field": "kind",
                "type": "nominal",
                "scale": {"range": ["#1b9e77", "#bbbbbb"]},
            },
        },
    }


def png_markdown(png: bytes, alt: str = "chart") -> str:
    """Markdown showing a PNG inline (``MetadataValue.md`` in Dagster renders it)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
