"""Support for the backtest tests (no tests here): the demo site with a few weeks of real data
and made-up point forecasts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.beliefs.knowledge import knowledge_time_expr
from flex_pipelines.demo import TZ, build_demo_site, demo_series
from flex_pipelines.pipeline.sites import day_ahead_viewpoint
from flex_pipelines.time import day_window

GATE = "12:00"


def belief_frame(
    sensor_id: int, source_id: int, starts: pl.Series, values: pl.Series, belief_time: pl.Expr
) -> pl.DataFrame:
    return pl.DataFrame({"event_start": starts, "event_value": values}).select(
        pl.lit(sensor_id).cast(pl.Int64).alias("sensor_id"),
        pl.col("event_start").dt.cast_time_unit("us"),
        belief_time.dt.cast_time_unit("us").alias("belief_time"),
        pl.lit(source_id).cast(pl.Int64).alias("source_id"),
        pl.lit(0.5).alias("cumulative_probability"),
        pl.col("event_value").cast(pl.Float64),
    )


def demo_backtest_store(store: BeliefStore, first: date, last: date) -> dict[str, int]:
    """The demo site, its measured series from 10 days before ``first`` to after ``last`` (each
    believed at its knowledge time), and day-ahead forecasts of load and PV for each day made
    at its viewpoint: yesterday's values (persistence), so they are wrong but plausible."""
    ids = build_demo_site(store)
    lo, _ = day_window(first - timedelta(days=10), TZ)
    _, hi = day_window(last + timedelta(days=1), TZ)
    series = demo_series(ids)
    for sid, (src, frame) in series.items():
        if sid not in (ids["price"], ids["load"], ids["pv"]):
            continue
        sensor = store.get_sensor(sid)
        source = store.get_or_create_source(src, type="market" if sid == ids["price"] else "demo")
        f = frame.filter((pl.col("event_start") >= lo) & (pl.col("event_start") < hi))
        kt = knowledge_time_expr(pl.col("event_start").dt.cast_time_unit("us"), sensor)
        store.save_beliefs(belief_frame(sid, source.id, f["event_start"], f["event_value"], kt))
    fc = store.get_or_create_source("test persistence", type="forecaster", model="persistence")
    for sid in (ids["load"], ids["pv"]):
        frame = series[sid][1]
        d = first
        while d <= last:
            s, e = day_window(d, TZ)
            prev = frame.filter(
                (pl.col("event_start") >= s - timedelta(days=1))
                & (pl.col("event_start") < e - timedelta(days=1))
            )
            vp = day_ahead_viewpoint(d, TZ, GATE)
            store.save_beliefs(
                belief_frame(
                    sid,
                    fc.id,
                    prev["event_start"] + timedelta(days=1),
                    prev["event_value"],
                    pl.lit(vp),
                )
            )
            d += timedelta(days=1)
    return ids


def realised(sid_role: str, start: datetime, end: datetime) -> pl.DataFrame:
    """The raw bundled series of a role between start and end (not through the store)."""
    from flex_pipelines.demo import load_series, price_series, pv_series

    frame = {"price": price_series, "load": load_series, "pv": pv_series}[sid_role]()
    return frame.filter((pl.col("event_start") >= start) & (pl.col("event_start") < end))
