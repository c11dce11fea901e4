"""Non-finite values at the API's doors (issue 14): sensor data and a flex-model quantity are
refused naming the field, the value and its time; nothing is stored, no schedule is made."""

from __future__ import annotations

from tests.api.test_jobs import DAY, post_prices, wait_job

DATA = "/api/v3_0/sensors/{}/data"


def _count(server, sensor_id: int) -> int:
    return server.with_store(lambda s: s.count_beliefs(sensor_id))


def test_infinity_in_posted_values_names_its_event(server) -> None:
    pv = server.ids["pv_sensor"]  # kW, 15 minutes
    before = _count(server, pv)
    body = (
        b'{"values": [1, 2, Infinity, 4], "start": "2026-02-01T00:00:00+01:00", '
        b'"duration": "PT1H", "unit": "kW"}'
    )
    with server.client("bob") as c:
        r = c.post(DATA.format(pv), content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
    assert "inf" in r.text.lower() and "position 2" in r.text
    assert "2026-02-01T00:30:00+01:00" in r.text, r.text
    assert _count(server, pv) == before


def test_values_that_overflow_in_the_sensors_unit_name_their_event(server) -> None:
    pv = server.ids["pv_sensor"]
    before = _count(server, pv)
    msg = {"values": [1.0, 1e306], "start": "2026-02-02T00:00:00+01:00", "duration": "PT30M"}
    with server.client("bob") as c:
        r = c.post(DATA.format(pv), json={**msg, "unit": "GW"})
    assert r.status_code in (400, 422), r.text
    assert "position 1 (event 2026-02-02T00:15:00+01:00)" in r.text, r.text
    assert "not a finite number in kW" in r.text
    assert _count(server, pv) == before


def test_an_overflowing_flex_model_quantity_is_refused(server) -> None:
    power = server.ids["power_sensor"]
    post_prices(server)
    trigger = {"start": DAY, "duration": "PT12H", "flex-model": {"soc-max": "1e309 kWh"}}
    with server.client("bob") as c:
        r = c.post(f"/api/v3_0/sensors/{power}/schedules/trigger", json=trigger)
        if r.status_code == 202:  # refused when the job runs
            job = wait_job(c, r.json()["job"])
            assert job["status"] == "FAILED", job
            text = job["message"]
        else:
            assert r.status_code in (400, 422), r.text
            text = r.text
    assert "soc-max" in text and "1e309" in text and "not a finite number" in text, text
