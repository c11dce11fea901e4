"""Store-integrated storage scheduling on a real DuckDB file, and the CLI commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from flex_pipelines.scheduling.storage_store import SOURCE_NAME, schedule_storage
from tests.helpers import TOY_PRICES_EUR_PER_MWH, belief_frame

PRICES = TOY_PRICES_EUR_PER_MWH
DAY = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)  # 2026-01-02T00:00+01:00
START = "2026-01-02T07:00+01:00"
CASES = Path(__file__).parent / "scheduling_cases"


@pytest.fixture()
def toy_store(tmp_path):
    """The toy account: a building (site) with a battery, hourly prices known the day before."""
    path = tmp_path / "toy.duckdb"
    with open_store(path) as store:
        acc = store.add_account("toy")
        prices = store.add_sensor(
            "day-ahead prices", "EUR/MWh", timedelta(hours=1), timezone="Europe/Amsterdam"
        )
        building = store.add_asset(
            "building",
            "building",
            acc.id,
            timezone="Europe/Amsterdam",
            flex_context={
                "consumption-price": {"sensor": prices.id},
                "site-power-capacity": "500 kVA",
            },
        )
        bat = store.add_asset("battery", "battery", acc.id, parent_id=building.id)
        power = store.add_sensor("discharging", "kW", timedelta(minutes=15), asset_id=bat.id)
        soc = store.add_sensor("state of charge", "kWh", timedelta(0), asset_id=bat.id)
        store.update_asset(
            bat.id,
            flex_model={
                "sensor": power.id,
                "soc-max": "450 kWh",
                "soc-min": "50 kWh",
                "power-capacity": "500 kVA",
                "roundtrip-efficiency": "90%",
                "state-of-charge": {"sensor": soc.id},
            },
        )
        src = store.get_or_create_source("market", "market")
        known = DAY - timedelta(hours=11)
        store.save_beliefs(belief_frame(prices.id, src.id, PRICES, DAY, timedelta(hours=1), known))
        # a later revision of one price, known only after the schedule was made
        later = belief_frame(
            prices.id,
            src.id,
            [100.0],
            DAY + timedelta(hours=14),
            timedelta(hours=1),
            DAY + timedelta(hours=13),
        )
        store.save_beliefs(later)
    return {
        "path": path,
        "prices": prices.id,
        "power": power.id,
        "soc": soc.id,
        "building": building.id,
        "battery": bat.id,
    }


def test_schedule_storage_saves_power_and_soc_as_scheduler_beliefs(toy_store):
    as_of = datetime(2026, 1, 2, 6, 0, tzinfo=UTC)
    with open_store(toy_store["path"]) as store:
        run = schedule_storage(
            store,
            sensor_id=toy_store["power"],
            start=START,
            duration="PT12H",
            flex_model={"soc-at-start": "50%"},
            as_of=as_of,
        )
        assert run.result.status == "optimal"
        assert run.saved.n_new == 48 + 49
        assert run.source.type == "scheduler" and run.source.name == SOURCE_NAME
        power = store.search_beliefs(toy_store["power"], source_types=["scheduler"])
        soc = store.search_beliefs(toy_store["soc"], source_types=["scheduler"])
        assert power.height == 48 and soc.height == 49
        assert (power["belief_time"] == as_of).all()
        kw = power.sort("event_start")["event_value"].to_numpy()
        assert np.allclose(kw, run.result.devices[0].power_mw * 1000)  # saved in the sensor's kW
        assert soc.sort("event_start")["event_value"][0] == pytest.approx(225)
        # the revised 14:00 price was not known as of 06:00 UTC: it still buys at 14:00
        assert (kw[28:32] > 0).all()
        again = schedule_storage(
            store,
            sensor_id=toy_store["power"],
            start=START,
            duration="PT12H",
            flex_model={"soc-at-start": "50%"},
            as_of=as_of,
        )
        assert again.saved.n_new == 0  # idempotent
        now = schedule_storage(
            store,
            sensor_id=toy_store["power"],
            start=START,
            duration="PT12H",
            flex_model={"soc-at-start": "50%"},
            save=False,
        )
        assert (now.result.devices[0].power_mw[28:32] <= 1e-9).all()  # 100 EUR/MWh: no buying


def test_schedule_storage_for_a_site_reads_the_stored_soc(toy_store):
    as_of = datetime(2026, 1, 2, 6, 0, tzinfo=UTC)
    with open_store(toy_store["path"]) as store:
        src = store.get_or_create_source("gateway", "gateway")
        store.save_beliefs(
            belief_frame(
                toy_store["soc"],
                src.id,
                [300.0],
                datetime(2026, 1, 2, 6, 0, tzinfo=UTC),
                timedelta(0),
                as_of,
            )
        )
        run = schedule_storage(
            store,
            asset_id=toy_store["building"],
            start=START,
            duration="PT12H",
            as_of=as_of,
            save=False,
        )
        assert [d.name for d in run.result.devices] == ["battery"]
        assert run.result.devices[0].soc_mwh[0] == pytest.approx(0.3)


def test_missing_prices_are_an_error_naming_the_time(toy_store):
    msg = "consumption-price has no value at 2026-01-03T00:00"
    with open_store(toy_store["path"]) as store, pytest.raises(Exception, match=msg):
        schedule_storage(
            store,
            sensor_id=toy_store["power"],
            start=START,
            duration="PT24H",
            flex_model={"soc-at-start": "50%"},
            save=False,
        )


def test_cli_add_schedule_for_storage(toy_store):
    res = CliRunner().invoke(
        app,
        [
            "add",
            "schedule",
            "for-storage",
            "--sensor",
            str(toy_store["power"]),
            "--consumption-price-sensor",
            str(toy_store["prices"]),
            "--start",
            START,
            "--duration",
            "PT12H",
            "--soc-at-start",
            "225kWh",
            "--as-of",
            "2026-01-02T06:00+00:00",
            "--db",
            str(toy_store["path"]),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["saved"] == 97 and out["status"] == "optimal"
    assert len(out["devices"][0]["soc"]["values"]) == 49
    assert out["method"] == "dp"
    milp = CliRunner().invoke(
        app,
        [
            "add",
            "schedule",
            "for-storage",
            "--sensor",
            str(toy_store["power"]),
            "--consumption-price-sensor",
            str(toy_store["prices"]),
            "--start",
            START,
            "--duration",
            "PT12H",
            "--soc-at-start",
            "225kWh",
            "--as-of",
            "2026-01-02T06:00+00:00",
            "--db",
            str(toy_store["path"]),
            "--format",
            "json",
            "--method",
            "milp",
            "--dry-run",
        ],
    )
    assert milp.exit_code == 0, milp.output
    other = json.loads(milp.output)
    assert other["method"] in ("lp", "milp") and other["saved"] == 0
    assert other["objective"] == pytest.approx(out["objective"], rel=1e-7)
    bad = CliRunner().invoke(
        app,
        [
            "add",
            "schedule",
            "for-storage",
            "--sensor",
            str(toy_store["power"]),
            "--start",
            START,
            "--duration",
            "PT12H",
            "--soc-at-start",
            "600kWh",
            "--db",
            str(toy_store["path"]),
        ],
    )
    assert bad.exit_code == 2 and "soc-at-start 600 kWh" in bad.output


def test_cli_schedule_solve_json_and_table():
    res = CliRunner().invoke(
        app, ["schedule", "solve", str(CASES / "toy_battery.json"), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out) >= {"status", "objective", "costs", "timings", "devices"}
    dev = out["devices"][0]
    assert dev["power"]["unit"] == "MW" and len(dev["power"]["values"]) == 48
    assert dev["soc"]["unit"] == "MWh" and len(dev["soc"]["values"]) == 49
    assert out["costs"]["total"] < 0
    assert out["method"] == "dp"  # one battery: the dynamic programme
    table = CliRunner().invoke(app, ["schedule", "solve", str(CASES / "toy_battery.json")])
    assert table.exit_code == 0 and "hours from start" in table.output and "total" in table.output
    assert "method dp" in table.output
    milp = CliRunner().invoke(
        app,
        [
            "schedule",
            "solve",
            str(CASES / "toy_battery.json"),
            "--format",
            "json",
            "--method",
            "milp",
        ],
    )
    assert milp.exit_code == 0, milp.output
    other = json.loads(milp.output)
    assert other["method"] in ("lp", "milp")
    assert other["objective"] == pytest.approx(out["objective"], rel=1e-7)
    bad = CliRunner().invoke(
        app, ["schedule", "solve", str(CASES / "toy_battery.json"), "--method", "fastest"]
    )
    assert bad.exit_code == 2 and "method 'fastest' is not one of auto, dp, milp" in bad.output
    xml = CliRunner().invoke(
        app, ["schedule", "solve", str(CASES / "toy_battery.json"), "--format", "xml"]
    )
    assert xml.exit_code == 2 and "--format 'xml' is not one of table, json" in xml.output


def test_cli_schedule_solve_reports_bad_input(tmp_path):
    prob = json.loads((CASES / "toy_battery.json").read_text())
    prob["flex-model"][0]["soc-min"] = "500 kWh"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(prob))
    res = CliRunner().invoke(app, ["schedule", "solve", str(f)])
    assert res.exit_code == 2
    assert "soc-min 500 kWh is above soc-max 450 kWh" in res.output
