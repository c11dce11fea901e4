"""Aggregator: a weighted sum, mean, min or max of several inputs per event.

As FlexMeasures' AggregatorReporter: each input is multiplied by its weight, then the method
combines the weighted values of each event. Headroom = grid capacity − PV::

    {"method": "sum",
     "inputs": [{"name": "capacity", "value": "500 kW"},
                {"name": "pv", "sensor": 3, "weight": -1}],
     "unit": "kW"}            # optional; default: the output sensor's unit, else the first sensor's

Site power = the sum of its devices' power sensors. Fields:

- ``inputs``: list of ``{"sensor": id}`` or ``{"value": "500 kW"}`` (a fixed quantity) or
  ``{"value": [time-ranged list]}``, each with optional ``name``, ``weight`` (default 1),
  ``source-types`` / ``exclude-source-types``;
- ``method``: ``sum`` (default), ``mean``, ``min``, ``max``;
- ``resolution``: resample every sensor to this resolution (means for power, sums for energy);
  without it, sensors of different resolutions are refused;
- ``missing``: ``"drop"`` (default: an event needs a value from every sensor input) or
  ``"zero"`` (a missing value counts as 0).
All inputs are converted to the report unit first; incompatible units are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import ReportError, ReportResult
from flex_pipelines.reporting.common import (
    check_fields,
    config_resolution,
    empty_note,
    finish,
    latest_belief_time,
)
from flex_pipelines.reporting.series import Series, read_input, to_resolution
from flex_pipelines.time import format_duration

__all__ = ["aggregate", "AGGREGATOR_FIELDS"]

AGGREGATOR_FIELDS = {"inputs", "method", "unit", "resolution", "missing"}
_METHODS = {"sum", "mean", "min", "max"}


def _input_spec(item: Any, i: int) -> tuple[str, Any, float, dict[str, Any]]:
    if not isinstance(item, Mapping) or ("sensor" in item) == ("value" in item):
        raise ReportError(
            f"aggregator input {i} = {item!r} needs exactly one of 'sensor' or 'value'"
        )
    name = str(
        item.get("name") or (f"sensor {item['sensor']}" if "sensor" in item else f"input {i}")
    )
    try:
        weight = float(item.get("weight", 1.0))
    except (TypeError, ValueError) as exc:
        raise ReportError(
            f"aggregator input {name!r}: weight {item.get('weight')!r} is not a number"
        ) from exc
    if "sensor" in item:
        spec = {k: item[k] for k in ("sensor", "source-types", "exclude-source-types") if k in item}
    else:
        spec = item["value"]
    return name, spec, weight, dict(item)


def aggregate(
    store: BeliefStore,
    config: Mapping[str, Any],
    start: datetime,
    end: datetime,
    *,
    output_sensor_id: int | None = None,
    as_of: datetime | None = None,
    belief_time: datetime | None = None,
) -> ReportResult:
    """Combine the configured inputs per event over [start, end) (see module docstring)."""
    check_fields(config, AGGREGATOR_FIELDS, "aggregator")
    method = str(config.get("method", "sum"))
    if method not in _METHODS:
        raise ReportError(f"aggregator method {method!r} is not one of {sorted(_METHODS)}")
    missing_rule = str(config.get("missing", "drop"))
    if missing_rule not in ("drop", "zero"):
        raise ReportError(f"aggregator 'missing' = {missing_rule!r} is not one of drop, zero")
    items = config.get("inputs")
    if not isinstance(items, list) or not items:
        raise ReportError("aggregator config needs a non-empty list 'inputs'")
    specs = [_input_spec(item, i) for i, item in enumerate(items)]
    names = [name for name, *_ in specs]
    clash = sorted({n for n in names if names.count(n) > 1 or n in ("event_start", "value")})
    if clash:
        raise ReportError(
            f"aggregator input name(s) {clash} are repeated or reserved; give each input its "
            f"own 'name' (not event_start or value)"
        )
    if not any("sensor" in raw for *_, raw in specs):
        raise ReportError("aggregator config needs at least one sensor input to define its events")
    res_cfg = config_resolution(config)

    series: list[tuple[Series, float]] = []
    for name, spec, weight, _raw in specs:
        s = read_input(store, spec, name, start, end, resolution=res_cfg, as_of=as_of)
        series.append((s, weight))
    sensors = [s for s, _ in series if s.sensor is not None]
    resolutions = {s.resolution for s in sensors}
    if res_cfg is None and len(resolutions) > 1:
        listing = ", ".join(f"{s.label} {format_duration(s.resolution)}" for s in sensors)
        raise ReportError(
            f"aggregator inputs have different resolutions ({listing}); set 'resolution' in the "
            f"config to resample them (means for power, sums for energy)"
        )
    resolution = res_cfg or sensors[0].resolution
    if resolution <= timedelta(0):
        raise ReportError(
            f"aggregator input {sensors[0].label} has no event resolution; set 'resolution'"
        )
    unit = str(config.get("unit") or "")
    if not unit and output_sensor_id is not None:
        unit = store.get_sensor(output_sensor_id).unit
    unit = unit or sensors[0].unit

    frame: pl.DataFrame | None = None
    cols: list[str] = []
    for k, (s, weight) in enumerate(series):
        col = f"_in{k}"
        cols.append(col)
        aligned = to_resolution(s, resolution, start, end).converted(unit)
        part = aligned.frame.select("event_start", (pl.col("value") * weight).alias(col))
        if s.sensor is None:
            continue  # fixed values join below, on the sensors' events
        frame = (
            part if frame is None else frame.join(part, on="event_start", how="full", coalesce=True)
        )
    assert frame is not None
    for k, (s, weight) in enumerate(series):
        if s.sensor is None:
            fixed = to_resolution(s, resolution, start, end).converted(unit).frame
            frame = frame.join(
                fixed.select("event_start", (pl.col("value") * weight).alias(cols[k])),
                on="event_start",
                how="left",
            )
    frame = frame.sort("event_start")
    sensor_cols = [c for c, (s, _) in zip(cols, series, strict=True) if s.sensor is not None]
    n_before = frame.height
    notes: list[str] = []
    if missing_rule == "drop":
        frame = frame.drop_nulls(sensor_cols)
        if frame.height < n_before:
            notes.append(
                f"{n_before - frame.height} event(s) lacked a value of some sensor input and were left out"
            )
    else:
        frame = frame.with_columns(pl.col(c).fill_null(0.0) for c in sensor_cols)
    fixed_cols = [c for c in cols if c not in sensor_cols]
    frame = frame.drop_nulls(fixed_cols)  # time-ranged values cover only part of the window
    combine = {
        "sum": pl.sum_horizontal,
        "mean": pl.mean_horizontal,
        "min": pl.min_horizontal,
        "max": pl.max_horizontal,
    }[method]
    frame = frame.with_columns(combine(cols).alias("value"))
    if frame.is_empty():
        notes.append(empty_note(sensors, start, end))
    result = ReportResult(
        "aggregator",
        start,
        end,
        resolution,
        unit,
        frame.select("event_start", "value"),
        totals={
            "mean": frame["value"].mean() if frame.height else None,
            "min": frame["value"].min() if frame.height else None,
            "max": frame["value"].max() if frame.height else None,
        },
        notes=notes,
        input_belief_time=latest_belief_time(s for s, _ in series),
        extra=frame.rename({c: s.name for c, (s, _) in zip(cols, series, strict=True)}),
    )
    return finish(store, result, output_sensor_id, "AggregatorReporter", config, belief_time)
