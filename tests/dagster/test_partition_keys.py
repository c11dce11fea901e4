"""Every partition key a schedule or sensor requests exists in the partitions definition at the
moment it is requested: at midday, just before and just after local midnight, on ordinary and
DST days, for the default planning horizon (tomorrow) and a longer one.

Partition existence is evaluated as Dagster does it, at the tick's clock
(``partition_loading_context(effective_dt=...)``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from dagster import (
    AssetKey,
    build_schedule_context,
    evaluate_automation_conditions,
    partition_loading_context,
)

from assets_defs.partitions import daily_partitions, daily_partitions_for
from assets_defs.sensors import reoptimise_tick, today_key
from flex_pipelines.beliefs import open_store
from flex_pipelines.definitions import defs
from flex_pipelines.pipeline.reoptimise import local_today
from flex_pipelines.settings import load_settings
from flex_pipelines.toy import create_toy_account
from resources import BeliefStoreResource
from schedules.cycles import intraday_cycle

TZ = "Europe/Amsterdam"

CLOCKS = {
    "midday": datetime(2024, 6, 12, 10, tzinfo=UTC),  # 12:00 CEST
    "before midnight": datetime(2024, 6, 12, 21, 59, 30, tzinfo=UTC),  # 23:59:30 CEST
    "after midnight": datetime(2024, 6, 12, 22, 0, 30, tzinfo=UTC),  # 00:00:30 CEST on the 13th
    "spring DST eve, before midnight": datetime(2024, 3, 30, 22, 59, 30, tzinfo=UTC),  # CET
    "spring DST day, after midnight": datetime(2024, 3, 30, 23, 0, 30, tzinfo=UTC),
    "spring DST day, midday": datetime(2024, 3, 31, 10, tzinfo=UTC),  # 12:00 CEST
    "spring DST day, before midnight": datetime(2024, 3, 31, 21, 59, 30, tzinfo=UTC),  # CEST
    "autumn DST day, after midnight": datetime(2024, 10, 26, 22, 0, 30, tzinfo=UTC),  # CEST
    "autumn DST day, midday": datetime(2024, 10, 27, 11, tzinfo=UTC),  # 12:00 CET
    "autumn DST day, before midnight": datetime(2024, 10, 27, 22, 59, 30, tzinfo=UTC),  # CET
}


def _exists(partitions, key: str, at: datetime) -> bool:
    with partition_loading_context(effective_dt=at):
        return partitions.has_partition_key(key)


def _store_with_prices(path: Path, first: datetime, days: int) -> str:
    """A toy site with hourly prices from ``first`` for ``days`` days, saved in one ingestion."""
    url = str(path)
    with open_store(url) as s:
        made = create_toy_account(s, kind="process")
        src = s.get_or_create_source("EPEX", type="market")
        n = 24 * days
        frame = pl.DataFrame(
            {
                "sensor_id": [made["price sensor"]["id"]] * n,
                "event_start": [first + timedelta(hours=h) for h in range(n)],
                "belief_time": [first - timedelta(days=1)] * n,
                "source_id": [src.id] * n,
                "cumulative_probability": [0.5] * n,
                "event_value": [float(40 + h % 24) for h in range(n)],
            }
        ).with_columns(pl.col("event_start", "belief_time").dt.cast_time_unit("us"))
        s.save_beliefs(frame)
    return url


@pytest.mark.parametrize("clock", list(CLOCKS), ids=list(CLOCKS))
def test_cycle_and_inbox_keys_exist_at_their_tick(clock: str, instance) -> None:
    at = CLOCKS[clock]
    intraday = intraday_cycle(build_schedule_context(scheduled_execution_time=at))
    # the day-ahead automation, a day after its previous tick: the 13:00 cron passed in between
    first = evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=at - timedelta(days=1)
    )
    ahead = evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=at, cursor=first.cursor
    )
    today = local_today(at, TZ)
    requested = {
        key.to_user_string(): sorted(ahead.get_requested_partitions(key))
        for key in (AssetKey("forecasts"), AssetKey("schedules"), AssetKey("reports"))
    }
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert requested == {"forecasts": [tomorrow], "schedules": [tomorrow], "reports": [tomorrow]}
    assert intraday.partition_key == today.isoformat() == today_key(at)
    for key in (tomorrow, intraday.partition_key, today_key(at)):
        assert _exists(daily_partitions, key, at), (clock, key)
    # the day after the horizon is not a partition yet: the test can fail
    assert not _exists(daily_partitions, (today + timedelta(days=2)).isoformat(), at)


@pytest.mark.parametrize("horizon", [1, 3])
@pytest.mark.parametrize("clock", list(CLOCKS), ids=list(CLOCKS))
def test_reoptimisation_keys_exist_and_reach_the_horizon(
    tmp_path: Path, clock: str, horizon: int
) -> None:
    at = CLOCKS[clock]
    settings = load_settings(
        {"FLEXPIPE_PLANNING_HORIZON_DAYS": str(horizon), "FLEXPIPE_REOPT_MAX_RUNS": "10"}
    )
    partitions = daily_partitions_for(settings)
    # prices from three days ago to a week ahead: more days than the window holds
    url = _store_with_prices(
        tmp_path / "s.duckdb", at.replace(minute=0, second=0) - timedelta(days=3), 10
    )

    result = reoptimise_tick("0", BeliefStoreResource(url=url), at, settings)

    keys = [r.partition_key for r in result.run_requests]
    today = local_today(at, TZ)
    window = [(today + timedelta(days=i)).isoformat() for i in range(horizon + 1)]
    # every day after today up to the horizon, nothing outside the window; today too unless
    # only its last quarter hour is left (the hourly price of that hour starts before it, and
    # check_inputs counts the events that start in the window)
    assert window[1:] == [k for k in keys if k != today.isoformat()], result.run_requests
    assert set(keys) <= set(window)
    if "midday" in clock:
        assert keys == window
    for key in keys:
        assert _exists(partitions, key, at), (clock, key)
