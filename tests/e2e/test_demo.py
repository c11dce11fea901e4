"""The README's main job, `flexpipe demo`, end to end on a fresh DuckDB file (2 days)."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli import app


def test_demo_runs_ingest_forecast_schedule_report(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    db, out = str(tmp_path / "demo.duckdb"), tmp_path / "out"
    result = CliRunner().invoke(
        app, ["demo", "--db", db, "--out", str(out), "--start", "2016-09-12", "--days", "2"]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    text = result.output
    for expected in (
        "Stored beliefs",
        "Forecasts made by the pipeline",
        "Daily KPIs",
        "Battery savings over 2 days",
        "schedule.png",
    ):
        assert expected in text, expected
    with open_store(db) as store:
        by_type = {
            r["type"]: r["n"]
            for r in store.query(
                "SELECT src.type, count(*) AS n FROM beliefs b JOIN sources src ON src.id = b.source_id GROUP BY src.type"
            ).to_dicts()
        }
        # real data ingested, forecasts for price (hourly) + load + PV (15 min), a battery schedule
        assert by_type["market"] > 17_000 and by_type["demo"] > 28_000
        assert by_type["forecaster"] >= 2 * (24 + 96 + 96)
        assert by_type["scheduler"] >= 2 * 96
    assert (out / "schedule.png").stat().st_size > 10_000 and (
        out / "costs.png"
    ).stat().st_size > 10_000
    # running it again adds nothing new from the inbox (idempotent ingestion)
    again = CliRunner().invoke(
        app,
        ["demo", "--db", db, "--out", str(out), "--start", str(date(2016, 9, 12)), "--days", "2"],
    )
    assert again.exit_code == 0, (again.output, again.exception)
    with open_store(db) as store:
        assert (
            store.query(
                "SELECT count(*) AS n FROM beliefs b JOIN sources s ON s.id = b.source_id WHERE s.type = 'market'"
            )["n"][0]
            == by_type["market"]
        )
