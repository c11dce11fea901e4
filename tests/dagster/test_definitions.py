"""The code location loads, and every asset explains itself (group, kinds, owners, description)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dagster import Definitions

from assets_defs.partitions import daily_partitions, window_utc
from flex_pipelines.definitions import defs
from flex_pipelines.pipeline import day_ahead_viewpoint, day_windows, days_in


def test_definitions_load() -> None:
    Definitions.validate_loadable(defs)
    names = {j.name for j in defs.resolve_all_job_defs()}
    assert {"pipeline_job", "reoptimise_job", "celery_schedules_job"} <= names
    assert {s.name for s in defs.sensors} == {
        "inbox_files",
        "reoptimise_on_new_beliefs",
        "alert_on_run_failure",
        "alert_on_tick_failure",
        "stale_schedules",
        "automation",
    }
    # the day-ahead cycle is declarative (an AutomationCondition); intraday passes run config
    assert {s.name for s in defs.schedules} == {"intraday_cycle"}


def test_every_asset_is_described_grouped_owned_and_partitioned() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"inbox_beliefs", "forecasts", "schedules", "reports", "backtests"}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups = {"ingestion", "forecasting", "scheduling", "reporting", "backtesting"}
        assert node.group_name in groups, key
        assert node.kinds and "python" in node.kinds, key
        assert node.owners, key
        assert node.description and len(node.description) > 40, key
        assert node.partitions_def == daily_partitions, key
        assert (
            node.backfill_policy is not None and node.backfill_policy.max_partitions_per_run is None
        ), key
    fresh = graph.get(
        next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "schedules")
    )
    assert fresh.freshness_policy is not None


def test_lineage_runs_ingest_forecast_schedule_report() -> None:
    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert parents == {
        "inbox_beliefs": set(),
        "forecasts": {"inbox_beliefs"},
        "schedules": {"forecasts"},
        "reports": {"schedules"},
        "backtests": {"forecasts"},
    }


def test_checks_cover_every_asset_with_a_blocking_schedule_check() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("schedules", "schedules_within_limits") in checks
    assert {a for a, _ in checks} == {"inbox_beliefs", "forecasts", "schedules"}
    from assets_defs.checks import schedules_within_limits

    assert all(spec.blocking for spec in schedules_within_limits.check_specs)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2024-03-31", 23), ("2024-10-27", 25), ("2024-06-01", 24)],
)
def test_partitions_are_local_days_dst_safe(day: str, hours: int) -> None:
    start, end = window_utc(daily_partitions.time_window_for_partition_key(day))
    assert start.tzinfo == UTC
    assert end - start == timedelta(hours=hours)
    assert (end - start) / timedelta(minutes=15) in (92, 96, 100)
    [(d, s, e)] = day_windows(start, end)
    assert (d.isoformat(), s, e) == (day, start, end)


def test_days_in_maps_an_event_window_to_local_days() -> None:
    # 23:00 UTC on 9 March is midnight in Amsterdam: the 10th
    start = datetime(2015, 3, 9, 23, tzinfo=UTC)
    assert days_in(start, start + timedelta(hours=24)) == [date(2015, 3, 10)]
    assert days_in(start, start + timedelta(hours=25)) == [date(2015, 3, 10), date(2015, 3, 11)]


def test_day_ahead_viewpoint_is_gate_closure_the_day_before() -> None:
    vp = day_ahead_viewpoint(date(2024, 7, 2), "Europe/Amsterdam", "12:00")
    assert vp == datetime(2024, 7, 1, 10, tzinfo=UTC)
