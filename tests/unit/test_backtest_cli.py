"""``flexpipe backtest``: JSON for scripts, a table with charts and files for people, clear
errors."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from tests.unit.test_backtest_support import GATE, demo_backtest_store

runner = CliRunner()
DAY = date(2016, 8, 1)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> tuple[str, int]:
    path = str(tmp_path_factory.mktemp("btcli") / "demo.duckdb")
    with open_store(path) as s:
        ids = demo_backtest_store(s, DAY, DAY + timedelta(days=1))
    return path, ids["site"]


def _args(db: str, site: int, *more: str) -> list[str]:
    return [
        "backtest",
        "--site",
        str(site),
        "--from",
        "2016-08-01",
        "--to",
        "2016-08-02",
        "--gate-closure",
        GATE,
        "--db",
        db,
        *more,
    ]


def test_json_output_is_the_result_record_and_is_saved(demo_db) -> None:
    db, site = demo_db
    res = runner.invoke(app, _args(db, site, "--variants", "forecast", "--format", "json"))
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["days"] == 2 and out["run_id"] >= 1
    assert [t["variant"] for t in out["totals"]] == ["forecast", "perfect"]
    assert out["totals"][1]["value_capture"] == 1.0
    with open_store(db) as s:
        n = s.query("SELECT count(*) AS n FROM backtest_days WHERE run_id = ?", [out["run_id"]])
    assert n["n"][0] == 4


def test_table_charts_and_files(demo_db, tmp_path) -> None:
    db, site = demo_db
    res = runner.invoke(app, _args(db, site, "--no-save", "--out", str(tmp_path)))
    assert res.exit_code == 0, res.output
    assert "value capture" in res.output and "load-actual" in res.output
    assert "cumulative savings" in res.output and "Forecast schedule vs perfect" in res.output
    assert (tmp_path / "backtest.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "backtest.html").read_text()
    assert "data:image/png;base64," in page and "<td>forecast</td>" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--site", "999"], "site 999"),
        (["--to", "2016-07-01"], "period is empty"),
        (["--from", "2016-08-01T00:00:00"], "naive timestamp"),
        (["--variants", "oracle"], "unknown 'oracle'"),
        (["--gate-closure", "25:00"], "not a local time"),
    ],
)
def test_bad_input_exits_2_naming_the_value(demo_db, change, message) -> None:
    db, site = demo_db
    args = _args(db, site, "--no-save")
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += change
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and message in res.output, res.output
