"""The re-optimisation sensor with a real Dagster instance and a real DuckDB store.

Ticks are evaluated with :func:`reoptimise_tick` at a given clock (the sensor passes the real
one), and once through ``build_sensor_context`` against a real instance.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import polars as pl
from dagster import SensorResult, SkipReason, build_sensor_context

from assets_defs.sensors import reoptimise_on_new_beliefs, reoptimise_tick
from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from flex_pipelines.pipeline.reoptimise import ReoptCursor
from flex_pipelines.service.chunks import chunk_of
from flex_pipelines.settings import load_settings
from resources import BeliefStoreResource
from tests.dagster.conftest import DAY

#: 10:07 local on DAY (2015-03-10, CET): DAY is today, DAY + 1 tomorrow
NOW = datetime(2015, 3, 10, 9, 7, tzinfo=UTC)


def _tick(db_url: str, cursor: str | None, now: datetime = NOW, **env: str):
    settings = load_settings({k.upper(): v for k, v in env.items()})
    return reoptimise_tick(cursor, BeliefStoreResource(url=db_url), now, settings)


def _new_prices(
    db_url: str,
    sensor_id: int,
    day_offset: int,
    value: float,
    hours: int = 24,
    source: str = "EPEX revised",
) -> int:
    """``hours`` new hourly price beliefs from local midnight of DAY + ``day_offset`` (a new
    market source); returns the watermark."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(hours=1)
    start += timedelta(days=day_offset)
    with open_store(db_url) as s:
        src = s.get_or_create_source(source, type="market")
        frame = pl.DataFrame(
            {
                "sensor_id": [sensor_id] * hours,
                "event_start": [start + timedelta(hours=h) for h in range(hours)],
                "belief_time": [start - timedelta(hours=11)] * hours,
                "source_id": [src.id] * hours,
                "cumulative_probability": [0.5] * hours,
                "event_value": [value + h for h in range(hours)],
            }
        ).with_columns(pl.col("event_start", "belief_time").dt.cast_time_unit("us"))
        s.save_beliefs(frame)
        return s.ingestion_watermark()


def _config(request) -> dict:
    return request.run_config["ops"]["schedules"]["ops"]["schedule_targets"]["config"]


def test_first_start_begins_at_the_latest_ingestion_and_replays_nothing(
    db_url: str, toy_site: dict, instance
) -> None:
    with open_store(db_url) as s:
        watermark = s.ingestion_watermark()
    assert watermark > 0  # the toy site's price history is in the store
    ctx = build_sensor_context(
        instance=instance, resources={"store": BeliefStoreResource(url=db_url)}
    )
    first = reoptimise_on_new_beliefs(ctx)  # the real sensor, the real clock
    assert isinstance(first, SensorResult) and not first.run_requests
    assert ReoptCursor.parse(first.cursor) == ReoptCursor(watermark)
    assert f"started at ingestion {watermark}" in first.skip_reason.skip_message
    assert "flexpipe pipeline reoptimise" in first.skip_reason.skip_message
    again = reoptimise_on_new_beliefs(
        build_sensor_context(
            instance=instance,
            cursor=first.cursor,
            resources={"store": BeliefStoreResource(url=db_url)},
        )
    )
    assert (
        isinstance(again, SkipReason)
        and f"no new beliefs since ingestion {watermark}" in again.skip_message
    )


def test_new_prices_for_tomorrow_request_one_run_from_now_for_the_affected_site(
    db_url: str, toy_site: dict
) -> None:
    site = toy_site["building"]["id"]
    cursor = _tick(db_url, None).cursor
    wm = _new_prices(db_url, toy_site["price sensor"]["id"], 1, 99.0)

    result = _tick(db_url, cursor)

    assert isinstance(result, SensorResult)
    [run] = result.run_requests
    assert run.partition_key == "2015-03-11"
    chunk = chunk_of(site, load_settings().chunk_span).key  # the chunk that holds the site
    assert run.run_key == f"reopt:2015-03-11:{chunk}:{wm}"
    # only the affected site of only its chunk; never before now
    assert _config(run) == {"site_ids": [site], "chunks": [chunk], "intraday": True}
    assert run.tags["flexpipe/sites"] == str(site) and run.tags["flexpipe/chunks"] == chunk
    assert ReoptCursor.parse(result.cursor) == ReoptCursor(wm)
    # the same tick evaluated twice asks for the same run key (Dagster drops the duplicate)
    assert [r.run_key for r in _tick(db_url, cursor).run_requests] == [run.run_key]


