"""Forecast and report triggers through the forecasting and reporting libraries."""

from __future__ import annotations

import math

from tests.api.test_client import client, run
from tests.api.test_jobs import wait_job


def test_forecast_trigger_and_result(server):
    with server.client("alice") as c:
        made = c.post(
            "/api/v3_0/sensors",
            json={
                "name": "load",
                "unit": "kW",
                "event_resolution": "PT1H",
                "generic_asset_id": server.ids["building"],
            },
        )
        sid = made.json()["id"]
        values = [100 + 50 * math.sin(2 * math.pi * h / 24) for h in range(24 * 30)]
        r = c.post(
            f"/api/v3_0/sensors/{sid}/data",
            json={
                "values": values,
                "start": "2026-01-01T00:00:00+00:00",
                "duration": "P30D",
                "unit": "kW",
            },
        )
        assert r.status_code == 200, r.text

    async def go():
        bob = client(server, "bob")
        try:
            job_id = await bob.trigger_forecast(
                sensor_id=sid,
                start="2026-01-31T00:00:00+00:00",
                duration="P1D",
                max_forecast_horizon="PT24H",
                forecast_frequency="P1D",
                train_period="P7D",
            )
            await bob.wait_for_job(job_id)
            return await bob.get_forecast(sid, job_id)
        finally:
            await bob.close()

    forecast = run(go())
    assert forecast["unit"] == "kW" and len(forecast["values"]) == 24
    expected = [100 + 50 * math.sin(2 * math.pi * h / 24) for h in range(24)]
    assert max(abs(a - b) for a, b in zip(forecast["values"], expected, strict=True)) < 5
    with server.client("bob") as c:
        assert (
            c.post(
                f"/api/v3_0/sensors/{sid}/forecasts/trigger",
                json={"start": "2026-01-31T00:00:00+00:00"},
            ).status_code
            == 400
        )
        assert (
            c.post(
                f"/api/v3_0/sensors/{server.ids['other_sensor']}/forecasts/trigger",
                json={"start": "2026-01-31T00:00:00+00:00", "duration": "P1D"},
            ).status_code
            == 403
        )


def test_report_trigger_runs_the_aggregator(server):
    with server.client("alice") as c:
        out = c.post(
            "/api/v3_0/sensors",
            json={
                "name": "headroom",
                "unit": "kW",
                "event_resolution": "PT15M",
                "generic_asset_id": server.ids["building"],
            },
        ).json()["id"]
        pv = server.ids["pv_sensor"]
        c.post(
            f"/api/v3_0/sensors/{pv}/data",
            json={
                "values": [10, 20, 30, 40],
                "start": "2026-05-01T00:00:00+00:00",
                "duration": "PT1H",
                "unit": "kW",
            },
        )

    async def go():
        bob = client(server, "bob")
        try:
            job = await bob.trigger_and_await_report(
                asset_id=server.ids["building"],
                reporter="AggregatorReporter",
                parameters={
                    "start": "2026-05-01T00:00:00+00:00",
                    "end": "2026-05-01T01:00:00+00:00",
                    "output": [{"sensor": out}],
                },
                config={
                    "inputs": [{"value": "500 kW"}, {"sensor": pv, "weight": -1}],
                    "method": "sum",
                },
            )
            data = await bob.get_sensor_data(
                out,
                start="2026-05-01T00:00:00+00:00",
                duration="PT1H",
                unit="kW",
                resolution="PT15M",
            )
            return job, data
        finally:
            await bob.close()

    job, data = run(go())
    assert job["status"] == "FINISHED"
    assert data["values"] == [490, 480, 470, 460]
    with server.client("bob") as c:
        bad = c.post(
            f"/api/v3_0/assets/{server.ids['building']}/reports/trigger",
            json={
                "reporter": "CrystalBall",
                "parameters": {
                    "start": "2026-05-01T00:00:00+00:00",
                    "end": "2026-05-01T01:00:00+00:00",
                },
            },
        )
        assert bad.status_code == 400 and "CrystalBall" in bad.json()["message"]
        foreign = c.post(
            f"/api/v3_0/assets/{server.ids['building']}/reports/trigger",
            json={
                "reporter": "aggregator",
                "parameters": {
                    "start": "2026-05-01T00:00:00+00:00",
                    "end": "2026-05-01T01:00:00+00:00",
                    "output": [{"sensor": server.ids["other_sensor"]}],
                },
            },
        )
        assert foreign.status_code == 403
        job_id = c.post(
            f"/api/v3_0/assets/{server.ids['building']}/reports/trigger",
            json={
                "reporter": "aggregator",
                "parameters": {
                    "start": "2026-05-01T00:00:00+00:00",
                    "end": "2026-05-01T01:00:00+00:00",
                    "output": [{"sensor": out}],
                },
                "config": {"inputs": []},
            },
        ).json()["job"]
        failed = wait_job(c, job_id)
        assert failed["status"] == "FAILED" and failed["message"].startswith(
            "Report job failed with"
        )
