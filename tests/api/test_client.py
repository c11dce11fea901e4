"""The official flexmeasures-client (0.9.x) against our server, unchanged."""

from __future__ import annotations

import asyncio
import warnings

import pytest
from flexmeasures_client import FlexMeasuresClient

from tests.api.conftest import EMAILS, PASSWORD
from tests.api.test_jobs import DAY, PRICES


def client(srv, who):
    return FlexMeasuresClient(
        email=EMAILS[who],
        password=PASSWORD,
        host=f"127.0.0.1:{srv.port}",
        request_retry_interval=0.05,
        job_polling_interval=0.05,
        job_polling_max_interval=0.2,
        request_timeout=30,
    )


def run(coro):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return asyncio.run(coro)


def test_client_reads_account_assets_and_sensors(server):
    async def go():
        c = client(server, "bob")
        try:
            versions = await c.get_versions()
            assert versions["server_supports_api_versions"] == ["v3_0"]
            account = await c.get_account()
            assert account["id"] == server.ids["account"]
            user = await c.get_user()
            assert user["email"] == EMAILS["bob"]
            types = await c.get_asset_types()
            assert "battery" in {t["name"] for t in types}
            assets = await c.get_assets(parse_json_fields=True, include_public=True)
            assert "NL transmission zone" in {a["name"] for a in assets}
            battery = await c.get_asset(server.ids["battery"], parse_json_fields=True)
            assert battery["flex_model"]["roundtrip-efficiency"] == "90%"
            sensors = await c.get_sensors(asset_id=server.ids["battery"], parse_json_fields=True)
            assert {s["name"] for s in sensors} == {"discharging", "state of charge"}
            sensor = await c.get_sensor(server.ids["power_sensor"], parse_json_fields=True)
            assert sensor["attributes"] == {} and sensor["unit"] == "kW"
            with pytest.raises(ValueError, match="another account"):
                await c.get_sensor(server.ids["other_sensor"], parse_json_fields=True)
        finally:
            await c.close()

    run(go())


def test_client_posts_measurements_and_prices_and_reads_them_back(server):
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
            await bob.post_sensor_data(
                server.ids["pv_sensor"],
                start="2026-01-06T10:00:00+01:00",
                duration="PT1H",
                values=[100, 200, 300, 400],
                unit="kW",
            )
            data = await bob.get_sensor_data(
                server.ids["pv_sensor"],
                start="2026-01-06T10:00:00+01:00",
                duration="PT1H",
                unit="MW",
                resolution="PT15M",
            )
            assert data["values"] == [0.1, 0.2, 0.3, 0.4]
            prices = await bob.get_sensor_data(
                server.ids["price_sensor"],
                start=DAY,
                duration="PT3H",
                unit="EUR/MWh",
                resolution="PT1H",
            )
            assert prices["values"] == PRICES[:3]
            with pytest.raises(ValueError, match="does not fit"):
                await bob.post_sensor_data(
                    server.ids["pv_sensor"],
                    start="2026-01-06T10:00:00+01:00",
                    duration="PT1H",
                    values=[1, 2, 3],
                    unit="kW",
                )
            await admin.delete_sensor_data(
                server.ids["pv_sensor"],
                confirm_first=False,
                start="2026-01-06T10:00:00+01:00",
                until="2026-01-06T10:30:00+01:00",
            )
            left = await bob.get_sensor_data(
                server.ids["pv_sensor"],
                start="2026-01-06T10:00:00+01:00",
                duration="PT1H",
                unit="kW",
                resolution="PT15M",
            )
            assert left["values"] == [None, None, 300, 400]
        finally:
            await admin.close()
            await bob.close()

    run(go())


def test_client_triggers_a_schedule_and_gets_it_back(server):
    async def go():
        admin, pat = client(server, "admin"), client(server, "pat")
        try:
            await admin.post_sensor_data(
                server.ids["price_sensor"],
                start=DAY,
                duration="P1D",
                values=PRICES,
                unit="EUR/MWh",
                prior="2026-01-05T12:00:00+01:00",
            )
            schedule = await pat.trigger_and_get_schedule(
                start=DAY, duration="P1D", sensor_id=server.ids["process_sensor"], unit="kW"
            )
            assert schedule["unit"] == "kW" and len(schedule["values"]) == 96
            assert schedule["values"][24:40] == [200.0] * 16
            assert sum(schedule["values"]) == pytest.approx(200.0 * 16)
            job_id = await pat.trigger_schedule(
                start=DAY, duration="P1D", sensor_id=server.ids["process_sensor"]
            )
            job = await pat.wait_for_job(job_id)
            assert job["status"] == "FINISHED"
            assert (await pat.get_job_status(job_id))["status"] == "FINISHED"
            process_asset = (
                await pat.get_sensor(server.ids["process_sensor"], parse_json_fields=True)
            )["generic_asset_id"]
            building = (await pat.get_asset(process_asset, parse_json_fields=True))[
                "parent_asset_id"
            ]
            site = await pat.trigger_and_get_schedule(
                start=DAY,
                duration="P1D",
                asset_id=building,
                flex_model=[{"sensor": server.ids["process_sensor"], "duration": "PT1H"}],
            )
            assert site[0]["sensor"] == server.ids["process_sensor"]
            assert sum(1 for v in site[0]["values"] if v) == 4
        finally:
            await admin.close()
            await pat.close()

    run(go())


