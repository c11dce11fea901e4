"""Reading time series files into belief frames (the CSV path of the CLI and the inbox asset).

Like FlexMeasures' ``add beliefs``: a header row, event start in the first column and value in the
second by default; timestamps with a UTC offset keep it, ``timezone`` localises naive ones;
values are converted to the sensor's unit; data at another resolution is resampled to the
sensor's (means for intensive units, sums for energy); off-tick timestamps are refused, or
floored when asked (with a warning).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from flex_pipelines.beliefs.knowledge import knowledge_time_expr
from flex_pipelines.beliefs.model import BELIEF_SCHEMA, Sensor
from flex_pipelines.beliefs.resample import resample_beliefs
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import format_duration, get_zone
from flex_pipelines.units import UnitError, convert


class CSVError(FlexPipelinesError):
    """A file whose rows cannot be read as beliefs."""


@dataclass(frozen=True)
class CSVOptions:
    datecol: int | str = 0
    valuecol: int | str = 1
    skiprows: int = 0
    header: bool = True
    delimiter: str = ","
    timezone: str | None = None
    unit: str | None = None
    belief_time: datetime | None = None
    horizon: timedelta | None = None
    off_tick: str = "reject"  # or "floor"


_OFFSET_RE = r"(Z|[+-]\d{2}:?\d{2})$"


def _to_datetime(s: pl.Series, aware: bool, column: str) -> pl.Series:
    """Parse ISO strings with polars; fall back to Python per value to name the bad one."""
    try:
        out = s.str.to_datetime(time_unit="us", time_zone="UTC" if aware else None, strict=False)
        if out.null_count() == 0:
            return out
    except pl.exceptions.ComputeError:
        pass
    values = []
    for i, text in enumerate(s):
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00") if aware else text)
        except ValueError:
            raise CSVError(f"cannot read {column} {text!r} (row {i + 1}) as a timestamp") from None
        values.append(dt.astimezone(UTC).replace(tzinfo=None) if aware else dt)
    out = pl.Series(s.name, values, dtype=pl.Datetime("us"))
    return out.dt.replace_time_zone("UTC") if aware else out


def parse_timestamps(
    raw: pl.Series, timezone: str | None, column: str = "event_start"
) -> pl.Series:
    """ISO 8601 strings to UTC datetimes; naive strings need ``timezone`` (DST-aware)."""
    s = raw.cast(pl.String).str.strip_chars()
    if s.null_count():
        idx = s.is_null().arg_true()[0]
        raise CSVError(f"{column} is empty in row {idx + 1}")
    has_offset = s.str.contains(_OFFSET_RE)
    if has_offset.all():
        parsed = _to_datetime(s, True, column)
    elif not has_offset.any():
        naive = _to_datetime(s, False, column)
        if timezone is None:
            raise CSVError(
                f"{column} {s[0]!r} has no UTC offset; give --timezone to localise naive times"
            )
        get_zone(timezone)
        try:
            parsed = naive.dt.replace_time_zone(timezone, ambiguous="raise", non_existent="raise")
        except pl.exceptions.ComputeError as exc:
            raise CSVError(
                f"{column} has a local time that does not exist or is ambiguous in {timezone} "
                f"(a DST change): {exc}; give times with UTC offsets"
            ) from exc
        parsed = parsed.dt.convert_time_zone("UTC")
    else:
        first_naive = s.filter(~has_offset)[0]
        raise CSVError(f"{column} mixes times with and without UTC offset, e.g. {first_naive!r}")
    return parsed.alias(column)


def infer_resolution(starts: pl.Series) -> timedelta | None:
    """The most common step between sorted event starts (None for a single event)."""
    diffs = starts.sort().diff().drop_nulls()
    diffs = diffs.filter(diffs > timedelta(0))
    if diffs.is_empty():
        return None
    return diffs.mode().sort()[0]


def read_csv_beliefs(
    source: str | Path | bytes,
    sensor: Sensor,
    source_id: int,
    options: CSVOptions = CSVOptions(),
) -> pl.DataFrame:
    """Read a CSV file into a belief frame for ``sensor`` (values in the sensor's unit)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        raw = pl.read_csv(
            io.BytesIO(data),
            has_header=options.header,
            skip_rows=options.skiprows,
            separator=options.delimiter,
            infer_schema=False,
        )
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise CSVError(f"cannot read {name} as CSV: {exc}") from exc
    cols = raw.columns

    def pick(col: int | str, what: str) -> str:
        if isinstance(col, int) or str(col).isdigit():
            i = int(col)
            if i >= len(cols):
                raise CSVError(f"{name} has {len(cols)} column(s); no {what} column {i}")
            return cols[i]
        if col not in cols:
            raise CSVError(f"{name} has no {what} column {col!r} (columns: {cols})")
        return str(col)

    dcol, vcol = pick(options.datecol, "date"), pick(options.valuecol, "value")
    if raw.is_empty():
        raise CSVError(f"{name} has no data rows")
    starts = parse_timestamps(raw[dcol], options.timezone)
    values = raw[vcol].str.strip_chars().cast(pl.Float64, strict=False)
    bad = values.is_null() | values.is_nan()
    if bad.any():
        i = bad.arg_true()[0]
        raise CSVError(
            f"value {raw[vcol][i]!r} at {starts[i]} (row {i + 1}, column {vcol!r}) is not a number"
        )
    frame = pl.DataFrame({"event_start": starts, "event_value": values})
    data_res = infer_resolution(frame["event_start"]) or sensor.event_resolution
    if options.unit and options.unit != sensor.unit:
        try:
            frame = frame.with_columns(
                pl.Series(
                    "event_value",
                    convert(frame["event_value"].to_numpy(), options.unit, sensor.unit, data_res),
                )
            )
        except UnitError as exc:
            raise CSVError(
                f"unit {options.unit!r} does not fit sensor {sensor.id} ({sensor.unit}): {exc}"
            ) from exc
    dups = frame.filter(pl.col("event_start").is_duplicated())
    if not dups.is_empty():
        first = dups["event_start"][0]
        vals = dups.filter(pl.col("event_start") == first)["event_value"].unique().to_list()
        if len(vals) > 1:
            raise CSVError(f"event {first} appears twice with different values {sorted(vals)}")
        frame = frame.unique("event_start", keep="first")
    frame = frame.sort("event_start")
    # grid: the data's own resolution must be on its grid; resample to the sensor's afterwards
    step = sensor.event_resolution if data_res <= sensor.event_resolution else data_res
    step_us = int(step.total_seconds() * 1e6)
    off = frame.filter(pl.col("event_start").dt.epoch("us") % step_us != 0)
    if not off.is_empty():
        if options.off_tick != "floor":
            raise CSVError(
                f"event_start {off['event_start'][0]} is not on the {format_duration(step)} grid "
                f"({off.height} such row(s)); fix the file or floor them (--off-tick floor)"
            )
        warnings.warn(
            f"{off.height} event start(s) floored to the {format_duration(step)} grid, first "
            f"{off['event_start'][0]}",
            stacklevel=2,
        )
        floored = (pl.col("event_start").dt.epoch("us") // step_us) * step_us
        frame = frame.with_columns(
            floored.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("event_start")
        )
        frame = frame.group_by("event_start", maintain_order=True).agg(pl.col("event_value").mean())
    if options.belief_time is not None and options.horizon is not None:
        raise CSVError("give a belief time or a horizon, not both")
    frame = frame.with_columns(
        pl.lit(sensor.id, pl.Int64).alias("sensor_id"),
        pl.lit(source_id, pl.Int64).alias("source_id"),
        pl.lit(0.5).alias("cumulative_probability"),
    )
    if options.belief_time is not None:
        if options.belief_time.tzinfo is None:
            raise CSVError("--belief-time needs a UTC offset")
        frame = frame.with_columns(
            pl.lit(options.belief_time)
            .dt.convert_time_zone("UTC")
            .dt.cast_time_unit("us")
            .alias("belief_time")
        )
    else:
        h = options.horizon or timedelta(0)
        kt = knowledge_time_expr(pl.col("event_start"), sensor)
        frame = frame.with_columns((kt - pl.lit(h)).alias("belief_time"))
    frame = frame.select(list(BELIEF_SCHEMA))
    if data_res != sensor.event_resolution:
        as_data = Sensor(sensor.id, sensor.name, sensor.unit, data_res, sensor.timezone)
        frame = resample_beliefs(frame, {sensor.id: as_data}, sensor.event_resolution)
    return frame
