"""The flexpipe CLI on a real DuckDB file: the quick start and its bad-input errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli import app
from tests.helpers import TOY_PRICES_EUR_PER_MWH

PRICES = TOY_PRICES_EUR_PER_MWH
runner = CliRunner()


def run(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args), catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "cli.duckdb")


@pytest.fixture
def toy(db):
    out = run("add", "toy-account", "--db", db, "--format", "json").output
    return json.loads(out)


def write_prices(path, lines=None):
    rows = lines or [f"2026-11-26T{h:02d}:00:00+01:00,{p}" for h, p in enumerate(PRICES)]
    path.write_text("event_start,price\n" + "\n".join(rows) + "\n")
    return str(path)


def test_quick_start(db, toy, tmp_path):
    assert toy["price sensor"]["name"] == "day-ahead prices"
    assert (
        json.loads(run("add", "toy-account", "--db", db, "-f", "json").output) == toy
    )  # idempotent
    price = str(toy["price sensor"]["id"])
    f = write_prices(tmp_path / "prices.csv")
    out = run(
        "add", "beliefs", f, "--sensor", price, "--source", "toy-user", "--db", db, "-f", "json"
    ).output
    assert json.loads(out)["new"] == 24
    out = run(
        "add", "beliefs", f, "--sensor", price, "--source", "toy-user", "--db", db, "-f", "json"
    ).output
    assert json.loads(out)["new"] == 0 and json.loads(out)["already_stored"] == 24
    out = run(
        "show",
        "beliefs",
        "--sensor",
        price,
        "--start",
        "2026-11-26T00:00:00+01:00",
        "--duration",
        "P1D",
        "--db",
        db,
        "-f",
        "json",
    ).output
    values = [r["event_value"] for r in json.loads(out)]
    assert values == [float(p) for p in PRICES]
    chart = run(
        "show",
        "beliefs",
        "--sensor",
        price,
        "--start",
        "2026-11-26T00:00:00+01:00",
        "--duration",
        "P1D",
        "--db",
        db,
        "-f",
        "chart",
    ).output
    assert "day-ahead prices" in chart and "18.0" in chart
    sensors = json.loads(run("show", "sensors", "--db", db, "-f", "json").output)
    assert {"discharging", "day-ahead prices"} <= {s["name"] for s in sensors}
    assert "Toy Account" in run("show", "accounts", "--db", db).output


def test_units_resolution_and_horizon_on_ingest(db, toy, tmp_path):
    # hourly MWh-per-hour prices in EUR/kWh into an EUR/MWh sensor
    price = str(toy["price sensor"]["id"])
    f = tmp_path / "p.csv"
    f.write_text("t,v\n2026-11-26T00:00:00+01:00,0.010\n2026-11-26T01:00:00+01:00,0.011\n")
    run(
        "add",
        "beliefs",
        str(f),
        "--sensor",
        price,
        "--source",
        "s",
        "--unit",
        "EUR/kWh",
        "--horizon",
        "PT24H",
        "--db",
        db,
    )
    with open_store(db) as store:
        got = store.search_beliefs(int(price), one_per_event=True)
        assert got["event_value"].to_list() == pytest.approx([10.0, 11.0])
        # day-ahead knowledge time is 12:00 the day before; 24 h earlier is 12:00 two days before
        assert got["belief_time"][0].isoformat() == "2026-11-24T11:00:00+00:00"
    # hourly kW into the 15-minute battery sensor: each hour becomes four quarter hours
    power = str(toy["power sensor"]["id"])
    g = tmp_path / "pw.csv"
    g.write_text("t,v\n2026-11-26 00:00,100\n2026-11-26 01:00,200\n")
    run(
        "add",
        "beliefs",
        str(g),
        "--sensor",
        power,
        "--source",
        "s",
        "--timezone",
        "Europe/Amsterdam",
        "--db",
        db,
    )
    with open_store(db) as store:
        assert (
            store.search_beliefs(int(power), one_per_event=True)["event_value"].to_list()
            == [100.0] * 4 + [200.0] * 4
        )


@pytest.mark.parametrize(
    "content, extra, message",
    [
        ("t,v\n2026-11-26T00:00:00,1\n", [], "has no UTC offset; give --timezone"),
        (
            "t,v\n2026-11-26T00:00:00+01:00,1\n2026-11-26T00:00:00+01:00,2\n",
            [],
            "appears twice with different values",
        ),
        ("t,v\n2026-11-26T00:00:00+01:00,NaN\n", [], "'NaN' at 2026-11-25 23:00:00"),
        ("t,v\n2026-11-26T00:00:00+01:00,\n", [], "is not a number"),
        ("t,v\n2026-11-26T00:00:00+01:00,1\n", ["--unit", "kW"], "unit 'kW' does not fit sensor"),
        ("t\n2026-11-26T00:00:00+01:00\n", [], "no value column 1"),
        ("t,v\nnot a time,1\n", [], "cannot read event_start 'not a time'"),
        ("t,v\n2026-11-26T00:07:00+01:00,1\n", [], "not on the PT1H grid"),
        (
            "t,v\n2026-03-29T02:30:00,1\n",
            ["--timezone", "Europe/Amsterdam"],
            "'2026-03-29T02:30:00' (row 1) does not exist: the clocks skip it",
        ),
    ],
)
def test_bad_csv_input_is_refused_and_nothing_is_stored(db, toy, tmp_path, content, extra, message):
    price = str(toy["price sensor"]["id"])
    f = tmp_path / "bad.csv"
    f.write_text(content)
    r = run(
        "add", "beliefs", str(f), "--sensor", price, "--source", "s", *extra, "--db", db, ok=False
    )
    assert r.exit_code != 0
    assert message in str(r.exception), str(r.exception)
    with open_store(db) as store:
        assert store.count_beliefs() == 0


def test_unknown_ids_and_bad_windows(db, toy, tmp_path):
    f = write_prices(tmp_path / "prices.csv")
    r = run("add", "beliefs", f, "--sensor", "999", "--source", "s", "--db", db, ok=False)
    assert "unknown sensor id 999" in str(r.exception)
    r = run("add", "beliefs", f, "--sensor", "1", "--source", "42", "--db", db, ok=False)
    assert "unknown source '42'" in str(r.exception)
    r = run(
        "show",
        "beliefs",
        "--sensor",
        "1",
        "--start",
        "2026-11-26T00:00:00+01:00",
        "--duration",
        "-P1D",
        "--db",
        db,
        ok=False,
    )
    assert "is before its start" in str(r.exception)


def test_unreachable_postgres_is_a_clear_error(tmp_path):
    r = run("db", "init", "--db", "postgresql://postgres:secret@127.0.0.1:1/nope", ok=False)
    assert "cannot reach PostgreSQL at postgresql://postgres:***@127.0.0.1:1/nope" in str(
        r.exception
    )


def test_add_entities_and_json_output(db):
    acc = json.loads(run("add", "account", "--name", "ACME", "--db", db, "-f", "json").output)[0]
    site = json.loads(
        run(
            "add",
            "asset",
            "--name",
            "site",
            "--type",
            "building",
            "--account",
            str(acc["id"]),
            "--timezone",
            "Europe/Amsterdam",
            "--flex-context",
            '{"site-power-capacity": "1 MW"}',
            "--db",
            db,
            "-f",
            "json",
        ).output
    )[0]
    assert site["flex_context"] == {"site-power-capacity": "1 MW"}
    sensor = json.loads(
        run(
            "add",
            "sensor",
            "--name",
            "price",
            "--unit",
            "EUR/MWh",
            "--event-resolution",
            "PT1H",
            "--asset",
            str(site["id"]),
            "--knowledge-horizon",
            '{"kind": "day_ahead", "hour": 13}',
            "--db",
            db,
            "-f",
            "json",
        ).output
    )[0]
    assert sensor["event_resolution"] == "PT1H" and sensor["knowledge_horizon"] == {
        "kind": "day_ahead",
        "hour": 13,
    }
    src = json.loads(
        run(
            "add", "source", "--name", "ENTSO-E", "--type", "market", "--db", db, "-f", "json"
        ).output
    )[0]
    assert src["type"] == "market"
    r = run(
        "add",
        "asset",
        "--name",
        "x",
        "--type",
        "battery",
        "--flex-model",
        "{soc-max: 1}",
        "--db",
        db,
        ok=False,
    )
    assert "--flex-model is not valid JSON" in str(r.exception)
    r = run(
        "add",
        "sensor",
        "--name",
        "x",
        "--unit",
        "kW",
        "--event-resolution",
        "often",
        "--db",
        db,
        ok=False,
    )
    assert "cannot read duration 'often'" in str(r.exception)
    r = run(
        "add",
        "sensor",
        "--name",
        "x",
        "--unit",
        "kW",
        "--event-resolution",
        "PT15M",
        "--knowledge-horizon",
        '{"kind": "someday"}',
        "--db",
        db,
        ok=False,
    )
    assert "knowledge-horizon kind 'someday'" in str(r.exception)
