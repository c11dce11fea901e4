"""Reading time series files into belief frames (the CSV path of the CLI and the inbox asset).

Like FlexMeasures' ``add beliefs``: a header row, event start in the first column and value in the
second by default; timestamps with a UTC offset keep it, ``timezone`` localises naive ones;
values are converted to the sensor's unit; data at another resolution is resampled to the
sensor's (means for intensive units, sums for energy); off-tick timestamps are refused, or
floored when asked (with a warning).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from flex_pipelines.beliefs.csv_read import CSVError, CSVOptions, delimiter_hint, read_table
from flex_pipelines.beliefs.knowledge import knowledge_time_expr
from flex_pipelines.beliefs.model import BELIEF_SCHEMA, Sensor
from flex_pipelines.beliefs.resample import resample_beliefs
from flex_pipelines.time import EARLIEST_TIME, LATEST_TIME, format_duration, get_zone
from flex_pipelines.units import UnitError, convert

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
            raise _dst_error(s, naive, timezone, column) from exc
        parsed = parsed.dt.convert_time_zone("UTC")
    else:
        first_naive = s.filter(~has_offset)[0]
        raise CSVError(f"{column} mixes times with and without UTC offset, e.g. {first_naive!r}")
    return parsed.alias(column)


def _check_range(starts: pl.Series, text: pl.Series) -> None:
    """Refuse event starts outside [EARLIEST_TIME, LATEST_TIME), naming the first."""
    out = (starts < EARLIEST_TIME) | (starts >= LATEST_TIME)
    if out.any():
        i = out.arg_true()[0]
        raise CSVError(
            f"event_start {text[i]!r} (row {i + 1}) is outside the supported range "
            f"{EARLIEST_TIME:%Y-%m-%d} to {LATEST_TIME:%Y-%m-%d} (UTC)"
        )


def _check_finite(
    values: pl.Series, starts: pl.Series, text: pl.Series, column: str, unit: str = ""
) -> None:
    """Refuse inf, -inf and overflowing numbers (1e309), naming the value, time and row."""
    inf = values.is_infinite()
    if inf.any():
        i = inf.arg_true()[0]
        n = int(inf.sum())
        more = f"; {n} such values" if n > 1 else ""
        raise CSVError(
            f"value {text[i].strip()!r} at {starts[i]} (row {i + 1}, column {column!r}) is not a "
            f"finite number{unit}{more}"
        )


def _dst_error(text: pl.Series, naive: pl.Series, timezone: str, column: str) -> CSVError:
    """The first local time that a DST change skips (spring) or repeats (autumn), in our words."""
    zone = get_zone(timezone)
    for i, dt in enumerate(naive):
        early, late = dt.replace(tzinfo=zone, fold=0), dt.replace(tzinfo=zone, fold=1)
        if early.utcoffset() == late.utcoffset():
            continue
        if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != dt:
            why = "does not exist: the clocks skip it when summer time starts"
        else:
            offsets = " or ".join(t.isoformat()[19:] for t in (early, late))
            why = f"is ambiguous: it happens twice when summer time ends (UTC offset {offsets})"
        return CSVError(
            f"{column} {text[i]!r} (row {i + 1}) {why} in {timezone}; give times with a UTC offset"
        )
    return CSVError(f"{column} has a local time that {timezone} cannot place; give UTC offsets")


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
    *,
    name: str | None = None,
) -> pl.DataFrame:
    """Read a CSV file into a belief frame for ``sensor`` (values in the sensor's unit).

    Parameters
    ----------
    source : str | Path | bytes
        The file, or its content.
    sensor : Sensor
        The sensor the values are about (unit, resolution, knowledge horizon).
    source_id : int
        The source of the beliefs.
    options : CSVOptions
        How to read the file.
    name : str, optional
        The file's name in messages (default: the path, or ``<bytes>``).

    Returns
    -------
    pl.DataFrame
        Beliefs with the columns of ``BELIEF_SCHEMA``. Every value is finite and every event
        in [EARLIEST_TIME, LATEST_TIME); anything else is a :class:`CSVError` naming the value,
        its time and row.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    name = name or ("<bytes>" if isinstance(source, bytes) else str(source))
    raw = read_table(data, name, options)
    cols = raw.columns

    def pick(col: int | str, what: str) -> str:
        if isinstance(col, int) or str(col).isdigit():
            i = int(col)
            if i >= len(cols):
                hint = delimiter_hint(cols[0]) if len(cols) == 1 else ""
                raise CSVError(f"{name} has {len(cols)} column(s); no {what} column {i}{hint}")
            return cols[i]
        if col not in cols:
            hint = delimiter_hint(cols[0]) if len(cols) == 1 else ""
            raise CSVError(f"{name} has no {what} column {col!r} (columns: {cols}){hint}")
        return str(col)

    dcol, vcol = pick(options.datecol, "date"), pick(options.valuecol, "value")
    if raw.is_empty():
        raise CSVError(f"{name} has no data rows")
    starts = parse_timestamps(raw[dcol], options.timezone)
    _check_range(starts, raw[dcol])
    values = raw[vcol].str.strip_chars().cast(pl.Float64, strict=False)
    bad = values.is_null() | values.is_nan()
    if bad.any():
        i = bad.arg_true()[0]
        raise CSVError(
            f"value {raw[vcol][i]!r} at {starts[i]} (row {i + 1}, column {vcol!r}) is not a number"
        )
    _check_finite(values, starts, raw[vcol], vcol)
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
        _check_finite(frame["event_value"], starts, raw[vcol], vcol, f" in {sensor.unit}")
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
