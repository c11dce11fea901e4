"""The re-optimisation sensor with a real Dagster instance and a real DuckDB store."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
from dagster import SensorResult, SkipReason, build_sensor_context

from assets_defs.sensors import reoptimise_on_new_beliefs
from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from resources import BeliefStoreResource
from tests.dagster.conftest import DAY


def _tick(instance, db_url: str, cursor: str | None):
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"store": BeliefStoreResource(url=db_url)})  # fmt: skip
    return reoptimise_on_new_beliefs(ctx)


def _new_prices(db_url: str, sensor_id: int, day_offset: int, value: float) -> int:
    """24 new hourly price beliefs for one local day (a new market source); returns the watermark."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(hours=1) + timedelta(days=day_offset)  # fmt: skip
    with open_store(db_url) as s:
        src = s.get_or_create_source("EPEX revised", type="market")
        frame = pl.DataFrame(
            {
                "sensor_id": [sensor_id] * 24,
                "event_start": [start + timedelta(hours=h) for h in range(24)],
                "belief_time": [start - timedelta(hours=11)] * 24,
                "source_id": [src.id] * 24,
                "cumulative_probability": [0.5] * 24,
                "event_value": [value] * 24,
            }
        ).with_columns(pl.col("event_start").dt.cast_time_unit("us"), pl.col("belief_time").dt.cast_time_unit("us"))  # fmt: skip
        s.save_beliefs(frame)
        return s.ingestion_watermark()


def test_cursor_round_trip_requests_exactly_the_affected_days_and_sites(db_url: str, toy_site: dict, instance) -> None:  # fmt: skip
    site = toy_site["building"]["id"]
    first = _tick(instance, db_url, None)
    assert isinstance(first, SensorResult)
    days = [r.partition_key for r in first.run_requests]
    assert days == [
        "2015-03-10",
        "2015-03-11",
        "2015-03-12",
        "2015-03-13",
    ]  # 73 hourly prices from DAY 00:00 local
    for r in first.run_requests:
        assert r.run_config["ops"]["schedules"]["ops"]["schedule_targets"]["config"][
            "site_ids"
        ] == [site]
        assert r.run_key.startswith(f"reopt:{r.partition_key}:{site}:")
    with open_store(db_url) as s:
        assert first.cursor == str(s.ingestion_watermark())

    # nothing new: skipped after one indexed query
    again = _tick(instance, db_url, first.cursor)
    assert (
        isinstance(again, SkipReason)
        and f"no new beliefs since ingestion {first.cursor}" in again.skip_message
    )

    # the same tick evaluated twice asks for the same run keys (Dagster de-duplicates them)
    assert [r.run_key for r in _tick(instance, db_url, None).run_requests] == [r.run_key for r in first.run_requests]  # fmt: skip

    # new prices for one day → one run for that day
    wm = _new_prices(db_url, toy_site["price sensor"]["id"], 1, 99.0)
    third = _tick(instance, db_url, first.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2015-03-11"]
    assert third.run_requests[0].run_key == f"reopt:2015-03-11:{site}:{wm}"
    assert third.cursor == str(wm)


def test_schedule_outputs_and_already_scheduled_inputs_trigger_nothing(db_url: str, toy_site: dict, instance) -> None:  # fmt: skip
    cursor = _tick(instance, db_url, None).cursor
    _new_prices(db_url, toy_site["price sensor"]["id"], 0, 50.0)
    # the schedule for DAY runs after those prices landed (and writes its own beliefs)
    assert run_pipeline(db_url, DAY, DAY, progress=False, instance=instance, assets=["schedules"]).success  # fmt: skip
    result = _tick(instance, db_url, cursor)
    assert isinstance(result, SensorResult) and result.run_requests == []
    assert int(result.cursor) > int(cursor)


def test_a_schedule_records_the_inputs_it_saw_before_its_own_writes(db_url: str, toy_site: dict, instance) -> None:  # fmt: skip
    """Beliefs that land while a schedule solves are newer than what it saw, so they trigger
    another run; the schedule's own (scheduler-only) writes never do."""
    from assets_defs.sensors import seen_watermarks
    from flex_pipelines.pipeline import list_sites, reopt_targets

    with open_store(db_url) as s:
        before = s.ingestion_watermark()
    assert run_pipeline(db_url, DAY, DAY, progress=False, instance=instance, assets=["schedules"]).success  # fmt: skip
    with open_store(db_url) as s:
        own = s.ingestions_since(before)
        sites = list_sites(s)
    assert own and all(i.source_types == ("scheduler",) for i in own)
    (site,) = sites
    # the mark is the watermark before the run read its inputs, not after its saves
    assert seen_watermarks(instance, DAY.isoformat())[site.id] == before
    assert reopt_targets(sites, own) == {}  # own outputs (incl. SoC) affect nothing
    # a price that arrived during the solve (any ingestion after the mark) does
    mixed = [replace(own[0], sensor_id=toy_site["price sensor"]["id"], source_types=("market",))]
    assert reopt_targets(sites, mixed)[DAY.isoformat()] == {site.id: mixed[0].id}


def test_locked_store_skips_and_keeps_the_cursor(db_url: str, toy_site: dict, instance) -> None:
    cursor = _tick(instance, db_url, None).cursor
    _new_prices(db_url, toy_site["price sensor"]["id"], 1, 70.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from flex_pipelines.beliefs import open_store; s = open_store({db_url!r}); print('ready', flush=True); import time; time.sleep(60)"],  # fmt: skip
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"store": BeliefStoreResource(url=db_url)})  # fmt: skip
        result = reoptimise_on_new_beliefs(ctx)
        assert isinstance(result, SkipReason)
        assert "belief store unavailable (StoreLockedError" in result.skip_message
        assert f"cursor stays at {cursor}" in result.skip_message
        assert ctx.cursor == cursor
    finally:
        holder.kill()
        holder.wait()
    retry = _tick(instance, db_url, cursor)  # next tick after the lock is gone: nothing lost
    assert [r.partition_key for r in retry.run_requests] == ["2015-03-11"]


def test_unreachable_postgres_store_skips(instance) -> None:
    result = _tick(instance, "postgresql://nobody@127.0.0.1:1/none", "5")
    assert isinstance(result, SkipReason) and "cursor stays at 5" in result.skip_message
