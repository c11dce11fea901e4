"""The belief-store contract, entities: schema set-up, accounts, assets, sensors, sources and
users round-tripping, unknown ids and bad definitions refused, an asset's deletion cascading.

Every test runs against DuckDB and against a real PostgreSQL (the ``store`` fixture of
tests/conftest.py); the ``site`` fixture and the ``frame`` helper are in ``_store_contract.py``.
"""

from __future__ import annotations

import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.errors import FlexPipelinesError
from tests.unit import _store_contract
from tests.unit._store_contract import T0, H, Q, frame

#: the acme site (fixture) on this module's store
site = _store_contract.site


def test_schema_init_is_idempotent(store_url):
    s1 = open_store(store_url)
    s1.add_account("a")
    s1.init_schema()
    s1.init_schema()
    assert [a.name for a in s1.list_accounts()] == ["a"]
    s1.close()


def test_entities_round_trip(store, site):
    assert store.get_account("acme").id == site["acc"].id
    battery = store.add_asset(
        "battery",
        "battery",
        site["acc"].id,
        parent_id=site["building"].id,
        flex_model={"soc-max": "450 kWh"},
    )
    assert store.get_asset(battery.id).flex_model == {"soc-max": "450 kWh"}
    assert [a.id for a in store.asset_ancestry(battery.id)] == [battery.id, site["building"].id]
    updated = store.update_asset(
        site["building"].id, flex_context={"site-power-capacity": "500 kVA"}
    )
    assert updated.flex_context["site-power-capacity"] == "500 kVA"
    s = store.get_sensor(site["price"].id)
    assert s.unit == "EUR/MWh" and s.event_resolution == H and s.knowledge_horizon.hour == 12
    assert {x.id for x in store.list_sensors(asset_id=site["building"].id)} == {
        site["price"].id,
        site["power"].id,
    }
    assert store.get_or_create_source("market", "market").id == site["market"].id
    assert [x.name for x in store.list_sources(["forecaster"])] == ["forecaster"]
    u = store.add_user(site["acc"].id, "ops@acme.test", "hash", roles=["account-admin"])
    assert store.list_users(site["acc"].id)[0].roles == ("account-admin",) and u.id
    with pytest.raises(FlexPipelinesError, match="already taken"):
        store.add_account("acme")
    with pytest.raises(FlexPipelinesError, match="own ancestor"):
        store.update_asset(site["building"].id, parent_id=battery.id)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.get_sensor(999), "unknown sensor id 999"),
        (lambda s: s.get_asset(999), "unknown asset id 999"),
        (lambda s: s.get_source(999), "unknown source 999"),
        (lambda s: s.get_account("nobody"), "unknown account 'nobody'"),
        (lambda s: s.add_sensor("x", "kW", Q, asset_id=999), "unknown asset id 999"),
        (lambda s: s.add_sensor("x", "flibbertigibbets", Q), "unknown unit .flibbertigibbets."),
        (lambda s: s.add_sensor("x", "kW", Q, timezone="Mars/Base"), "unknown timezone"),
    ],
)
def test_unknown_ids_and_bad_definitions(store, call, match):
    with pytest.raises(FlexPipelinesError, match=match):
        call(store)


def test_delete_asset_cascades(store, site):
    store.save_beliefs(frame(site["power"].id, site["meter"].id, [T0], [1], T0 + H))
    store.delete_asset(site["building"].id)
    assert store.list_assets() == [] and store.list_sensors() == [] and store.count_beliefs() == 0
