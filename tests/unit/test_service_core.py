"""The service core's rules: one definition of a site, sensor references with their roles, one
access rule, and doors that do not walk the asset tree or read flex-model JSON themselves."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import list_sites
from flex_pipelines.reporting.site import find_sites, site_spec
from flex_pipelines.scheduling.references import flex_references
from flex_pipelines.service import LOCAL_ADMIN, AccessDenied, Caller, authorize
from flex_pipelines.sites import AssetTree

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def campus(tmp_path):  # noqa: ANN001, ANN201
    """campus (flex-context) → building (flex-context) → battery; a PV asset in the building."""
    store = open_store(str(tmp_path / "campus.duckdb"))
    acc = store.add_account("A")
    price = store.add_sensor("price", "EUR/MWh", timedelta(hours=1))
    campus = store.add_asset(
        "campus",
        "campus",
        acc.id,
        flex_context={"consumption-price": {"sensor": price.id}, "site-power-capacity": "1 MW"},
    )
    building = store.add_asset(
        "building",
        "building",
        acc.id,
        parent_id=campus.id,
        flex_context={"site-power-capacity": "300 kW"},
    )
    battery = store.add_asset("battery", "battery", acc.id, parent_id=building.id)
    power = store.add_sensor("power", "kW", timedelta(minutes=15), asset_id=battery.id)
    store.update_asset(battery.id, flex_model={"sensor": power.id, "soc-max": "100 kWh"})
    pv = store.add_asset("pv", "solar", acc.id, parent_id=building.id)
    pv_s = store.add_sensor("pv power", "kW", timedelta(minutes=15), asset_id=pv.id)
    ids = {"campus": campus.id, "building": building.id, "battery": battery.id, "power": power.id}
    ids |= {"price": price.id, "pv": pv_s.id, "account": acc.id}
    yield store, ids
    store.close()


def test_a_site_means_the_same_for_scheduling_reporting_and_views(campus) -> None:  # noqa: ANN001
    store, ids = campus
    assert [s.id for s in list_sites(store)] == [ids["building"]]
    assert find_sites(store) == [ids["building"]]
    site = AssetTree.load(store).site_of(ids["battery"])
    assert site.id == ids["building"]
    # the campus's price is inherited; the building's own capacity wins
    assert site.flex_context == {
        "consumption-price": {"sensor": ids["price"]},
        "site-power-capacity": "300 kW",
    }
    spec = site_spec(store, ids["building"])
    assert {(c.sensor_id, c.role) for c in spec.components} >= {
        (ids["power"], "device"),
        (ids["pv"], "pv"),
        (ids["price"], "cprice"),
    }
    # scheduling the campus schedules the building's devices under the building's context
    (scope,) = AssetTree.load(store).scopes(asset_id=ids["campus"])
    assert scope.site is not None and scope.site.id == ids["building"]
    assert [f["sensor"] for f in scope.flex_models] == [ids["power"]]


def test_references_have_roles_wherever_they_are_nested() -> None:
    refs = flex_references(
        [
            {
                "sensor": 1,
                "state-of-charge": 2,
                "soc-minima": {"sensor": 3},
                "consumption": {"sensor": 9},
                "group": {"sensor": 10},
            },
            {"name": "load", "inflexible-consumption": {"sensor": 11}, "group": {"sensor": 10}},
        ],  # noqa: E501
        {
            "consumption-price": {"sensor": 4},
            "inflexible-device-sensors": [5, {"sensor": 6}],
            "commitments": [{"name": "x", "baseline": {"sensor": 7}, "up-price": "1 EUR/MWh"}],
            "aggregate-power": {"sensor": 8},
            "aggregate-consumption": {"sensor": 12},
            "aggregate-production": {"sensor": 13},
            "production-price-sensor": 14,
            "commodities": [{"commodity": "gas", "consumption-price": {"sensor": 15}}],
        },
    )
    roles = {(r.sensor_id, r.role) for r in refs}
    assert roles == {
        (1, "write"),
        (2, "write"),
        (3, "read"),
        (9, "write"),
        (10, "write"),
        (11, "read"),
        (4, "read"),
        (5, "read"),
        (6, "read"),
        (7, "read"),
        (8, "write"),
        (12, "write"),
        (13, "write"),
        (14, "read"),
        (15, "read"),
    }
    assert next(r.field for r in refs if r.sensor_id == 7) == "flex-context.commitments[0].baseline"


def test_one_access_rule(campus) -> None:  # noqa: ANN001
    store, ids = campus
    other = store.add_account("B")
    theirs = store.add_asset("theirs", "building", other.id)
    foreign = store.add_sensor("foreign", "kW", timedelta(minutes=15), asset_id=theirs.id)
    a, b = Caller(ids["account"], frozenset(), "a"), Caller(other.id, frozenset(), "b")
    refs = flex_references(
        [{"sensor": ids["power"]}], {"consumption-price": {"sensor": ids["price"]}}
    )  # noqa: E501
    authorize(a, store, refs)  # own power sensor, public price
    authorize(LOCAL_ADMIN, store, refs)
    with pytest.raises(AccessDenied, match=f"flex-model.sensor names sensor {ids['power']}"):
        authorize(b, store, refs)
    # a public sensor is readable by all, writable by admins only
    public_write = flex_references([], {"aggregate-power": {"sensor": ids["price"]}})
    with pytest.raises(AccessDenied, match="is public"):
        authorize(a, store, public_write)
    with pytest.raises(AccessDenied) as exc:
        authorize(a, store, flex_references([], {"consumption-price": {"sensor": foreign.id}}))
    assert "foreign" not in str(exc.value) and "kW" not in str(exc.value)  # no name, no unit


#: what a door would write if it walked the tree or read flex JSON itself
FORBIDDEN = re.compile(
    r"flex_model\[|flex_model\.get\(|flex_context\[|flex_context\.get\(|parent_id=|"
    r"asset_ancestry\(|\"process-type\" in|\.flex_model\b.*\"sensor\""
)


def test_no_door_walks_the_asset_tree_or_reads_flex_json() -> None:
    doors = [ROOT / "flex_pipelines" / "api", ROOT / "flex_pipelines" / "cli", ROOT / "assets_defs"]
    hits = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for door in doors
        for path in sorted(door.rglob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert hits == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        ("3", 3),
        (3.0, 3),
        (" 12 ", 12),
        (True, None),
        (9.5, None),
        ("0_9", None),
        ("²", None),
        (0, None),
        (-2, None),
        ("3a", None),
    ],
)
def test_one_reading_of_sensor_ids(value, expected) -> None:  # noqa: ANN001
    from flex_pipelines.scheduling.grid import SchedulingError
    from flex_pipelines.scheduling.references import canonical_ids, sensor_id_of

    if expected is None:
        with pytest.raises(SchedulingError, match="is not a sensor id"):
            sensor_id_of(value, "x")
        with pytest.raises(SchedulingError):
            list(flex_references([], {"consumption-price": {"sensor": value}}))
    else:
        assert sensor_id_of(value) == expected
        assert canonical_ids({"a": [{"sensor": value}]}) == {"a": [{"sensor": expected}]}


def test_input_gaps_count_events_that_overlap_the_window(campus) -> None:  # noqa: ANN001
    """An intraday window from 10:45 needs the hourly price that began at 10:00."""
    from datetime import UTC, datetime

    from flex_pipelines.service import input_gaps
    from tests.helpers import belief_frame

    store, ids = campus
    site = AssetTree.load(store).site(ids["building"])
    t10 = datetime(2026, 5, 1, 10, tzinfo=UTC)
    src = store.get_or_create_source("market", "market")
    store.save_beliefs(
        belief_frame(ids["price"], src.id, [50.0, 60.0], t10, timedelta(hours=1), t10)
    )  # noqa: E501
    assert input_gaps(store, site, t10 + timedelta(minutes=45), t10 + timedelta(hours=2)) is None
    gap = input_gaps(store, site, t10 + timedelta(minutes=45), t10 + timedelta(hours=3))
    assert gap is not None and f"consumption-price sensor {ids['price']} has 2 of 3 values" in gap
    store.delete_beliefs(ids["price"], t10, t10 + timedelta(hours=1))
    gap = input_gaps(store, site, t10 + timedelta(minutes=45), t10 + timedelta(hours=2))
    assert gap is not None and "has 1 of 2 values" in gap


def test_a_report_on_an_asset_writes_only_below_it(tmp_path: Path) -> None:
    from flex_pipelines.errors import FlexPipelinesError
    from flex_pipelines.service.forecast_report import prepare_report
    from flex_pipelines.toy import create_toy_account

    with open_store(tmp_path / "s.duckdb") as s:
        toy = create_toy_account(s, "battery")
        building, battery = toy["building"]["id"], toy["battery"]["id"]
        power = toy["power sensor"]["id"]  # the battery's, below the building
        prepare_report(LOCAL_ADMIN, s, {}, power, asset_id=building)
        prepare_report(LOCAL_ADMIN, s, {}, power, asset_id=battery)
        pv = toy["pv sensor"]["id"]  # the solar panel's: beside the battery, not below it
        with pytest.raises(
            FlexPipelinesError, match=f"output sensor {pv} is not a sensor of asset {battery}"
        ):
            prepare_report(LOCAL_ADMIN, s, {}, pv, asset_id=battery)
