"""``flexpipe pipeline run`` on a real DuckDB file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flex_pipelines.cli.main import app


def test_pipeline_run_prints_a_json_summary(db_url: str, toy_site: dict, tmp_path) -> None:
    result = CliRunner().invoke(app, ["pipeline", "run", "--start", "2015-03-10", "--end", "2015-03-11", "--db", db_url, "--inbox", str(tmp_path / "inbox"), "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (
        summary["success"] and summary["start"] == "2015-03-10" and summary["end"] == "2015-03-11"
    )
    assert summary["assets"]["schedules"]["site_days"] == 2
    assert all(summary["checks"].values())


def test_pipeline_run_table_and_bad_dates(db_url: str, toy_site: dict, tmp_path) -> None:
    ok = CliRunner().invoke(app, ["pipeline", "run", "--start", "2015-03-10", "--end", "2015-03-10", "--db", db_url, "--inbox", str(tmp_path / "inbox")])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "schedules" in ok.stdout and "checks: 6 passed" in ok.stdout
    bad = CliRunner().invoke(app, ["pipeline", "run", "--start", "2015-03-12", "--end", "2015-03-10", "--db", db_url])  # fmt: skip
    assert bad.exit_code != 0
    assert "--end 2015-03-10 is before --start 2015-03-12" in str(bad.exception)
    worse = CliRunner().invoke(app, ["pipeline", "run", "--start", "yesterday", "--end", "2015-03-10", "--db", db_url])  # fmt: skip
    assert "--start 'yesterday' is not a date (YYYY-MM-DD)" in str(worse.exception)
