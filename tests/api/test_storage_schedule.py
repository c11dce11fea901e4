"""The toy battery scheduled over the API (storage scheduler), by the official client and by HTTP."""

from __future__ import annotations

from tests.api.test_client import client, run
from tests.api.test_jobs import DAY, PRICES, post_prices, wait_job


def test_client_schedules_the_toy_battery(server):
    async def go():
        admin, bob = client(server, "admin"), client(server, "bob")
        try:
            await admin.post_sensor_data(
                server.ids["price_sensor"],
                start=DAY,
                duration="P1D",
                values=PRICES,
                unit="EUR/MWh",
                prior="2026-01-05T12:00:00+01:00",
            )
            return await bob.trigger_and_get_schedule(
                start=DAY,
                duration="P1D",
                sensor_id=server.ids["power_sensor"],
                flex_model={"soc-at-start": "225 kWh"},
                unit="kW",
            )
        finally:
            await admin.close()
            await bob.close()

    schedule = run(go())
    values = schedule["values"]
    assert len(values) == 96 and schedule["unit"] == "kW"
    cheapest, dearest = PRICES.index(min(PRICES)), PRICES.index(max(PRICES))
    at_cheap, at_dear = values[cheapest * 4], values[dearest * 4]
    assert at_cheap * at_dear < 0  # charges when cheap, discharges when dear
    assert max(abs(v) for v in values) <= 500 + 1e-6
    with server.client("bob") as c:
        soc = c.get(
            f"/api/v3_0/sensors/{server.ids['soc_sensor']}/data",
            params={"start": DAY, "duration": "P1D", "resolution": "PT15M", "unit": "kWh"},
        ).json()["values"]
    known = [v for v in soc if v is not None]
    assert known and known[0] == 225 and all(50 - 1e-6 <= v <= 450 + 1e-6 for v in known)


def test_client_flex_helpers_with_deprecated_field_names(server):
    from flexmeasures_client import FlexMeasuresClient

    fm = FlexMeasuresClient.create_storage_flex_model(
        soc_unit="kWh", soc_at_start=100, soc_min=50, soc_max=400
    )
    fc = FlexMeasuresClient.create_storage_flex_context(
        consumption_price_sensor=server.ids["price_sensor"]
    )
    assert fc == {"consumption-price-sensor": server.ids["price_sensor"]}

    async def go():
        admin, bob = client(server, "admin"), client(server, "bob")
        try:
            await admin.post_sensor_data(
                server.ids["price_sensor"],
                start=DAY,
                duration="P1D",
                values=PRICES,
                unit="EUR/MWh",
                prior="2026-01-05T12:00:00+01:00",
            )
            return await bob.trigger_and_get_schedule(
                start=DAY,
                duration="PT6H",
                sensor_id=server.ids["power_sensor"],
                flex_model=fm,
                flex_context=fc,
            )
        finally:
            await admin.close()
            await bob.close()

    schedule = run(go())
    assert len(schedule["values"]) == 24 and any(schedule["values"])


def test_site_trigger_schedules_the_battery(server):
    post_prices(server)
    power = server.ids["power_sensor"]
    with server.client("bob") as c:
        r = c.post(
            f"/api/v3_0/assets/{server.ids['building']}/schedules/trigger",
            json={
                "start": DAY,
                "duration": "PT12H",
                "flex-model": [{"sensor": power, "soc-at-start": "100 kWh"}],
            },
        )
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job"])
        assert job["status"] == "FINISHED", job
        assert power in job["result"]["sensor_ids"]
        assert "StorageScheduler" in job["result"]["scheduler"]
        got = c.get(f"/api/v3_0/sensors/{power}/schedules/{r.json()['job']}")
        assert got.status_code == 200 and len(got.json()["values"]) == 48
        bad = c.post(
            f"/api/v3_0/assets/{server.ids['building']}/schedules/trigger",
            json={
                "start": DAY,
                "duration": "PT12H",
                "flex-model": [{"sensor": power, "soc-at-start": "900 kWh"}],
            },
        )
        failed = wait_job(c, bad.json()["job"])
        assert failed["status"] == "FAILED" and "soc-at-start" in failed["message"]
