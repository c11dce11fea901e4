"""``flexpipe pipeline run`` on a real DuckDB file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flex_pipelines.cli.main import app


def test_pipeline_run_prints_a_json_summary(db_url: str, toy_site: dict, tmp_path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "pipeline",
            "run",
            "--start",
            "2015-03-10",
            "--end",
            "2015-03-11",
            "--db",
            db_url,
            "--inbox",
            str(tmp_path / "inbox"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (
        summary["success"] and summary["start"] == "2015-03-10" and summary["end"] == "2015-03-11"
    )
    assert summary["assets"]["schedules"]["site_days"] == 2
    assert all(summary["checks"].values())


def test_pipeline_run_table_and_bad_dates(db_url: str, toy_site: dict, tmp_path) -> None:
    ok = CliRunner().invoke(
        app,
        [
            "pipeline",
            "run",
            "--start",
            "2015-03-10",
            "--end",
            "2015-03-10",
            "--db",
            db_url,
            "--inbox",
            str(tmp_path / "inbox"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "schedules" in ok.stdout and "checks: 6 passed" in ok.stdout
    bad = CliRunner().invoke(
        app, ["pipeline", "run", "--start", "2015-03-12", "--end", "2015-03-10", "--db", db_url]
    )
    assert bad.exit_code != 0
    assert "--end 2015-03-10 is before --start 2015-03-12" in str(bad.exception)
    worse = CliRunner().invoke(
        app, ["pipeline", "run", "--start", "yesterday", "--end", "2015-03-10", "--db", db_url]
    )
    assert "--start 'yesterday' is not a date (YYYY-MM-DD)" in str(worse.exception)


def test_reoptimise_backfills_the_history_the_sensor_does_not_replay(
    db_url: str, toy_site: dict
) -> None:
    site = toy_site["building"]["id"]
    args = ["pipeline", "reoptimise", "--since-ingestion", "0", "--db", db_url, "--format", "json"]
    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    # 73 hourly prices from 2015-03-10 00:00 local: four days, one run over the stretch
    assert json.loads(dry.stdout) == {
        "runs": [{"start": "2015-03-10", "end": "2015-03-13", "sites": [site]}],
        "results": [],
    }

    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    [result] = json.loads(done.stdout)["results"]
    assert result["success"] and result["assets"]["schedules"]["site_days"] == 3  # the 13th: 1 h
    # the schedules saw those prices: nothing left to backfill
    again = CliRunner().invoke(app, [*args, "--dry-run"])
    assert json.loads(again.stdout)["runs"] == [
        {"start": "2015-03-13", "end": "2015-03-13", "sites": [site]}
    ]
