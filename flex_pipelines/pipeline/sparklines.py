"""Text sparklines of a schedule: what the Dagster UI shows in a materialization's metadata
without a click (it renders text inline, but Markdown only below 1,000 characters, so a PNG
chart stays behind "[Show Markdown]"). No dagster here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.errors import FlexPipelinesError

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], width: int = 24) -> str:
    """``values`` averaged into at most ``width`` bins, drawn with eight bar heights (a gap for
    a bin without values)."""
    if not values:
        return ""
    n = min(width, len(values))
    bins: list[float | None] = []
    for i in range(n):
        chunk = [
            v for v in values[i * len(values) // n : (i + 1) * len(values) // n] if v is not None
        ]
        bins.append(sum(chunk) / len(chunk) if chunk else None)
    known = [b for b in bins if b is not None]
    if not known:
        return " " * n
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    return "".join(
        " " if b is None else BARS[round((b - lo) / span * (len(BARS) - 1))] for b in bins
    )


def _line(label: str, unit: str, values: list[float | None]) -> str | None:
    known = [v for v in values if v is not None]
    if not known:
        return None
    return f"{sparkline(values)}  {label} {min(known):.0f}…{max(known):.0f} {unit}"


def schedule_sparklines(
    store: BeliefStore, power_sensor_id: int, start: datetime, end: datetime
) -> str | None:
    """Price, power and state of charge of a device's schedule in [start, end) as three
    sparklines (hourly bins over a day) with their ranges, or None when nothing is scheduled."""
    from flex_pipelines.reporting.base import ReportError
    from flex_pipelines.reporting.charts import schedule_chart_data

    try:
        data = schedule_chart_data(store, power_sensor_id, start, end, source_types=["scheduler"])
    except (ReportError, FlexPipelinesError):
        return None
    if data.is_empty():
        return None
    lines = [
        _line("price", "EUR/MWh", _column(data, "price")),
        _line("power", "kW", _column(data, "power_kw")),
        _line("SoC", "kWh", _column(data, "soc_kwh")),
    ]
    return "\n".join(x for x in lines if x)


def _column(data: pl.DataFrame, name: str) -> list[float | None]:
    return data[name].to_list() if name in data.columns else []
