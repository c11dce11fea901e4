"""The intraday cycle and the inbox sensor, evaluated at given times (the day-ahead cycle is an
automation condition: ``test_automation.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dagster import build_schedule_context, build_sensor_context

from assets_defs.sensors import inbox_files
from resources import InboxResource
from schedules.cycles import intraday_cycle


def test_intraday_cycle_replans_today_for_storage() -> None:
    ctx = build_schedule_context(scheduled_execution_time=datetime(2024, 7, 1, 22, 15, tzinfo=UTC))
    req = intraday_cycle(ctx)
    assert req.partition_key == "2024-07-02"  # 00:15 local: already the next day
    config = req.run_config["ops"]["schedules"]["ops"]["schedule_targets"]["config"]
    assert config == {"intraday": True, "kinds": ["storage"]}
    assert intraday_cycle.cron_schedule == "*/15 * * * *"


def test_inbox_sensor_requests_one_run_per_set_of_files(tmp_path: Path) -> None:
    inbox = InboxResource(path=str(tmp_path / "inbox"))
    empty = inbox_files(build_sensor_context(resources={"inbox": inbox}))
    assert "no CSV files waiting" in empty.skip_message
    (tmp_path / "inbox" / "7__EPEX.csv").write_text("t,v\n")
    first = inbox_files(build_sensor_context(resources={"inbox": inbox}))
    again = inbox_files(build_sensor_context(resources={"inbox": inbox}))
    assert first.run_key == again.run_key and first.run_key.startswith("inbox:")
    (tmp_path / "inbox" / "8__EPEX.csv").write_text("t,v\n")
    assert inbox_files(build_sensor_context(resources={"inbox": inbox})).run_key != first.run_key
