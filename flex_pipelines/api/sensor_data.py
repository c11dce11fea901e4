"""Sensor data in and out in FlexMeasures' format: values over a start and a duration.

Posting: ``N`` values over ``duration`` have a resolution ``duration / N``; it must equal the
sensor's resolution or be a whole multiple of it (then values are upsampled: repeated for
power, prices and other intensive units, split evenly for energy units). Values are converted
from ``unit`` to the sensor's unit. The belief time is ``prior`` (or ``belief-time``) when given;
with ``horizon`` it is the knowledge time minus the horizon; with neither it is the knowledge
time (measurements) but never later than the time of receipt (forecasts).

Posting the same values again stores nothing: about the past they carry the same belief time
(the same beliefs); about the future they are believed at receipt, and the store does not save
a belief that repeats its source's most recent one (``save_beliefs(changed_only=True)``). Two
users correcting each other about the past both believe at the knowledge time; the later post
wins (the store breaks ties by ingestion).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from flex_pipelines.api.errors import bad_request
from flex_pipelines.beliefs.knowledge import knowledge_time_expr
from flex_pipelines.beliefs.model import Sensor
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import (
    add_duration,
    format_duration,
    parse_datetime,
    parse_duration,
    parse_timedelta,
)
from flex_pipelines.units import UnitError, convert, is_energy_unit


def aware(field: str, value: str) -> datetime:
    """An ISO 8601 timestamp that must carry a UTC offset."""
    try:
        return parse_datetime(value)
    except FlexPipelinesError as exc:
        raise bad_request(f"field {field!r}: {exc}", "INVALID_DATETIME") from exc
    except (ValueError, OverflowError) as exc:
        raise bad_request(f"field {field!r}: cannot read {value!r} as a timestamp") from exc


def window(start_text: str, duration_text: str) -> tuple[datetime, datetime]:
    start = aware("start", start_text)
    try:
        end = add_duration(start, parse_duration(duration_text))
    except (FlexPipelinesError, ValueError, OverflowError) as exc:
        raise bad_request(f"field 'duration' {duration_text!r}: {exc}", "INVALID_PERIOD") from exc
    if end <= start:
        raise bad_request(f"field 'duration' {duration_text!r} is not positive", "INVALID_PERIOD")
    return start, end


def timedelta_field(field: str, text: str) -> timedelta:
    try:
        return parse_timedelta(text)
    except (FlexPipelinesError, ValueError, OverflowError) as exc:
        raise bad_request(f"field {field!r} {text!r}: {exc}") from exc


def beliefs_from_post(
    sensor: Sensor,
    body: dict[str, Any],
    source_id: int,
    max_values: int,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Turn a FlexMeasures sensor-data message into a belief frame in the sensor's unit."""
    now = now or datetime.now(UTC)
    raw = body["values"]
    values = raw if isinstance(raw, list) else [raw]
    n = len(values)
    if n == 0:
        raise bad_request("field 'values' is empty")
    if n > max_values:
        raise bad_request(f"field 'values' has {n} values; at most {max_values} per request")
    start, end = window(body["start"], body["duration"])
    span = end - start
    step = span / n
    for i, v in enumerate(values):
        if v is not None and not math.isfinite(v):
            raise bad_request(
                f"field 'values': value {v} at position {i} (event {(start + i * step).isoformat()}) "
                "is not a finite number"
            )
    if step * n != span:
        raise bad_request(
            f"{n} values do not divide duration {body['duration']} into equal steps",
            "INVALID_RESOLUTION",
        )
    res = sensor.event_resolution
    repeat = 1
    if res > timedelta(0):
        if step < res or step % res:
            raise bad_request(
                f"{n} values over duration {body['duration']} give a resolution of "
                f"{format_duration(step)}, which does not fit the {format_duration(res)} "
                f"resolution of sensor {sensor.id} ({sensor.name})",
                "INVALID_RESOLUTION",
            )
        repeat = step // res
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    unit = body["unit"]
    if unit != sensor.unit:
        try:
            with np.errstate(over="ignore"):  # an overflow is refused below, naming its event
                arr = np.asarray(
                    convert(arr, unit, sensor.unit, step if step > timedelta(0) else None)
                )
        except UnitError as exc:
            raise bad_request(
                f"unit {unit!r} does not fit sensor {sensor.id} ({sensor.name}, {sensor.unit}): {exc}",
                "INVALID_UNIT",
            ) from exc
    if repeat > 1:
        arr = np.repeat(arr, repeat)
        if is_energy_unit(sensor.unit):
            arr = arr / repeat
        step = res
    overflow = np.flatnonzero(np.isinf(arr))
    if overflow.size:
        i = int(overflow[0])
        raise bad_request(
            f"field 'values': value {values[i // repeat]} {unit} at position {i // repeat} (event "
            f"{(start + i * step).isoformat()}) is not a finite number in {sensor.unit}"
        )
    start_utc = start.astimezone(UTC)
    starts = [start_utc + i * step for i in range(len(arr))]
    frame = pl.DataFrame(
        {
            "event_start": pl.Series(starts, dtype=pl.Datetime("us", "UTC")),
            "event_value": arr,
        }
    ).filter(pl.col("event_value").is_not_nan())
    if frame.is_empty():
        raise bad_request("field 'values' holds no numbers (all null)")
    prior = body.get("prior") or body.get("belief_time")
    horizon = body.get("horizon")
    if prior and horizon:
        raise bad_request("give 'prior' or 'horizon', not both")
    kt = knowledge_time_expr(pl.col("event_start"), sensor)
    if prior:
        bt = aware("prior", prior)
        if bt > now + timedelta(minutes=5):
            raise bad_request(
                f"field 'prior' {prior} is in the future (server time {now.isoformat(timespec='seconds')})"
            )
        belief = pl.lit(bt.astimezone(UTC)).dt.cast_time_unit("us")
    elif horizon:
        belief = kt - pl.lit(timedelta_field("horizon", horizon))
    else:
        belief = pl.min_horizontal(kt, pl.lit(now.astimezone(UTC)).dt.cast_time_unit("us"))
    return frame.with_columns(
        pl.lit(sensor.id, pl.Int64).alias("sensor_id"),
        belief.alias("belief_time"),
        pl.lit(source_id, pl.Int64).alias("source_id"),
        pl.lit(0.5).alias("cumulative_probability"),
    ).select(
        "sensor_id",
        "event_start",
        "belief_time",
        "source_id",
        "cumulative_probability",
        "event_value",
    )


