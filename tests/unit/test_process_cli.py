"""``flexpipe add schedule for-process`` on a real DuckDB file: the toy account's published costs."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.common import schedule_group
from flex_pipelines.cli.main import app
from flex_pipelines.cli.process_cmds import pair_forbids
from flex_pipelines.errors import FlexPipelinesError
from tests.helpers import TOY_PRICES_EUR_PER_MWH

TOY_PRICES = TOY_PRICES_EUR_PER_MWH
DAY_UTC = datetime(2026, 11, 25, 23, tzinfo=UTC)  # 2026-11-26 00:00 in Amsterdam
PUBLISHED = "2026-11-25T12:00:00+00:00"

runner = CliRunner()


@pytest.fixture
def toy_db(tmp_path) -> tuple[str, int, int]:
    path = str(tmp_path / "toy.duckdb")
    with open_store(path) as store:
        acc = store.add_account("Toy Account")
        asset = store.add_asset("toy-process", "process", acc.id, timezone="Europe/Amsterdam")
        price = store.add_sensor(
            "prices", "EUR/MWh", timedelta(hours=1), timezone="Europe/Amsterdam"
        )
        power = store.add_sensor(
            "process", "kW", timedelta(minutes=15), timezone="Europe/Amsterdam", asset_id=asset.id
        )
        src = store.get_or_create_source("EPEX", type="market")
        store.save_beliefs(
            pl.DataFrame(
                {
                    "sensor_id": [price.id] * 24,
                    "event_start": [DAY_UTC + timedelta(hours=h) for h in range(24)],
                    "belief_time": [datetime(2026, 11, 25, 12, tzinfo=UTC)] * 24,
                    "source_id": [src.id] * 24,
                    "event_value": [float(p) for p in TOY_PRICES],
                }
            )
        )
    return path, price.id, power.id


def invoke(db: str, price_id: int, power_id: int, process_type: str, *extra: str):
    return runner.invoke(
        app,
        [
            "add",
            "schedule",
            "for-process",
            "--db",
            db,
            "--sensor",
            str(power_id),
            "--consumption-price-sensor",
            str(price_id),
            "--start",
            "2026-11-26T00:00:00+01:00",
            "--duration",
            "P1D",
            "--process-duration",
            "PT4H",
            "--process-power",
            "200kW",
            "--process-type",
            process_type,
            "--forbid",
            "2026-11-26T15:00:00+01:00",
            "PT1H",
            "--as-of",
            PUBLISHED,
            *extra,
        ],
    )


@pytest.mark.parametrize(
    ("process_type", "cost"), [("INFLEXIBLE", 9.60), ("SHIFTABLE", 5.40), ("BREAKABLE", 4.30)]
)
def test_published_toy_costs_come_out_of_the_cli(toy_db, process_type, cost) -> None:
    db, price_id, power_id = toy_db
    result = invoke(db, price_id, power_id, process_type, "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["result"]["cost_eur"] == pytest.approx(cost)
    assert out["result"]["status"] == "optimal"
    assert out["result"]["n_new_beliefs"] == 96
    assert len(out["schedule"]) == 96
    assert sum(r["value_kW"] for r in out["schedule"]) == pytest.approx(16 * 200)
    with open_store(db) as store:
        stored = store.search_beliefs(power_id, source_types=["scheduler"])
    assert stored.height == 96


def test_table_output_has_the_schedule_a_chart_and_the_cost(toy_db) -> None:
    db, price_id, power_id = toy_db
    result = invoke(db, price_id, power_id, "SHIFTABLE")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "SHIFTABLE process from 2026-11-26T00:00:00+01:00: 5.40 EUR" in out  # chart title
    assert "█" in out  # the bars of the chart
    assert "2026-11-26T11:00:00+01:00" in out  # block start in the result table
    assert "the 16 steps it runs" in out  # a long window lists only the running steps
    assert "2026-11-26T14:45:00+01:00" in out and "2026-11-26T10:45:00+01:00" not in out
    assert "Saved 96 new belief(s)" in out
    # run again: same as-of, same beliefs, nothing new
    again = invoke(db, price_id, power_id, "SHIFTABLE", "--no-chart")
    assert again.exit_code == 0
    assert "Saved 0 new belief(s)" in again.stdout
    assert "█" not in again.stdout


def test_dry_run_saves_nothing(toy_db) -> None:
    db, price_id, power_id = toy_db
    result = invoke(db, price_id, power_id, "BREAKABLE", "--dry-run", "--no-chart")
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing saved." in result.stdout
    with open_store(db) as store:
        assert store.count_beliefs(power_id) == 0


def test_infeasible_request_exits_2_with_the_window(toy_db) -> None:
    db, price_id, power_id = toy_db
    result = invoke(
        db, price_id, power_id, "SHIFTABLE", "--forbid", "2026-11-26T03:00:00+01:00", "PT21H"
    )
    assert result.exit_code == 2
    assert "Error: process flex-model field 'time-restrictions': no start left" in result.stderr
    assert "2026-11-26T00:00:00+01:00–2026-11-27T00:00:00+01:00" in result.stderr


def test_energy_unit_power_is_refused(toy_db) -> None:
    db, price_id, power_id = toy_db
    result = invoke(db, price_id, power_id, "SHIFTABLE", "--process-power", "200kWh")
    assert result.exit_code == 2
    assert "'power' = '200kWh': 'kWh' is an energy unit" in result.stderr


def test_forbid_pairs() -> None:
    assert pair_forbids(["a", "b/PT2H", "c"], ["PT1H", "P1D"]) == [
        {"start": "a", "duration": "PT1H"},
        {"start": "b", "duration": "PT2H"},
        {"start": "c", "duration": "P1D"},
    ]
    with pytest.raises(FlexPipelinesError, match="--forbid 'a' has no duration"):
        pair_forbids(["a"], [])
    with pytest.raises(FlexPipelinesError, match="unexpected argument"):
        pair_forbids([], ["stray"])


def test_schedule_group_is_shared_whoever_registers_first() -> None:
    add_app = typer.Typer()
    first = schedule_group(add_app)
    assert schedule_group(add_app) is first
    assert [g.name for g in add_app.registered_groups] == ["schedule"]
    # a group made elsewhere (e.g. for-storage's module) is reused, by name or by its info
    other_add = typer.Typer()
    theirs = typer.Typer(name="schedule")
    other_add.add_typer(theirs)
    assert schedule_group(other_add) is theirs


def test_both_schedule_commands_hang_under_one_group() -> None:
    result = runner.invoke(app, ["add", "schedule", "--help"])
    assert result.exit_code == 0
    assert "for-process" in result.stdout
    assert sum(g.name == "schedule" for g in _add_app().registered_groups) == 1


def _add_app() -> typer.Typer:
    # ``flex_pipelines.cli.main`` is also the name of the entry-point function in the package
    return importlib.import_module("flex_pipelines.cli.main").add_app


@pytest.mark.parametrize(
    ("process_type", "cost"), [("INFLEXIBLE", 9.60), ("SHIFTABLE", 5.40), ("BREAKABLE", 4.30)]
)
def test_toy_account_process_uses_the_stored_flex_model_and_site_prices(
    tmp_path, process_type, cost
) -> None:
    """FlexMeasures' toy account (kind process): 200 kW × PT4H stored on the process asset, the
    price sensor in the building's flex-context; only the policy and the restriction are given."""
    from flex_pipelines.toy import create_toy_account

    db = str(tmp_path / "toy.duckdb")
    with open_store(db) as store:
        made = create_toy_account(store, kind="process")
        price_id, power_id = made["price sensor"]["id"], made["power sensor"]["id"]
        src = store.get_or_create_source("EPEX", type="market")
        store.save_beliefs(
            pl.DataFrame(
                {
                    "sensor_id": [price_id] * 24,
                    "event_start": [DAY_UTC + timedelta(hours=h) for h in range(24)],
                    "belief_time": [datetime(2026, 11, 25, 12, tzinfo=UTC)] * 24,
                    "source_id": [src.id] * 24,
                    "event_value": [float(p) for p in TOY_PRICES],
                }
            )
        )
    result = runner.invoke(
        app,
        [
            "add",
            "schedule",
            "for-process",
            "--db",
            db,
            "--sensor",
            str(power_id),
            "--start",
            "2026-11-26T00:00:00+01:00",
            "--process-type",
            process_type,
            "--forbid",
            "2026-11-26T15:00:00+01:00",
            "PT1H",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["result"]
    assert out["cost_eur"] == pytest.approx(cost)
    assert out["consumption_price_sensor_id"] == price_id
    assert out["energy_mwh"] == pytest.approx(0.8)