def test_client_manages_assets_and_sensors(server):
    async def go():
        alice = client(server, "alice")
        try:
            types = {t["name"]: t["id"] for t in await alice.get_asset_types()}
            asset = await alice.add_asset(
                name="heat pump",
                account_id=server.ids["account"],
                latitude=52.0,
                longitude=4.9,
                generic_asset_type_id=types["heat pump"],
                parent_asset_id=server.ids["building"],
                flex_model={"soc-max": "10 kWh"},
                attributes={"brand": "y"},
            )
            assert asset["parent_asset_id"] == server.ids["building"]
            updated = await alice.update_asset(
                asset["id"],
                {"name": "heat pump 1", "attributes": {"brand": "z"}},
                parse_json_fields=True,
            )
            assert updated["name"] == "heat pump 1" and updated["attributes"] == {"brand": "z"}
            sensor = await alice.add_sensor(
                name="power",
                event_resolution="PT15M",
                unit="kW",
                generic_asset_id=asset["id"],
                timezone="Europe/Amsterdam",
                attributes={"x": 1},
            )
            changed = await alice.update_sensor(
                sensor["id"], {"name": "heat pump power"}, parse_json_fields=True
            )
            assert changed["name"] == "heat pump power" and changed["attributes"] == {"x": 1}
            await alice.delete_sensor(sensor["id"], confirm_first=False)
            await alice.delete_asset(asset["id"], confirm_first=False)
            with pytest.raises(ConnectionError):  # 404 → aiohttp error, as against FlexMeasures
                await alice.get_asset(asset["id"], parse_json_fields=True)
        finally:
            await alice.close()

    run(go())


def test_client_uploads_a_csv_file(server, tmp_path):
    path = tmp_path / "pv.csv"
    path.write_text(
        "event_start,value\n2026-06-01T10:00:00+02:00,1.5\n2026-06-01T10:15:00+02:00,2.5\n"
    )
    bad = tmp_path / "pv2.csv"
    bad.write_text("event_start,value\n2026-06-01T10:00:00,1.5\n")

    async def go():
        bob = client(server, "bob")
        try:
            _, status = await bob.post_sensor_data(
                server.ids["pv_sensor"],
                file_path=str(path),
                unit="MW",
                belief_time_measured_instantly=True,
            )
            assert status == 200
            data = await bob.get_sensor_data(
                server.ids["pv_sensor"],
                start="2026-06-01T10:00:00+02:00",
                duration="PT30M",
                unit="kW",
                resolution="PT15M",
            )
            assert data["values"] == [1500, 2500]
            with pytest.raises(ValueError, match="no UTC offset"):
                await bob.post_sensor_data(server.ids["pv_sensor"], file_path=str(bad))
        finally:
            await bob.close()

    run(go())


def test_client_round_trip_and_schedule_on_postgres(serve, pg_url):
    srv = serve(pg_url)

    async def go():
        admin, pat = client(srv, "admin"), client(srv, "pat")
        try:
            await admin.post_sensor_data(
                srv.ids["price_sensor"],
                start=DAY,
                duration="P1D",
                values=PRICES,
                unit="EUR/MWh",
                prior="2026-01-05T12:00:00+01:00",
            )
            prices = await pat.get_sensor_data(
                srv.ids["price_sensor"],
                start=DAY,
                duration="P1D",
                unit="EUR/MWh",
                resolution="PT1H",
            )
            assert prices["values"] == PRICES
            schedule = await pat.trigger_and_get_schedule(
                start=DAY, duration="P1D", sensor_id=srv.ids["process_sensor"], unit="kW"
            )
            assert schedule["values"][24:40] == [200.0] * 16
        finally:
            await admin.close()
            await pat.close()

    run(go())
