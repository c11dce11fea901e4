"""Processes scheduled jointly with storage under one grid limit, on a real DuckDB file: a
factory site with a battery and a shiftable oven, scheduled through the store
(``schedule_storage``) and through the pipeline's site step, its schedules saved (real HiGHS
solves). The same problems without a store are in ``test_joint_scheduling.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.scheduling.storage_store import schedule_storage
from tests.helpers import belief_frame


@pytest.fixture()
def site_store(tmp_path):
    path = tmp_path / "site.duckdb"
    day = datetime(2026, 11, 26, tzinfo=UTC)
    with open_store(path) as store:
        acc = store.add_account("joint")
        prices = store.add_sensor("prices", "EUR/MWh", timedelta(hours=1), timezone="UTC")
        site = store.add_asset(
            "factory",
            "building",
            acc.id,
            timezone="UTC",
            flex_context={
                "consumption-price": {"sensor": prices.id},
                "site-power-capacity": "1 MW",
            },
        )
        bat = store.add_asset("battery", "battery", acc.id, parent_id=site.id)
        bpow = store.add_sensor("battery power", "kW", timedelta(hours=1), asset_id=bat.id)
        store.update_asset(
            bat.id,
            flex_model={
                "sensor": bpow.id,
                "soc-at-start": "0 kWh",
                "soc-min": "0 kWh",
                "soc-max": "1000 kWh",
                "power-capacity": "1000 kW",
                "roundtrip-efficiency": "90%",
            },
        )
        oven = store.add_asset("oven", "process", acc.id, parent_id=site.id)
        opow = store.add_sensor("oven power", "kW", timedelta(hours=1), asset_id=oven.id)
        store.update_asset(
            oven.id,
            flex_model={
                "sensor": opow.id,
                "duration": "PT2H",
                "power": 1000,
                "process-type": "SHIFTABLE",
            },
        )
        src = store.get_or_create_source("market", "market")
        store.save_beliefs(
            belief_frame(
                prices.id,
                src.id,
                [1, 1, 100, 2, 2, 2],
                day,
                timedelta(hours=1),
                day - timedelta(hours=12),
            )
        )
    return {"path": path, "site": site.id, "battery": bpow.id, "oven": opow.id, "day": day}


def test_site_with_battery_and_process_is_scheduled_jointly_and_saved(site_store):
    day = site_store["day"]
    with open_store(site_store["path"]) as store:
        run = schedule_storage(
            store, asset_id=site_store["site"], start=day, end=day + timedelta(hours=6), as_of=day
        )
        assert [d.name for d in run.result.devices] == ["battery", "oven"]
        assert run.sensors["oven"] == site_store["oven"]
        assert run.cost_eur == pytest.approx(-89.814, abs=1e-3)  # _strict_case's joint optimum
        oven = store.search_beliefs(site_store["oven"], source_types=["scheduler"])
        kw = oven.sort("event_start")["event_value"].to_list()
        assert kw == [0, 0, 0, 0, 1000, 1000]  # saved in the sensor's kW, power 1000 = kW
        alone = schedule_storage(
            store,
            asset_id=site_store["site"],
            start=day,
            end=day + timedelta(hours=6),
            as_of=day,
            save=False,
            include_processes=False,
        )
        assert [d.name for d in alone.result.devices] == ["battery"]
        # a process sensor on its own through the same engine, the request overriding a field
        oven_only = schedule_storage(
            store,
            sensor_id=site_store["oven"],
            start=day,
            end=day + timedelta(hours=6),
            as_of=day,
            save=False,
            flex_model={"duration": "PT3H"},
        )
        assert [d.name for d in oven_only.result.devices] == ["oven power"]
        assert oven_only.result.devices[0].starts == ["2026-11-26T03:00:00+00:00"]
        assert oven_only.cost_eur == pytest.approx(6.0)


def test_pipeline_site_schedule_schedules_the_process_once_jointly(site_store):
    from flex_pipelines.pipeline.sites import list_sites
    from flex_pipelines.pipeline.steps import schedule_site

    day = site_store["day"]
    with open_store(site_store["path"]) as store:
        (site,) = list_sites(store)
        out = schedule_site(store, site, day, day + timedelta(hours=6), as_of=day)
        assert [d["kind"] for d in out.devices] == ["storage"]  # the process went with it
        assert out.cost_eur == pytest.approx(-89.814, abs=1e-3)
        oven = store.search_beliefs(site_store["oven"], source_types=["scheduler"])
        assert oven.height == 6 and oven["source_id"].n_unique() == 1
        assert oven.sort("event_start")["event_value"].to_list() == [0, 0, 0, 0, 1000, 1000]
