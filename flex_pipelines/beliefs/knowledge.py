"""Knowledge time and belief horizons (the timely-beliefs semantics, vectorised in polars)."""

from __future__ import annotations

import polars as pl

from flex_pipelines.beliefs.model import KnowledgeHorizon, Sensor


def knowledge_time_expr(event_start: pl.Expr, sensor: Sensor) -> pl.Expr:
    """When the value of each event becomes known, as a UTC datetime expression.

    - ex_post: event end (start + resolution) + offset;
    - ex_ante: event start − offset;
    - day_ahead: ``hour`` o'clock on the local day before the event's local day.
    """
    kh: KnowledgeHorizon = sensor.knowledge_horizon
    if kh.kind == "ex_post":
        return event_start + pl.lit(sensor.event_resolution + kh.offset)
    if kh.kind == "ex_ante":
        return event_start - pl.lit(kh.offset)
    local_day = event_start.dt.convert_time_zone(sensor.timezone).dt.date()
    wall_clock = local_day.dt.offset_by("-1d").dt.combine(pl.time(kh.hour))
    return (
        wall_clock.dt.replace_time_zone(sensor.timezone, ambiguous="earliest")
        .dt.convert_time_zone("UTC")
        .dt.cast_time_unit("us")
    )


def with_belief_horizon(beliefs: pl.DataFrame, sensor: Sensor) -> pl.DataFrame:
    """Add ``belief_horizon_s`` (seconds, positive = made ahead of knowledge time)."""
    kt = knowledge_time_expr(pl.col("event_start"), sensor)
    return beliefs.with_columns(
        (kt - pl.col("belief_time")).dt.total_seconds().cast(pl.Int64).alias("belief_horizon_s")
    )


def belief_times_from_horizon(event_starts: pl.Series, horizon_s: int, sensor: Sensor) -> pl.Series:
    """``belief_time = knowledge_time(event) − horizon`` for beliefs given by horizon."""
    df = pl.DataFrame({"event_start": event_starts})
    kt = knowledge_time_expr(pl.col("event_start"), sensor)
    return df.select((kt - pl.duration(seconds=horizon_s)).alias("belief_time")).to_series()
