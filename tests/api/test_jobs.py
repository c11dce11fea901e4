"""Triggered work: schedules (process scheduler), de-duplication, 'not ready' answers, job status."""

from __future__ import annotations

import time

import pytest

DAY = "2026-01-06T00:00:00+01:00"
PRICES = [
    90,
    80,
    70,
    60,
    50,
    40,
    30,
    20,
    25,
    35,
    45,
    55,
    65,
    75,
    85,
    95,
    100,
    110,
    120,
    110,
    100,
    90,
    80,
    70,
]


def post_prices(srv, day=DAY, prices=PRICES):
    with srv.client("admin") as c:
        r = c.post(
            f"/api/v3_0/sensors/{srv.ids['price_sensor']}/data",
            json={
                "values": prices,
                "start": day,
                "duration": "P1D",
                "unit": "EUR/MWh",
                "prior": "2026-01-05T12:00:00+01:00",
            },
        )
        assert r.status_code == 200, r.text


def wait_job(c, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.get(f"/api/v3_0/jobs/{job_id}").json()
        if job["status"] in ("FINISHED", "FAILED"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_process_schedule_trigger_dedup_and_result(server):
    post_prices(server)
    sensor = server.ids["process_sensor"]
    trigger = {"start": DAY, "duration": "P1D"}
    with server.client("pat") as c:
        first = c.post(f"/api/v3_0/sensors/{sensor}/schedules/trigger", json=trigger)
        assert first.status_code == 202, first.text
        job_id = first.json()["schedule"]
        assert first.json()["job"] == job_id == first.json()["job_id"]
        again = c.post(f"/api/v3_0/sensors/{sensor}/schedules/trigger", json=trigger)
        assert again.json()["schedule"] == job_id and again.json()["deduplicated"] is True
        forced = c.post(
            f"/api/v3_0/sensors/{sensor}/schedules/trigger",
            json={**trigger, "force-new-job-creation": True},
        )
        assert forced.json()["schedule"] != job_id
        job = wait_job(c, job_id)
        assert job["status"] == "FINISHED", job
        assert job["message"] == "Scheduling job has finished."
        got = c.get(
            f"/api/v3_0/sensors/{sensor}/schedules/{job_id}",
            params={"duration": "P0DT12H0M0S", "unit": "MW"},
        )
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["unit"] == "MW" and body["duration"] == "PT12H" and len(body["values"]) == 48
        # 200 kW for 4 hours in the cheapest block: 06:00–10:00 local (prices 30, 20, 25, 35)
        assert body["values"][24:40] == [0.2] * 16
        assert sum(v for v in body["values"] if v) == pytest.approx(0.2 * 16)
        wait_job(c, forced.json()["schedule"])


def test_schedule_not_ready_answers_like_flexmeasures(serve):
    srv = serve(start_worker=False)
    post_prices(srv)
    sensor = srv.ids["process_sensor"]
    with srv.client("pat") as c:
        job_id = c.post(
            f"/api/v3_0/sensors/{sensor}/schedules/trigger", json={"start": DAY, "duration": "P1D"}
        ).json()["job"]
        waiting = c.get(f"/api/v3_0/sensors/{sensor}/schedules/{job_id}")
        assert waiting.status_code == 400
        assert waiting.json()["status"] == "UNKNOWN_SCHEDULE"
        assert waiting.json()["message"].startswith("Scheduling job waiting to be processed.")
        status = c.get(f"/api/v3_0/jobs/{job_id}").json()
        assert status["status"] == "QUEUED" and status["started_at"] is None
        srv.state.jobs.run(job_id)
        done = c.get(f"/api/v3_0/sensors/{sensor}/schedules/{job_id}")
        assert done.status_code == 200 and len(done.json()["values"]) == 96
        unknown = c.get(
            f"/api/v3_0/sensors/{sensor}/schedules/00000000-0000-0000-0000-000000000000"
        )
        assert unknown.status_code == 400 and "not known" in unknown.json()["message"]
        assert c.get("/api/v3_0/jobs/nope").status_code == 404


def test_failed_job_explains_itself(server):
    sensor = server.ids["process_sensor"]
    with server.client("pat") as c:
        r = c.post(
            f"/api/v3_0/sensors/{sensor}/schedules/trigger",
            json={"start": "2026-04-01T00:00:00+02:00", "duration": "P1D"},
        )
        job = wait_job(c, r.json()["job"])
        assert job["status"] == "FAILED"
        assert job["message"].startswith("Scheduling job failed with")
        got = c.get(f"/api/v3_0/sensors/{sensor}/schedules/{r.json()['job']}")
        assert got.status_code == 400 and "Scheduling job failed with" in got.json()["message"]


def test_trigger_auth_and_bad_input(server):
    sensor = server.ids["process_sensor"]
    url = f"/api/v3_0/sensors/{sensor}/schedules/trigger"
    with server.client("bob") as c:  # another account
        assert c.post(url, json={"start": DAY}).status_code == 403
    with server.client("pat") as c:
        assert c.post(url, json={"start": "2026-01-06T00:00:00"}).status_code == 400
        assert c.post(url, json={"start": DAY, "duration": "PT7M"}).status_code == 400
        assert c.post(url, json={"duration": "P1D"}).status_code == 422
        bad_model = c.post(url, json={"start": DAY, "flex-model": {"power": "lots"}})
        assert bad_model.status_code == 400 and "power" in bad_model.json()["message"]
        assert (
            c.post(url, json={"start": DAY, "flex-model": [{"sensor": sensor}]}).status_code == 400
        )
        assert (
            c.post(
                f"/api/v3_0/sensors/{sensor}/schedules/trigger",
                content=b"{",
                headers={"Content-Type": "application/json"},
            ).status_code
            == 422
        )
    with server.client("carol") as c:
        job = None
        r = c.post(
            f"/api/v3_0/assets/{server.ids['process']}/schedules/trigger", json={"start": DAY}
        )
        assert r.status_code == 403
    with server.client("pat") as c:
        job = c.post(url, json={"start": DAY, "duration": "PT12H"}).json()["job"]
    with server.client("carol") as c:
        assert c.get(f"/api/v3_0/jobs/{job}").status_code == 403


def test_asset_trigger_schedules_the_devices_of_a_site(server):
    post_prices(server)
    sensor = server.ids["process_sensor"]
    with server.client("pat") as c:
        site = c.get(f"/api/v3_0/sensors/{sensor}").json()["generic_asset_id"]
        building = c.get(f"/api/v3_0/assets/{site}").json()["parent_asset_id"]
        r = c.post(
            f"/api/v3_0/assets/{building}/schedules/trigger",
            json={
                "start": DAY,
                "duration": "P1D",
                "flex-model": [{"sensor": sensor, "duration": "PT2H"}],
            },
        )
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job"])
        assert job["status"] == "FINISHED", job
        assert job["result"]["sensor_ids"] == [sensor]
        values = c.get(f"/api/v3_0/sensors/{sensor}/schedules/{r.json()['job']}").json()["values"]
        assert sum(1 for v in values if v) == 8  # 2 hours of quarter hours
        foreign = c.post(
            f"/api/v3_0/assets/{building}/schedules/trigger",
            json={"start": DAY, "flex-model": [{"sensor": server.ids["other_sensor"]}]},
        )
        assert foreign.status_code == 403
