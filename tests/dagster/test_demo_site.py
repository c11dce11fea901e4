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

    summary = run_pipeline(db_url, date(2016, 8, 1), date(2016, 8, 2), progress=False, inbox=str(tmp_path / "inbox"), instance=instance)  # fmt: skip

    assert summary.success, summary.error
    assert summary.assets["inbox_beliefs"]["files"] == 4
    assert summary.assets["forecasts"]["row_count"] == 2 * (24 + 96 + 96)  # price, load, PV
    sched = summary.assets["schedules"]
    assert sched["site_days"] == 2 and sched["n_skipped"] == 0
    assert all(summary.checks.values()), summary.checks
    assert summary.assets["reports"]["kpi_days"] == 2
    with open_store(db_url) as s:
        soc = s.search_beliefs(ids["battery_soc"], source_types=["scheduler"])
    boundary = soc.filter(soc["event_start"] == datetime(2016, 8, 1, 22, tzinfo=UTC))
    # day 2 starts from the state of charge day 1 planned to end with
    assert boundary.height == 2 and boundary["event_value"].n_unique() == 1