def values_on_grid(
    frame: pl.DataFrame, start: datetime, n: int, step: timedelta
) -> list[float | None]:
    """One value per step from ``start`` (None where nothing is known)."""
    out: list[float | None] = [None] * n
    if frame.is_empty():
        return out
    start_us = int(start.astimezone(UTC).timestamp() * 1_000_000)
    step_us = int(step.total_seconds() * 1_000_000)
    us = frame["event_start"].dt.epoch("us").to_numpy()
    vals = frame["event_value"].to_numpy()
    for t, v in zip(us, vals, strict=True):
        off = int(t) - start_us
        if off % step_us == 0 and 0 <= off // step_us < n:
            out[off // step_us] = float(v)
    return out


def values_in_unit(
    values: list[float | None], sensor: Sensor, unit: str | None, step: timedelta
) -> tuple[list[float | None], str]:
    """Values in the sensor's unit converted to ``unit`` (400 when it does not fit)."""
    out_unit = unit or sensor.unit
    if out_unit == sensor.unit:
        return values, out_unit
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    try:
        arr = np.asarray(convert(arr, sensor.unit, out_unit, step))
    except UnitError as exc:
        raise bad_request(
            f"unit {out_unit!r} does not fit sensor {sensor.id} ({sensor.unit}): {exc}",
            "INVALID_UNIT",
        ) from exc
    return [None if np.isnan(v) else float(v) for v in arr], out_unit
