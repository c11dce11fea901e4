"""The demo site (battery, PV, building load, real prices) through the whole pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from flex_pipelines.beliefs import open_store
from flex_pipelines.demo import build_demo_site, write_inbox_files
from flex_pipelines.pipeline import run_pipeline


def test_demo_site_ingest_forecast_schedule_report(db_url: str, tmp_path: Path, instance) -> None:
    with open_store(db_url) as s:
        ids = build_demo_site(s)
    write_inbox_files(ids, tmp_path / "inbox")

    summary = run_pipeline(
        db_url,
        date(2016, 8, 1),
        date(2016, 8, 2),
        progress=False,
        inbox=str(tmp_path / "inbox"),
        instance=instance,
    )

    assert summary.success, summary.error
    assert summary.assets["inbox_beliefs"]["files"] == 4
    assert summary.assets["forecasts"]["row_count"] == 2 * (24 + 96 + 96)  # price, load, PV
    # a backfill over the past: the forecasts are scored against what happened, per sensor
    accuracy = {a["sensor_id"]: a for a in summary.assets["forecasts"]["accuracy"]}
    assert set(accuracy) == {ids["price"], ids["load"], ids["pv"]}
    assert accuracy[ids["load"]]["n"] == 2 * 96 and 0 < accuracy[ids["load"]]["mae"] < 50  # kW
    assert accuracy[ids["price"]]["n"] == 2 * 24 and accuracy[ids["price"]]["mae"] > 0
    sched = summary.assets["schedules"]
    assert sched["site_days"] == 2 and sched["n_skipped"] == 0
    assert all(summary.checks.values()), summary.checks
    assert summary.assets["reports"]["kpi_days"] == 2
    with open_store(db_url) as s:
        soc = s.search_beliefs(ids["battery_soc"], source_types=["scheduler"])
    boundary = soc.filter(soc["event_start"] == datetime(2016, 8, 1, 22, tzinfo=UTC))
    # day 2 starts from the state of charge day 1 planned to end with: one value at the boundary
    # (day 2's identical belief is not stored again: only changed beliefs are saved)
    assert boundary.height >= 1 and boundary["event_value"].n_unique() == 1
    day2 = soc.filter(soc["event_start"] > datetime(2016, 8, 1, 22, tzinfo=UTC))
    assert day2.height == 96 and day2["event_start"].max() == datetime(2016, 8, 2, 22, tzinfo=UTC)


def test_intraday_cycle_replans_the_rest_of_the_day_from_the_latest_soc(
    db_url: str, tmp_path: Path, instance
) -> None:
    import polars as pl

    from flex_pipelines.definitions import defs

    with open_store(db_url) as s:
        ids = build_demo_site(s)
    write_inbox_files(ids, tmp_path / "inbox")
    day = date(2016, 8, 1)
    assert run_pipeline(
        db_url,
        day,
        day,
        progress=False,
        inbox=str(tmp_path / "inbox"),
        instance=instance,
        assets=["inbox_beliefs"],
    ).success
    measured_at = datetime(2016, 8, 1, 8, tzinfo=UTC)  # 10:00 local
    with open_store(db_url) as s:
        gw = s.get_or_create_source("battery gateway", type="gateway")
        s.save_beliefs(
            pl.DataFrame(
                {
                    "sensor_id": [ids["battery_soc"]],
                    "event_start": [measured_at],
                    "belief_time": [measured_at],
                    "source_id": [gw.id],
                    "cumulative_probability": [0.5],
                    "event_value": [300.0],
                }
            ).with_columns(pl.col("event_start", "belief_time").dt.cast_time_unit("us"))
        )

    job = defs.resolve_job_def("reoptimise_job")
    config = {"intraday": True, "kinds": ["storage"], "now": "2016-08-01T08:07:00+00:00"}
    result = job.execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        run_config={
            "resources": {"store": {"config": {"url": db_url}}},
            "ops": {"schedules": {"ops": {"schedule_targets": {"config": config}}}},
        },
    )

    assert result.success
    with open_store(db_url) as s:
        power = s.search_beliefs(ids["battery_power"], source_types=["scheduler"])
        soc = s.search_beliefs(ids["battery_soc"], source_types=["scheduler"])
    assert power["event_start"].min() == measured_at  # the rest of the day, from 10:00 local
    assert power.height == 56  # 10:00 to midnight local in quarter hours
    assert soc.filter(pl.col("event_start") == measured_at)["event_value"].to_list() == [300.0]
