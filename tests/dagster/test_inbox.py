"""The inbox asset on a real DuckDB file: files become beliefs, bad files are refused with reasons."""

from __future__ import annotations

import json
from pathlib import Path

from assets_defs.inbox import inbox_spec
from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from flex_pipelines.toy import create_toy_account
from tests.dagster.conftest import DAY, price_csv


def _toy(url: str) -> dict:
    with open_store(url) as s:
        return create_toy_account(s, kind="process")


def test_inbox_files_become_beliefs_and_move_to_done(db_url: str, tmp_path: Path, instance) -> None:
    ids = _toy(db_url)
    price = ids["price sensor"]["id"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / f"{price}__EPEX.csv").write_bytes(price_csv(DAY, 2))
    (inbox / f"{price}__EPEX.json").write_text(json.dumps({"source_type": "market"}))

    summary = run_pipeline(
        db_url,
        DAY,
        DAY,
        progress=False,
        inbox=str(inbox),
        instance=instance,
        assets=["inbox_beliefs"],
    )

    assert summary.success, summary.error
    meta = summary.assets["inbox_beliefs"]
    assert (meta["files"], meta["failed_files"], meta["row_count"]) == (1, 0, 49)
    assert summary.checks == {
        "inbox_beliefs:inbox_files_accepted": True,
        "inbox_beliefs:inbox_beliefs_schema": True,
    }
    assert not list(inbox.glob("*.csv"))
    assert sorted(p.name.split("__", 1)[1] for p in (inbox / "done").iterdir()) == [
        f"{price}__EPEX.csv",
        f"{price}__EPEX.json",
    ]
    with open_store(db_url) as s:
        assert s.count_beliefs(price) == 49
        assert s.get_source("EPEX").type == "market"


def test_refused_files_go_to_failed_with_the_error(db_url: str, tmp_path: Path, instance) -> None:
    ids = _toy(db_url)
    price = ids["price sensor"]["id"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "999__EPEX.csv").write_bytes(price_csv(DAY, 1))  # no such sensor
    (inbox / f"{price}__EPEX.csv").write_text(
        "timestamp,price\n2015-03-10T00:00:00+01:00,12.5\n2015-03-10T01:00:00+01:00,abc\n"
    )
    (inbox / "prices.csv").write_text("timestamp,price\n")  # name without sensor and source

    summary = run_pipeline(
        db_url,
        DAY,
        DAY,
        progress=False,
        inbox=str(inbox),
        instance=instance,
        assets=["inbox_beliefs"],
    )

    assert summary.success  # refusing a file is not a failed run; the check says so
    assert summary.assets["inbox_beliefs"]["failed_files"] == 3
    assert summary.checks["inbox_beliefs:inbox_files_accepted"] is False
    errors = {
        p.name.split("__", 1)[1]: p.read_text() for p in (inbox / "failed").glob("*.error.txt")
    }
    assert "999" in errors["999__EPEX.error.txt"]
    assert "value 'abc' at 2015-03-10 00:00:00+00:00" in errors[f"{price}__EPEX.error.txt"]
    assert "<sensor_id>__<source>.csv" in errors["prices.error.txt"]
    with open_store(db_url) as s:
        assert s.count_beliefs(price) == 0  # nothing half-saved


def test_sidecar_options(tmp_path: Path) -> None:
    path = tmp_path / "anything.csv"
    path.write_text("t,v\n")
    path.with_suffix(".json").write_text(
        json.dumps(
            {
                "sensor": 7,
                "source": "meter",
                "source_type": "gateway",
                "timezone": "Europe/Amsterdam",
                "unit": "MW",
                "horizon": "PT1H",
            }
        )
    )
    sensor, source, source_type, options = inbox_spec(path)
    assert (sensor, source, source_type) == (7, "meter", "gateway")
    assert (options.timezone, options.unit, options.horizon.total_seconds()) == (
        "Europe/Amsterdam",
        "MW",
        3600,
    )
