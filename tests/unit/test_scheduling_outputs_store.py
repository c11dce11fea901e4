"""Output sensors of issue 15's fields, saved by the store scheduler on a real DuckDB file:
``aggregate-consumption`` / ``aggregate-production`` (FlexMeasures' convention: one of them
alone gets the whole profile in its own sign, both get their positive parts), a group's summed
power on its sensor, and no schedule on an inflexible device's (measured) sensor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.storage_store import schedule_storage
from tests.helpers import belief_frame

START = "2026-01-02T00:00+01:00"
DAY = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
PRICES = [10, 100, 100, 10]


@pytest.fixture()
def site(tmp_path):
    path = tmp_path / "site.duckdb"
    with open_store(path) as store:
        acc = store.add_account("a")
        price = store.add_sensor("prices", "EUR/MWh", timedelta(hours=1))
        building = store.add_asset("building", "building", acc.id)
        bat = store.add_asset("battery", "battery", acc.id, parent_id=building.id)
        ids = {"price": price.id, "building": building.id, "battery": bat.id, "path": path}
        for name in ("power", "load", "inverter", "cons", "prod", "agg"):
            ids[name] = store.add_sensor(name, "kW", timedelta(hours=1), asset_id=bat.id).id
        store.update_asset(
            bat.id,
            flex_model={
                "sensor": ids["power"],
                "soc-at-start": "1 MWh",
                "soc-min": "0 MWh",
                "soc-max": "2 MWh",
                "power-capacity": "1 MW",
                "prefer-charging-sooner": False,
                "group": {"sensor": ids["inverter"]},
            },
        )
        src = store.get_or_create_source("market", "market")
        meter = store.get_or_create_source("meter", "demo")
        store.save_beliefs(
            belief_frame(price.id, src.id, PRICES, DAY, timedelta(hours=1), DAY - timedelta(days=1))
        )
        store.save_beliefs(
            belief_frame(
                ids["load"], meter.id, [200.0] * 4, DAY, timedelta(hours=1), DAY - timedelta(days=1)
            )
        )
    return ids


def _saved(store, sid: int) -> np.ndarray:
    frame = store.search_beliefs(sid, source_types=["scheduler"]).sort("event_start")
    return frame["event_value"].to_numpy()


@pytest.mark.parametrize("outputs", ["consumption", "production", "both"])
def test_aggregate_outputs_and_a_group_sum_are_saved(site, outputs):
    fc = {"consumption-price": {"sensor": site["price"]}}
    if outputs in ("consumption", "both"):
        fc["aggregate-consumption"] = {"sensor": site["cons"]}
    if outputs in ("production", "both"):
        fc["aggregate-production"] = {"sensor": site["prod"]}
    fm = [
        {"sensor": site["power"]},
        {
            "name": "load",
            "sensor": site["load"],
            "inflexible-consumption": {"sensor": site["load"]},
            "group": {"sensor": site["inverter"]},
        },
        {"sensor": site["inverter"], "power-capacity": "1.5 MW"},
    ]
    with open_store(site["path"]) as store:
        run = schedule_storage(
            store,
            asset_id=site["building"],
            start=START,
            duration="PT4H",
            flex_model=fm,
            flex_context=fc,
        )
        net_kw = run.result.site_power_mw * 1000
        battery_kw = _saved(store, site["power"])
        assert (net_kw < 0).any() and (net_kw > 0).any()  # buys, then sells
        np.testing.assert_allclose(net_kw, battery_kw + 200)  # the load is on the site
        np.testing.assert_allclose(_saved(store, site["inverter"]), battery_kw + 200)
        assert (battery_kw + 200 <= 1500 + 1e-6).all()
        assert _saved(store, site["load"]).size == 0  # measured: no schedule saved on it
        cons, prod = _saved(store, site["cons"]), _saved(store, site["prod"])
    if outputs == "consumption":
        np.testing.assert_allclose(cons, net_kw)
        assert prod.size == 0
    elif outputs == "production":
        np.testing.assert_allclose(prod, -net_kw)
        assert cons.size == 0
    else:
        np.testing.assert_allclose(cons, np.maximum(net_kw, 0))
        np.testing.assert_allclose(prod, np.maximum(-net_kw, 0))


def test_aggregate_outputs_inside_commodities_are_refused_by_the_store_scheduler(site):
    fc = {
        "consumption-price": {"sensor": site["price"]},
        "commodities": [{"commodity": "heat", "aggregate-consumption": {"sensor": site["agg"]}}],
    }
    with (
        open_store(site["path"]) as store,
        pytest.raises(SchedulingError, match="escape the access check"),
    ):
        schedule_storage(
            store, asset_id=site["building"], start=START, duration="PT4H", flex_context=fc
        )


def test_bare_soc_numbers_are_in_the_power_sensors_unit_with_h(site):
    """FlexMeasures reads a bare SoC number in the power sensor's unit with "h" (kW → kWh)."""
    fc = {"consumption-price": {"sensor": site["price"]}}
    bare = {"sensor": site["power"], "soc-at-start": 1000, "soc-min": 0, "soc-max": 2000}
    group = {"sensor": site["inverter"], "power-capacity": "1.5 MW"}
    with open_store(site["path"]) as store:
        a = schedule_storage(
            store,
            asset_id=site["building"],
            start=START,
            duration="PT4H",
            flex_context=fc,
            flex_model=[bare, group],
            save=False,
        )
        b = schedule_storage(
            store,
            asset_id=site["building"],
            start=START,
            duration="PT4H",
            flex_context=fc,
            flex_model=[group],
            save=False,
        )
    np.testing.assert_allclose(a.result.devices[0].power_mw, b.result.devices[0].power_mw)
    assert a.result.devices[0].soc_mwh[0] == pytest.approx(1.0)
