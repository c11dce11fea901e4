"""Reporter inputs: a sensor's values in a window, a fixed quantity, or a time-ranged list.

An input is written as in FlexMeasures' flex-context fields:

- a sensor reference ``{"sensor": 3}`` (optionally ``"source-types": ["scheduler"]``,
  ``"exclude-source-types": [...]``): one value per event as known ``as_of`` — observed values
  before schedules before forecasts, then the latest belief (:func:`preferred_values`) — in
  the sensor's unit;
- a fixed quantity ``"500 kW"`` (every event of the report's grid);
- a time-ranged list ``[{"start": "...", "end": "...", "value": "200 kW"}, ...]``.

Every input becomes a :class:`Series`: a frame of ``event_start`` (UTC) and ``value`` with its
unit and resolution. Bringing a series to another resolution (:func:`to_resolution`) repeats an
intensive value (power, price) over the finer steps it covers (forward fill within its event),
splits energy evenly, and averages (intensive) or sums (energy) to a coarser multiple; any
other change of resolution is refused with both resolutions named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import Sensor
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import REPORT_FRAME_SCHEMA, UTC_US, ReportError, coarsen
from flex_pipelines.time import floor_to, format_duration, parse_datetime
from flex_pipelines.units import UnitError, convert, is_energy_unit, parse_quantity

__all__ = [
    "Series",
    "preferred_values",
    "read_input",
    "to_resolution",
    "grid",
    "is_sensor_ref",
    "sensor_ids_of",
]

_RANK = {"forecaster": 2, "scheduler": 1}


def preferred_values(
    store: BeliefStore,
    sensor_id: int,
    start: datetime | None,
    end: datetime | None,
    *,
    as_of: datetime | None = None,
    source_types: Sequence[str] | None = None,
    exclude_source_types: Sequence[str] | None = None,
) -> pl.DataFrame:
    """One belief per event (a belief frame), preferring what reports should settle on:
    observed values (measurements, published prices) over schedules over forecasts; within a
    kind the latest belief, then the probability closest to 0.5, then the higher source id —
    the same rule as the KPI SQL (``sql_parts.SOURCE_RANK``)."""
    frame = store.search_beliefs(
        sensor_id,
        start,
        end,
        as_of=as_of,
        source_types=source_types,
        exclude_source_types=exclude_source_types,
        most_recent=True,
    )
    if frame.is_empty():
        return frame
    types = {src.id: _RANK.get(src.type, 0) for src in store.list_sources()}
    return (
        frame.with_columns(
            pl.col("source_id")
            .replace_strict(types, default=0, return_dtype=pl.Int8)
            .alias("_rank"),
            (pl.col("cumulative_probability") - 0.5).abs().alias("_dev"),
        )
        .sort(
            ["event_start", "_rank", "belief_time", "_dev", "cumulative_probability", "source_id"],
            descending=[False, False, True, False, False, True],
        )
        .unique("event_start", keep="first", maintain_order=True)
        .drop("_rank", "_dev")
    )


@dataclass(frozen=True)
class Series:
    """Values of one input: ``frame`` has ``event_start`` (UTC) and ``value`` in ``unit``."""

    name: str
    frame: pl.DataFrame
    unit: str
    resolution: timedelta  # timedelta(0) for a fixed quantity (fits any grid)
    sensor: Sensor | None = None
    belief_time: datetime | None = None  # the latest belief time among the values

    @property
    def label(self) -> str:
        if self.sensor is not None:
            return f"{self.name} (sensor {self.sensor.id}, {self.sensor.name})"
        return self.name

    def converted(self, unit: str) -> Series:
        """The series in another unit (energy↔power through its resolution)."""
        try:
            factor = float(
                convert(1.0, self.unit, unit, resolution=self.resolution or None)  # type: ignore[arg-type]
            )
        except UnitError as exc:
            raise ReportError(f"input {self.label} in {self.unit!r}: {exc}") from exc
        return Series(
            self.name,
            self.frame.with_columns(pl.col("value") * factor),
            unit,
            self.resolution,
            self.sensor,
            self.belief_time,
        )


def is_sensor_ref(spec: Any) -> bool:
    return isinstance(spec, Mapping) and "sensor" in spec


def sensor_ids_of(spec: Any) -> list[int]:
    return [int(spec["sensor"])] if is_sensor_ref(spec) else []


def grid(start: datetime, end: datetime, resolution: timedelta) -> pl.Series:
    """Event starts of ``resolution`` in [start, end), UTC."""
    if resolution <= timedelta(0):
        raise ReportError(f"resolution {resolution} must be positive")
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    if e <= s:
        return pl.Series("event_start", [], dtype=UTC_US)
    return pl.datetime_range(
        s,
        e - resolution,
        interval=f"{int(resolution.total_seconds())}s",
        time_unit="us",
        time_zone="UTC",
        eager=True,
    ).alias("event_start")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=REPORT_FRAME_SCHEMA)


def read_input(
    store: BeliefStore,
    spec: Any,
    field: str,
    start: datetime,
    end: datetime,
    *,
    resolution: timedelta | None = None,
    as_of: datetime | None = None,
    default_unit: str | None = None,
) -> Series:
    """Read one input for the window [start, end).

    :param field: the config field the input came from (named in errors).
    :param resolution: the grid for fixed quantities and time-ranged lists (sensors keep their
        own resolution; see :func:`to_resolution`).
    :param default_unit: the unit of bare numbers.
    """
    if is_sensor_ref(spec):
        return _read_sensor(store, spec, field, start, end, as_of)
    if isinstance(spec, str | int | float) and not isinstance(spec, bool):
        try:
            q = parse_quantity(spec, default_unit)
        except UnitError as exc:
            raise ReportError(f"config field {field!r} = {spec!r}: {exc}") from exc
        return Series(field, pl.DataFrame({"value": [q.magnitude]}), q.unit, timedelta(0))
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if resolution is None:
            raise ReportError(
                f"config field {field!r} is a time-ranged list; the report needs a 'resolution' "
                f"(or a sensor input) to lay it on a grid"
            )
        return _segments(spec, field, start, end, resolution, default_unit)
    raise ReportError(
        f"config field {field!r} = {spec!r} is neither a sensor reference such as "
        f"{{'sensor': 3}}, a quantity such as '500 kW', nor a list of "
        f"{{'start', 'end', 'value'}} segments"
    )


def _read_sensor(
    store: BeliefStore,
    spec: Mapping[str, Any],
    field: str,
    start: datetime,
    end: datetime,
    as_of: datetime | None,
) -> Series:
    try:
        sensor = store.get_sensor(int(spec["sensor"]))
    except (TypeError, ValueError) as exc:
        raise ReportError(
            f"config field {field!r}: sensor {spec['sensor']!r} is not an id"
        ) from exc
    q_start = start
    if sensor.event_resolution > timedelta(0):
        q_start = floor_to(start, sensor.event_resolution)  # a coarser event covering `start`
    frame = preferred_values(
        store,
        sensor.id,
        q_start,
        end,
        as_of=as_of,
        source_types=spec.get("source-types"),
        exclude_source_types=spec.get("exclude-source-types"),
    )
    bt = frame["belief_time"].max() if not frame.is_empty() else None
    out = frame.select("event_start", pl.col("event_value").alias("value"))
    series = Series(field, out, sensor.unit, sensor.event_resolution, sensor, bt)  # type: ignore[arg-type]
    if spec.get("unit"):
        series = series.converted(str(spec["unit"]))
    return series


def _segments(
    spec: Sequence[Any],
    field: str,
    start: datetime,
    end: datetime,
    resolution: timedelta,
    default_unit: str | None,
) -> Series:
    events = grid(floor_to(start, resolution), end, resolution)
    values = pl.Series("value", [None] * len(events), dtype=pl.Float64)
    unit = None
    frame = pl.DataFrame([events, values])
    for i, seg in enumerate(spec):
        where = f"config field {field!r} item {i}"
        if not isinstance(seg, Mapping) or not {"start", "end", "value"} <= set(seg):
            raise ReportError(f"{where} = {seg!r} needs 'start', 'end' and 'value'")
        try:
            s = parse_datetime(seg["start"])
            e = parse_datetime(seg["end"])
            q = parse_quantity(seg["value"], default_unit)
        except (UnitError, ValueError) as exc:
            raise ReportError(f"{where}: {exc}") from exc
        if unit is None:
            unit = q.unit
        value = q.magnitude if q.unit == unit else float(convert(q.magnitude, q.unit, unit))
        inside = (pl.col("event_start") >= s.astimezone(UTC)) & (
            pl.col("event_start") < e.astimezone(UTC)
        )
        frame = frame.with_columns(
            pl.when(inside).then(pl.lit(value)).otherwise(pl.col("value")).alias("value")
        )
    if unit is None:
        raise ReportError(f"config field {field!r} is an empty list")
    frame = frame.drop_nulls("value")
    return Series(field, frame, unit, resolution)


def to_resolution(series: Series, resolution: timedelta, start: datetime, end: datetime) -> Series:
    """The series on a grid of ``resolution`` within [start, end) (see module docstring)."""
    s_utc, e_utc = start.astimezone(UTC), end.astimezone(UTC)
    own = series.resolution
    frame = series.frame
    if own == timedelta(0) and "event_start" not in frame.columns:  # a fixed quantity
        ev = grid(s_utc, e_utc, resolution)
        frame = pl.DataFrame([ev, pl.Series("value", [frame["value"][0]] * len(ev))])
        return Series(series.name, frame, series.unit, resolution, series.sensor, None)
    extensive = is_energy_unit(series.unit)
    if own == resolution or frame.is_empty():
        pass
    elif own == timedelta(0):
        raise ReportError(
            f"input {series.label} holds instantaneous values (no event resolution); it cannot "
            f"be brought to {format_duration(resolution)} events"
        )
    elif own > resolution and own.total_seconds() % resolution.total_seconds() == 0:
        k = int(own.total_seconds() // resolution.total_seconds())
        offsets = pl.DataFrame(
            {"_k": pl.Series([i * resolution for i in range(k)], dtype=pl.Duration("us"))}
        )
        frame = frame.join(offsets, how="cross").select(
            (pl.col("event_start") + pl.col("_k")).alias("event_start"),
            (pl.col("value") / k) if extensive else pl.col("value"),
        )
    elif own < resolution and resolution.total_seconds() % own.total_seconds() == 0:
        frame = coarsen(frame, resolution, extensive)
    else:
        raise ReportError(
            f"input {series.label} has resolution {format_duration(own)}, which cannot be "
            f"brought to {format_duration(resolution)} (neither a multiple nor a divisor)"
        )
    frame = frame.filter((pl.col("event_start") >= s_utc) & (pl.col("event_start") < e_utc)).sort(
        "event_start"
    )
    return Series(series.name, frame, series.unit, resolution, series.sensor, series.belief_time)
