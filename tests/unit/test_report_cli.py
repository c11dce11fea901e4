"""``flexpipe add report``, ``show kpis``, ``show schedule-chart`` and ``db views`` on a DuckDB file."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from tests.unit.test_report_helpers import schedule, toy_process_site

runner = CliRunner()
WINDOW = ["--start", "2026-11-26T00:00+01:00", "--end", "2026-11-27T00:00+01:00"]


@pytest.fixture
def toy_db(tmp_path):
    path = str(tmp_path / "toy.duckdb")
    with open_store(path) as store:
        ids = toy_process_site(store)
        schedule(store, ids["power"], "SHIFTABLE")
        from datetime import timedelta

        ids["cost"] = store.add_sensor(
            "process cost", "EUR", timedelta(minutes=15), timezone="Europe/Amsterdam"
        ).id
    return path, ids


def _config(tmp_path, obj) -> str:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(obj))
    return str(p)


def test_add_report_profit_loss_saves_and_reruns(toy_db, tmp_path):
    db, ids = toy_db
    cfg = _config(
        tmp_path, {"power": {"sensor": ids["power"]}, "consumption-price": {"sensor": ids["price"]}}
    )
    args = [
        "add",
        "report",
        "--db",
        db,
        "--reporter",
        "profit-loss",
        "--config",
        cfg,
        *WINDOW,
        "--output-sensor",
        str(ids["cost"]),
        "--format",
        "json",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["summary"]["total_cost_eur"] == pytest.approx(5.40)
    assert out["summary"]["n_new_beliefs"] == 96
    assert len(out["rows"]) == 96 and out["rows"][0]["event_start"].endswith("+01:00")
    again = json.loads(runner.invoke(app, args).output)
    assert again["summary"]["n_new_beliefs"] == 0
    table = runner.invoke(app, args[:-2])
    assert table.exit_code == 0 and "total_cost_eur" in table.output


def test_add_report_sql_refuses_writes_and_says_empty(toy_db, tmp_path):
    db, ids = toy_db
    bad = _config(tmp_path, {"inputs": {"pv": {"sensor": ids["pv"]}}, "sql": "DELETE FROM pv"})
    res = runner.invoke(
        app, ["add", "report", "--db", db, "--reporter", "sql", "--config", bad, *WINDOW]
    )
    assert res.exit_code == 2 and "is a DELETE statement" in res.output
    ok = _config(
        tmp_path,
        {"inputs": {"pv": {"sensor": ids["pv"]}}, "sql": "SELECT event_start, value FROM pv"},
    )
    res = runner.invoke(
        app,
        [
            "add",
            "report",
            "--db",
            db,
            "--reporter",
            "sql",
            "--config",
            ok,
            "--start",
            "2027-01-01T00:00+01:00",
            "--end",
            "2027-01-02T00:00+01:00",
        ],
    )
    assert res.exit_code == 0 and "Empty report" in res.output and "no input values" in res.output


def test_add_report_bad_config_file(toy_db, tmp_path):
    db, _ = toy_db
    p = tmp_path / "broken.json"
    p.write_text("{not json")
    res = runner.invoke(
        app, ["add", "report", "--db", db, "--reporter", "aggregator", "--config", str(p), *WINDOW]
    )
    assert res.exit_code == 2 and "is not valid JSON" in res.output


def test_show_kpis_table_json_and_png(toy_db, tmp_path):
    db, ids = toy_db
    png = tmp_path / "cost.png"
    res = runner.invoke(
        app,
        [
            "show",
            "kpis",
            "--db",
            db,
            "--asset",
            str(ids["building"]),
            "--start",
            "2026-11-26",
            "--end",
            "2026-11-27",
            "--png",
            str(png),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Savings versus the baseline" in res.output and "4.20 EUR" in res.output
    assert png.read_bytes().startswith(b"\x89PNG")
    res = runner.invoke(
        app,
        ["show", "kpis", "--db", db, "--asset", str(ids["building"]), *WINDOW, "--format", "json"],
    )
    (row,) = json.loads(res.output)
    assert row["day"] == "2026-11-26" and row["savings"] == pytest.approx(4.20)
    res = runner.invoke(
        app,
        [
            "show",
            "kpis",
            "--db",
            db,
            "--asset",
            str(ids["building"]),
            "--start",
            "2027-01-01",
            "--end",
            "2027-01-02",
        ],
    )
    assert res.exit_code == 0 and "No KPIs" in res.output


def test_schedule_chart_and_views_for_the_duckdb_cli(toy_db, tmp_path):
    db, ids = toy_db
    png, vega = tmp_path / "s.png", tmp_path / "s.json"
    res = runner.invoke(
        app,
        [
            "show",
            "schedule-chart",
            "--db",
            db,
            "--sensor",
            str(ids["power"]),
            *WINDOW,
            "--png",
            str(png),
            "--vega",
            str(vega),
        ],
    )
    assert res.exit_code == 0, res.output
    assert png.read_bytes().startswith(b"\x89PNG") and json.loads(vega.read_text())["vconcat"]
    res = runner.invoke(app, ["db", "views", "--db", db])
    assert res.exit_code == 0 and "site_timeline" in res.output
    # an analyst's read-only connection, as with the duckdb CLI
    con = duckdb.connect(db, read_only=True)
    n, kw = con.execute("SELECT count(*), max(site_power_kw) FROM site_timeline").fetchone()
    con.close()
    assert n == 96 and kw == pytest.approx(200.0 - 190.0)  # 14:00, the process's last hour
