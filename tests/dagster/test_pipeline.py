"""The whole pipeline in-process on real DuckDB files: success, skips, failed solves, blocking checks."""

from __future__ import annotations

from datetime import timedelta

from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from tests.dagster.conftest import DAY


def _scheduled(url: str, sensor_id: int):
    with open_store(url) as s:
        return s.search_beliefs(sensor_id, source_types=["scheduler"]).sort("event_start")


def test_pipeline_schedules_every_day_of_a_window(db_url: str, toy_site: dict, instance) -> None:
    summary = run_pipeline(db_url, DAY, DAY + timedelta(days=1), progress=False, instance=instance)

    assert summary.success, summary.error
    assert set(summary.assets) == {"inbox_beliefs", "forecasts", "schedules", "reports"}
    sched = summary.assets["schedules"]
    assert (sched["sites"], sched["site_days"], sched["row_count"]) == (1, 2, 192)
    assert sched["cost_eur"] > 0
    assert all(summary.checks.values()) and len(summary.checks) == 6
    frame = _scheduled(db_url, toy_site["power sensor"]["id"])
    assert frame.height == 192
    # a 4-hour 200 kW process: 16 quarter hours at 200 kW on each day
    assert sorted(frame["event_value"].unique().to_list()) == [0.0, 200.0]
    assert (frame["event_value"] == 200.0).sum() == 32


def test_partition_without_prices_is_skipped_with_a_reason(
    db_url: str, toy_site: dict, instance
) -> None:
    day = DAY + timedelta(days=10)  # prices only cover DAY .. DAY+2
    summary = run_pipeline(db_url, day, day, progress=False, instance=instance)

    assert summary.success  # a skip, not a failed-looking run
    assert "schedules" not in summary.assets and "reports" not in summary.assets
    reason = summary.skipped["schedules"]
    assert f"consumption-price sensor {toy_site['price sensor']['id']} has 0 of 24 values" in reason
    assert "2015-03-19T23:00:00+00:00" in reason
    assert _scheduled(db_url, toy_site["power sensor"]["id"]).is_empty()


def test_failed_solve_fails_the_run_and_keeps_the_previous_schedule(
    db_url: str, toy_site: dict, instance
) -> None:
    power = toy_site["power sensor"]["id"]
    assert run_pipeline(db_url, DAY, DAY, progress=False, instance=instance).success
    before = _scheduled(db_url, power)
    with open_store(db_url) as s:
        process = s.get_asset(toy_site["process"]["id"])
        blocked = {"start": "2015-03-10T00:00:00+01:00", "duration": "PT22H"}
        s.update_asset(
            process.id,
            flex_model={
                **process.flex_model,
                "process-type": "BREAKABLE",
                "time-restrictions": [blocked],
            },
        )

    summary = run_pipeline(db_url, DAY, DAY, progress=False, instance=instance)

    assert not summary.success
    assert (
        "only PT2H free in the window 2015-03-09T23:00:00+00:00–2015-03-10T23:00:00+00:00, less than the PT4H"
        in summary.error
    )
    assert "BREAKABLE process needs" in summary.error
    after = _scheduled(db_url, power)
    assert after.equals(before)  # nothing half-written; the previous schedule is the latest


def test_blocking_check_stops_reports_when_a_schedule_breaks_site_capacity(
    db_url: str, toy_site: dict, instance
) -> None:
    with open_store(db_url) as s:
        building = s.get_asset(toy_site["building"]["id"])
        s.update_asset(
            building.id, flex_context={**building.flex_context, "site-power-capacity": "150 kVA"}
        )

    summary = run_pipeline(db_url, DAY, DAY, progress=False, instance=instance)

    assert summary.checks["schedules:schedules_within_limits"] is False
    assert "schedules" in summary.assets and "reports" not in summary.assets
    events = [
        e
        for e in instance.all_logs(summary.run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    data = next(
        e.dagster_event.event_specific_data
        for e in events
        if e.dagster_event.event_specific_data.check_name == "schedules_within_limits"
    )
    assert data.metadata["violations"].value == 16
    assert "over its consumption capacity 150 kW" in data.metadata["examples"].value[0]


def test_replay_is_idempotent_and_live_runs_add_a_new_belief(
    db_url: str, toy_site: dict, instance
) -> None:
    power = toy_site["power sensor"]["id"]
    first = run_pipeline(
        db_url, DAY, DAY, progress=False, instance=instance, assets=["schedules"], replay=True
    )
    again = run_pipeline(
        db_url, DAY, DAY, progress=False, instance=instance, assets=["schedules"], replay=True
    )
    assert (first.assets["schedules"]["row_count"], again.assets["schedules"]["row_count"]) == (
        96,
        0,
    )
    frame = _scheduled(db_url, power)
    assert frame["belief_time"].unique().to_list() == [
        frame["event_start"].min()
    ]  # known at the day's start
    live = run_pipeline(db_url, DAY, DAY, progress=False, instance=instance, assets=["schedules"])
    assert live.assets["schedules"]["row_count"] == 96
    assert _scheduled(db_url, power)["belief_time"].n_unique() == 2
