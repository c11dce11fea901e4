"""flexpipe edit asset|sensor|attribute, delete asset|sensor and show asset|sensor|source on
both backends: JSON output, configuration checked like the API's (an unknown or malformed
sensor reference changes nothing), every change in the audit log under the CLI's actor,
deletions confirmed, counted and warning of references they leave dangling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from flex_pipelines.toy import create_toy_account

T0 = datetime(2026, 3, 29, tzinfo=UTC)


def run(*args: str, input: str | None = None):  # noqa: ANN201
    return CliRunner().invoke(app, list(args), input=input)


@pytest.fixture
def toy(store_url: str) -> dict:
    """The toy account (market 1 with price sensor 1; building 2 with solar 3 (pv sensor 2)
    and battery 4 (power 3, state of charge 4)), 6 prices and another account's asset 5."""
    with open_store(store_url) as s:
        made = create_toy_account(s)
        src = s.get_or_create_source("EPEX", "market")
        s.save_beliefs(
            pl.DataFrame(
                {
                    "sensor_id": [1] * 6,
                    "event_start": [T0 + timedelta(hours=h) for h in range(6)],
                    "belief_time": [T0 - timedelta(hours=12)] * 6,
                    "source_id": [src.id] * 6,
                    "event_value": [50.0, 51.0, 52.0, 53.0, 54.0, 55.0],
                }
            )
        )
        other = s.add_account("Other")
        made["other asset"] = {"id": s.add_asset("elsewhere", "site", other.id).id}
    assert [made[k]["id"] for k in ("building", "battery", "other asset")] == [2, 4, 5]
    return made


def events(url: str, **where: int) -> list[str]:
    with open_store(url) as s:
        return [e.event for e in s.audit_log(**where)]


def test_edit_asset(store_url: str, toy: dict) -> None:
    db = ("--db", store_url, "-f", "json")
    out = run(
        "edit",
        "asset",
        "--id",
        "4",
        "--name",
        "big battery",
        "--attribute",
        "capacity=5.5",
        "--attribute",
        "note=hello",
        "--attribute",
        'tags=["a", 1]',
        "--flex-context",
        '{"consumption-price": {"sensor": 1}}',
        *db,
    )
    assert out.exit_code == 0, out.output
    asset = json.loads(out.stdout)
    assert asset["name"] == "big battery" and asset["parent_id"] == 2
    assert asset["attributes"] == {"capacity": 5.5, "note": "hello", "tags": ["a", 1]}
    assert asset["flex_context"] == {"consumption-price": {"sensor": 1}}
    assert asset["flex_model"]["sensor"] == 3  # untouched
    [latest, *_] = events(store_url, asset_id=4)
    assert latest.startswith(
        "Updated asset 'big battery' (id 4): name: 'toy-battery' → 'big battery'"
    )
    with open_store(store_url) as s:
        assert s.audit_log(asset_id=4)[0].active_user_name.startswith("local admin (CLI, os user ")

    before = events(store_url)
    for args, message in (
        (
            ["--flex-context", '{"consumption-price": {"sensor": 99}}'],
            "unknown sensor id 99 (named in flex-context)",
        ),
        (["--flex-model", '{"sensor": "3x"}'], "flex-model.sensor"),
        (["--flex-model", "[1, 2]"], "--flex-model must be a JSON dict, not list"),
        (
            ["--attribute", 'reports=[{"reporter": "sql", "output-sensor": 77}]'],
            "unknown sensor id 77",
        ),
        (["--parent", "5"], "--parent 5 belongs to account 2, asset 4 to account 1"),
        (["--remove-attribute", "colour"], "no such attribute"),
        (["--timezone", "Mars/Olympus"], "Mars/Olympus"),
        ([], "nothing to change"),
    ):
        refused = run("edit", "asset", "--id", "4", *args, *db)
        assert refused.exit_code != 0 and message in str(refused.exception), (args, refused)
    cycle = run("edit", "asset", "--id", "2", "--parent", "4", *db)
    assert "its own ancestor" in str(cycle.exception)
    assert events(store_url) == before  # nothing was stored or recorded

    moved = run("edit", "asset", "--id", "4", "--no-parent", "--remove-attribute", "note", *db)
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout)["parent_id"] is None
    assert "note" not in json.loads(moved.stdout)["attributes"]


