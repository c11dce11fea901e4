"""Checks a belief frame before anything is written; every error names field, value and time."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from flex_pipelines.beliefs.knowledge import with_belief_horizon
from flex_pipelines.beliefs.model import BELIEF_KEY, BELIEF_SCHEMA, Sensor
from flex_pipelines.errors import FlexPipelinesError, NotFoundError
from flex_pipelines.time import EARLIEST_TIME, LATEST_TIME


class BeliefValidationError(FlexPipelinesError):
    """A belief frame that cannot be stored as given."""


def coerce_belief_frame(beliefs: pl.DataFrame) -> pl.DataFrame:
    """Select and cast the belief columns; timestamps must be tz-aware."""
    missing = [c for c in BELIEF_SCHEMA if c not in beliefs.columns]
    if "cumulative_probability" in missing:
        beliefs = beliefs.with_columns(pl.lit(0.5).alias("cumulative_probability"))
        missing.remove("cumulative_probability")
    if missing:
        raise BeliefValidationError(f"belief frame lacks column(s) {', '.join(missing)}")
    for col in ("event_start", "belief_time"):
        dtype = beliefs.schema[col]
        if not isinstance(dtype, pl.Datetime):
            raise BeliefValidationError(f"{col} must be a datetime column, not {dtype}")
        if dtype.time_zone is None:
            first = beliefs[col].drop_nulls().head(1).to_list()
            raise BeliefValidationError(
                f"{col} is naive (no timezone), e.g. {first[0] if first else '?'}; "
                "give timestamps with a UTC offset or localise them first"
            )
    try:
        out = beliefs.select(
            [
                pl.col(c).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
                if c in ("event_start", "belief_time")
                else pl.col(c).cast(t)
                for c, t in BELIEF_SCHEMA.items()
            ]
        )
    except pl.exceptions.PolarsError as exc:
        raise BeliefValidationError(f"belief frame has a column of the wrong type: {exc}") from exc
    return out


def check_beliefs(
    beliefs: pl.DataFrame, sensors: Mapping[int, Sensor], source_ids: set[int]
) -> pl.DataFrame:
    """Validate a coerced belief frame; return it de-duplicated with ``belief_horizon_s`` added.

    Raises :class:`BeliefValidationError` for nulls/NaN, infinite values, times outside
    [EARLIEST_TIME, LATEST_TIME), unknown sensors or sources, off-tick event starts, and the same
    belief key given twice with different values.
    """
    if beliefs.is_empty():
        return beliefs.with_columns(pl.lit(None, pl.Int64).alias("belief_horizon_s"))
    nulls = beliefs.null_count().row(0, named=True)
    n_nan = beliefs["event_value"].is_nan().sum()
    for col in BELIEF_SCHEMA:
        if nulls[col] or (col == "event_value" and n_nan):
            bad = beliefs.filter(pl.col(col).is_null())
            if col == "event_value":
                bad = beliefs.filter(pl.col(col).is_null() | pl.col(col).is_nan())
            row = bad.row(0, named=True)
            raise BeliefValidationError(
                f"{col} is empty or NaN for {bad.height} belief(s), first at event "
                f"{row['event_start']} (sensor {row['sensor_id']})"
            )
    _check_values_and_times(beliefs)
    unknown = set(beliefs["sensor_id"].unique().to_list()) - set(sensors)
    if unknown:
        raise NotFoundError(f"unknown sensor id(s): {sorted(unknown)}")
    unknown_src = set(beliefs["source_id"].unique().to_list()) - source_ids
    if unknown_src:
        raise NotFoundError(f"unknown source id(s): {sorted(unknown_src)}")
    cp = beliefs["cumulative_probability"]
    if cp.min() < 0 or cp.max() > 1:  # type: ignore[operator]
        row = beliefs.filter(
            (pl.col("cumulative_probability") < 0) | (pl.col("cumulative_probability") > 1)
        ).row(0, named=True)
        raise BeliefValidationError(
            f"cumulative_probability {row['cumulative_probability']} is outside [0, 1] at "
            f"event {row['event_start']}"
        )
    parts = []
    for (sensor_id,), part in beliefs.group_by("sensor_id", maintain_order=True):
        sensor = sensors[int(sensor_id)]
        step_us = int(sensor.event_resolution.total_seconds() * 1_000_000)
        if step_us > 0:
            off = part.filter(pl.col("event_start").dt.epoch("us") % step_us != 0)
            if not off.is_empty():
                raise BeliefValidationError(
                    f"event_start {off['event_start'][0]} is not on the {sensor.event_resolution} "
                    f"grid of sensor {sensor.id} ({sensor.name}); {off.height} such row(s)"
                )
        parts.append(with_belief_horizon(part, sensor))
    out = pl.concat(parts) if len(parts) > 1 else parts[0]
    # duplicates: a fast hash test first; the exact (slower) search only when it finds some
    if out.select(pl.struct(BELIEF_KEY).hash().n_unique()).item() == out.height:
        return out
    out = out.unique(maintain_order=True)
    dup = out.filter(pl.struct(BELIEF_KEY).is_duplicated())
    if not dup.is_empty():
        row = dup.sort(BELIEF_KEY).row(0, named=True)
        vals = dup.filter(
            (pl.col("sensor_id") == row["sensor_id"])
            & (pl.col("event_start") == row["event_start"])
        )["event_value"].to_list()
        raise BeliefValidationError(
            f"duplicate event {row['event_start']} for sensor {row['sensor_id']} with different "
            f"values {vals} (same belief time {row['belief_time']} and source {row['source_id']})"
        )
    return out


def _check_values_and_times(beliefs: pl.DataFrame) -> None:
    """Refuse infinite values and times outside the supported range, naming value and time."""
    inf = beliefs.filter(pl.col("event_value").is_infinite())
    if inf.height:
        row = inf.row(0, named=True)
        raise BeliefValidationError(
            f"event_value {row['event_value']} is not a finite number for {inf.height} "
            f"belief(s), first at event {row['event_start']} (sensor {row['sensor_id']})"
        )
    for col in ("event_start", "belief_time"):
        out = beliefs.filter((pl.col(col) < EARLIEST_TIME) | (pl.col(col) >= LATEST_TIME))
        if out.height:
            row = out.row(0, named=True)
            raise BeliefValidationError(
                f"{col} {row[col]} is outside the supported range {EARLIEST_TIME:%Y-%m-%d} to "
                f"{LATEST_TIME:%Y-%m-%d} (UTC) for {out.height} belief(s) (sensor "
                f"{row['sensor_id']})"
            )
