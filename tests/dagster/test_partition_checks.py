"""Asset checks are tied to their partition: each day's evaluation looks at that day's window and
is recorded on that partition, in a run of one day and in a single-run backfill of several."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType

from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from tests.dagster.conftest import DAY

CHECKS = {
    ("inbox_beliefs", "inbox_files_accepted"),
    ("inbox_beliefs", "inbox_beliefs_schema"),
    ("forecasts", "forecasts_cover_horizon"),
    ("forecasts", "forecasts_schema"),
    ("schedules", "schedules_within_limits"),
    ("schedules", "schedules_schema"),
}


def _evaluations(instance, run_id: str) -> list:
    return [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    ]


def _one_day_run(db_url: str, instance, how: str) -> str:
    """A run of DAY: a range of one day (as run_pipeline and backfills launch it), or one
    partition key (as sensors and the UI launch it)."""
    if how == "range":
        summary = run_pipeline(db_url, DAY, DAY, progress=False, instance=instance)
        assert summary.success, summary.error
        return summary.run_id
    from flex_pipelines.definitions import defs

    result = defs.resolve_job_def("pipeline_job").execute_in_process(
        partition_key=DAY.isoformat(),
        instance=instance,
        run_config={"resources": {"store": {"config": {"url": db_url}}}},
    )
    assert result.success
    return result.run_id


@pytest.mark.parametrize("how", ["range", "partition key"])
def test_a_one_day_run_records_every_check_on_its_partition(
    db_url: str, toy_site: dict, instance, how: str
) -> None:
    run_id = _one_day_run(db_url, instance, how)

    evaluations = _evaluations(instance, run_id)
    assert {(e.asset_key.to_user_string(), e.check_name) for e in evaluations} == CHECKS
    for e in evaluations:
        assert e.partition == DAY.isoformat(), e.check_name
        assert e.metadata["partition"].value == DAY.isoformat()
        assert e.metadata["window"].value == "2015-03-09T23:00:00+00:00 – 2015-03-10T23:00:00+00:00"
    limits = next(e for e in evaluations if e.check_name == "schedules_within_limits")
    assert limits.passed and limits.metadata["values_checked"].value == 96  # one day's steps
    # the checked materialization is that partition's, of this run
    assert limits.target_materialization_data.run_id == run_id
    [record] = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("schedules"), "schedules_within_limits"), limit=10
    )
    assert record.partition == DAY.isoformat() and record.run_id == run_id


def test_a_range_run_evaluates_each_day_on_its_own_window(
    db_url: str, toy_site: dict, instance
) -> None:
    """Site capacity 500 kW, but 150 kW on the second day only (a capacity sensor): the 200 kW
    process breaks it on that day, and only that day's check fails."""
    days = [DAY + timedelta(days=i) for i in range(3)]
    with open_store(db_url) as s:
        building = s.get_asset(toy_site["building"]["id"])
        capacity = s.add_sensor(
            "site capacity",
            asset_id=building.id,
            unit="kW",
            event_resolution=timedelta(hours=1),
            timezone="Europe/Amsterdam",
        )
        src = s.get_or_create_source("grid operator", type="user")
        start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(hours=1)
        hours = [start + timedelta(hours=h) for h in range(72)]
        s.save_beliefs(
            pl.DataFrame(
                {
                    "sensor_id": [capacity.id] * 72,
                    "event_start": hours,
                    "belief_time": [start - timedelta(days=1)] * 72,
                    "source_id": [src.id] * 72,
                    "cumulative_probability": [0.5] * 72,
                    "event_value": [150.0 if 24 <= h < 48 else 500.0 for h in range(72)],
                }
            ).with_columns(pl.col("event_start", "belief_time").dt.cast_time_unit("us"))
        )
        s.update_asset(
            building.id,
            flex_context={**building.flex_context, "site-power-capacity": {"sensor": capacity.id}},
        )

    summary = run_pipeline(db_url, days[0], days[-1], progress=False, instance=instance)

    [run] = instance.get_runs()  # one run over the three days
    limits = {
        e.partition: e
        for e in _evaluations(instance, summary.run_id)
        if e.check_name == "schedules_within_limits"
    }
    assert sorted(limits) == [d.isoformat() for d in days]
    assert [limits[d.isoformat()].passed for d in days] == [True, False, True]
    # the run's summary (CLI, demo) says the check failed, though the last day passed
    assert summary.checks["schedules:schedules_within_limits"] is False
    bad = limits[days[1].isoformat()]
    assert bad.metadata["partition"].value == days[1].isoformat()
    assert bad.metadata["violations"].value == 16  # the process's 4 hours on that day
    times = [datetime.fromisoformat(x.rsplit(" at ", 1)[1]) for x in bad.metadata["examples"].value]
    day2 = (datetime(2015, 3, 10, 23, tzinfo=UTC), datetime(2015, 3, 11, 23, tzinfo=UTC))
    assert times and all(day2[0] <= t < day2[1] for t in times)  # only that day's window
    assert limits[days[0].isoformat()].metadata["values_checked"].value == 96
    # each day's evaluation points at that day's materialization in this run
    targets = {
        r.partition_key: r.storage_id
        for r in instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records
        if r.asset_key == AssetKey("schedules")
    }
    for d in days:
        assert (
            limits[d.isoformat()].target_materialization_data.storage_id == targets[d.isoformat()]
        )
    # the blocking failure stops the reports of the run; the check history is per partition
    assert "reports" not in summary.assets
    history = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("schedules"), "schedules_within_limits"), limit=10
    )
    assert sorted(r.partition for r in history) == [d.isoformat() for d in days]
    assert {r.partition: r.status.value for r in history}[days[1].isoformat()] == "FAILED"