def test_edit_sensor_and_attribute(store_url: str, toy: dict) -> None:
    db = ("--db", store_url, "-f", "json")
    out = run(
        "edit",
        "sensor",
        "--id",
        "1",
        "--unit",
        "EUR/kWh",
        "--name",
        "prices",
        "--knowledge-horizon",
        '{"kind": "ex_ante", "offset": "PT1H"}',
        "--attribute",
        'forecast={"model": "ridge", "regressors": [2]}',
        *db,
    )
    assert out.exit_code == 0, out.output
    sensor = json.loads(out.stdout)
    assert (sensor["name"], sensor["unit"], sensor["beliefs"]) == ("prices", "EUR/kWh", 6)
    assert sensor["knowledge_horizon"] == {"kind": "ex_ante", "offset": "PT1H"}
    assert sensor["attributes"]["forecast"]["regressors"] == [2]
    assert "the 6 stored beliefs of sensor 1 keep their values" in out.stderr
    assert events(store_url, sensor_id=1)[0].startswith("Updated sensor 'prices' (id 1)")
    for args, message in (
        (["--attribute", 'forecast={"regressors": [42]}'], "unknown sensor id 42"),
        (
            ["--attribute", 'forecast={"model": "ridge", "model-params": {"shift": 1}}'],
            "model 'ridge' has no parameter 'shift'",
        ),
        (["--attribute", 'forecast={"clear-sky-plane": "south"}'], "clear-sky-plane 'south'"),
        (["--unit", "zorkmids"], "zorkmids"),
        (["--knowledge-horizon", '{"kind": "tomorrow"}'], "not one of ex_post"),
    ):
        refused = run("edit", "sensor", "--id", "1", *args, *db)
        assert refused.exit_code != 0 and message in str(refused.exception), (args, refused)

    both = run(
        "edit",
        "attribute",
        "--asset",
        "4",
        "--sensor",
        "3",
        "--attribute",
        "max",
        "--float",
        "2.5",
        *db,
    )
    assert both.exit_code == 0, both.output
    assert [(r["asset"], r["sensor"], r["value"]) for r in json.loads(both.stdout)] == [
        (4, None, 2.5),
        (None, 3, 2.5),
    ]
    with open_store(store_url) as s:
        assert s.get_asset(4).attributes["max"] == 2.5 and s.get_sensor(3).attributes == {
            "max": 2.5
        }
    with open_store(store_url) as s:
        [latest, *_] = s.audit_log(sensor_id=3)
    assert latest.event == "Updated sensor 'discharging' (id 3) of asset 4: attributes changed"
    assert latest.details == {"attributes": {"old": {}, "new": {"max": 2.5}}}
    two = run(
        "edit", "attribute", "--asset", "4", "--attribute", "x", "--int", "3", "--str", "y", *db
    )
    assert "exactly one of --value" in str(two.exception)
    bad = run(
        "edit",
        "attribute",
        "--asset",
        "4",
        "--attribute",
        "reports",
        "--list",
        '[{"output-sensor": 99}]',
        *db,
    )
    assert "unknown sensor id 99" in str(bad.exception)
    with open_store(store_url) as s:
        assert "reports" not in s.get_asset(4).attributes


def test_show_one_entity(store_url: str, toy: dict) -> None:
    db = ("--db", store_url, "-f", "json")
    building = json.loads(run("show", "asset", "--id", "2", *db).stdout)
    assert [c["name"] for c in building["children"]] == ["toy-solar", "toy-battery"]
    assert building["sensors"] == [] and building["flex_context"] != {}
    battery = json.loads(run("show", "asset", "--id", "4", *db).stdout)
    assert [(s["id"], s["event_resolution"]) for s in battery["sensors"]] == [
        (3, "PT15M"),
        (4, "PT0S"),
    ]
    prices = json.loads(run("show", "sensor", "--id", "1", *db).stdout)
    assert prices["beliefs"] == 6 and prices["asset"]["id"] == 1
    assert prices["first_event_start"] == T0.isoformat()
    assert prices["last_event_start"] == (T0 + timedelta(hours=5)).isoformat()
    assert prices["knowledge_horizon"] == {"kind": "day_ahead", "hour": 12}
    source = json.loads(run("show", "source", "--id", "EPEX", *db).stdout)
    assert (source["type"], source["beliefs"], source["sensors"]) == ("market", 6, [1])
    table = run("show", "sensor", "--id", "1", "--db", store_url)
    assert table.exit_code == 0 and "day-ahead prices" in table.output
    assert "unknown sensor id 9" in str(run("show", "sensor", "--id", "9", *db).exception)


def test_delete_asset_and_sensor(store_url: str, toy: dict) -> None:
    db = ("--db", store_url, "-f", "json")
    with open_store(store_url) as s:  # asset 5 of the other account names the pv sensor
        s.update_asset(5, flex_context={"inflexible-device-sensors": [2]})
    kept = run("delete", "asset", "--id", "2", "--db", store_url, input="n\n")
    assert (
        kept.exit_code != 0
        and "Delete asset 'toy-building' (id 2) with 2 asset(s) below it, 3 sensor(s) and 0 belief(s)?"
        in kept.output
    )
    with open_store(store_url) as s:
        assert len(s.list_assets()) == 5

    gone = run("delete", "asset", "--id", "2", "--force", *db)  # FlexMeasures' name
    assert gone.exit_code == 0, gone.output
    summary = json.loads(gone.stdout)
    assert (summary["assets"], summary["sensors"], summary["beliefs"]) == (3, 3, 0)
    assert summary["dangling_references"] == [
        "asset 5 (elsewhere): flex-context.inflexible-device-sensors[0]"
    ]
    with open_store(store_url) as s:
        assert [a.id for a in s.list_assets()] == [1, 5]
        assert [x.id for x in s.list_sensors()] == [1]
    assert any(e.startswith("Deleted asset 'toy-building' (id 2)") for e in events(store_url))

    price = run("delete", "sensor", "--id", "1", "--yes", *db)
    assert json.loads(price.stdout) == {
        "sensor": 1,
        "name": "day-ahead prices",
        "beliefs": 6,
        "dangling_references": [],
    }
    with open_store(store_url) as s:
        assert s.count_beliefs() == 0 and s.list_sensors() == []
    assert (
        events(store_url, sensor_id=1)[0] == "Deleted sensor 'day-ahead prices' (id 1) of asset 1"
    )