def test_days_outside_the_planning_window_get_no_run_and_say_so(
    db_url: str, toy_site: dict
) -> None:
    cursor = _tick(db_url, None).cursor
    _new_prices(db_url, toy_site["price sensor"]["id"], 5, 50.0)  # 2015-03-15: after tomorrow
    _new_prices(db_url, toy_site["price sensor"]["id"], -3, 50.0)  # 2015-03-07: the past

    result = _tick(db_url, cursor)

    assert isinstance(result, SensorResult) and not result.run_requests
    message = result.skip_reason.skip_message
    assert "2 day(s) outside the planning window (2015-03-07…2015-03-15" in message
    assert "flexpipe pipeline reoptimise" in message
    # a longer planning horizon takes the later day in
    wide = _tick(db_url, cursor, flexpipe_planning_horizon_days="5")
    assert [r.partition_key for r in wide.run_requests] == ["2015-03-15"]


def test_site_days_with_incomplete_inputs_are_skipped_with_the_reason(
    db_url: str, toy_site: dict
) -> None:
    site, price = toy_site["building"]["id"], toy_site["price sensor"]["id"]
    cursor = _tick(db_url, None).cursor
    _new_prices(db_url, price, 3, 40.0, hours=12)  # 2015-03-13 00:00–12:00 local only
    now = datetime(2015, 3, 12, 12, tzinfo=UTC)  # 13:00 local on the 12th: the 13th is tomorrow

    result = _tick(db_url, cursor, now)

    assert isinstance(result, SensorResult) and not result.run_requests
    message = result.skip_reason.skip_message
    assert "1 site-day(s) skipped: 2015-03-13: " in message
    assert f"site {site}" in message and str(price) in message
    # once the rest of the day arrives, the day is scheduled
    wm = _new_prices(db_url, price, 3, 40.0, hours=24)
    [run] = _tick(db_url, result.cursor, now).run_requests
    chunk = chunk_of(site, load_settings().chunk_span).key
    assert (run.partition_key, run.run_key) == ("2015-03-13", f"reopt:2015-03-13:{chunk}:{wm}")


def test_at_most_the_configured_runs_per_tick_the_rest_waits_in_the_cursor(
    db_url: str, toy_site: dict
) -> None:
    cursor = _tick(db_url, None).cursor
    wm = _new_prices(db_url, toy_site["price sensor"]["id"], 0, 60.0, hours=48)  # today + tomorrow

    first = _tick(db_url, cursor, flexpipe_reopt_max_runs="1")
    assert [r.partition_key for r in first.run_requests] == ["2015-03-10"]
    parsed = ReoptCursor.parse(first.cursor)
    assert parsed.ingestion == wm and list(parsed.pending) == ["2015-03-11"]

    second = _tick(db_url, first.cursor, flexpipe_reopt_max_runs="1")  # nothing new in the store
    assert [r.partition_key for r in second.run_requests] == ["2015-03-11"]
    assert ReoptCursor.parse(second.cursor) == ReoptCursor(wm)


def test_inputs_a_later_schedule_saw_and_schedule_outputs_trigger_nothing(
    db_url: str, toy_site: dict, instance
) -> None:
    cursor = _tick(db_url, None).cursor
    _new_prices(db_url, toy_site["price sensor"]["id"], 1, 50.0)
    # a schedule of the 11th runs after those prices landed (and saves its own beliefs)
    summary = run_pipeline(
        db_url,
        DAY + timedelta(days=1),
        DAY + timedelta(days=1),
        progress=False,
        instance=instance,
        assets=["schedules"],
    )
    assert summary.success and summary.assets["schedules"]["site_days"] == 1

    result = _tick(db_url, cursor)

    assert isinstance(result, SensorResult) and not result.run_requests
    assert "1 site-day(s) already scheduled after their inputs" in result.skip_reason.skip_message
    with open_store(db_url) as s:
        assert ReoptCursor.parse(result.cursor).ingestion == s.ingestion_watermark()
    # prices that arrive after that schedule do trigger
    _new_prices(db_url, toy_site["price sensor"]["id"], 1, 70.0, source="EPEX late")
    assert [r.partition_key for r in _tick(db_url, result.cursor).run_requests] == ["2015-03-11"]


def test_locked_store_skips_and_keeps_the_cursor(db_url: str, toy_site: dict) -> None:
    cursor = _tick(db_url, None).cursor
    _new_prices(db_url, toy_site["price sensor"]["id"], 1, 70.0)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from flex_pipelines.beliefs import open_store; s = open_store({db_url!r}); print('ready', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = _tick(db_url, cursor)
        assert isinstance(result, SkipReason)
        assert "belief store unavailable (StoreLockedError" in result.skip_message
        assert f"cursor stays at {ReoptCursor.parse(cursor).ingestion}" in result.skip_message
    finally:
        holder.kill()
        holder.wait()
    retry = _tick(db_url, cursor)  # next tick after the lock is gone: nothing lost
    assert [r.partition_key for r in retry.run_requests] == ["2015-03-11"]


def test_unreachable_postgres_store_skips() -> None:
    result = _tick("postgresql://nobody@127.0.0.1:1/none", "5")
    assert isinstance(result, SkipReason) and "cursor stays at 5" in result.skip_message
