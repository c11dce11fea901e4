"""Flex-model and flex-context fields of issue 15 through the API: ``ramp-limit`` in a sensor
trigger's flex-model, and FlexMeasures' deprecated ``consumption-price-sensor`` read with a
deprecation warning in the job's result (the run record)."""

from __future__ import annotations

from tests.api.test_jobs import DAY, post_prices, wait_job


def test_ramp_limit_through_the_api(server):
    post_prices(server)
    power = server.ids["power_sensor"]
    body = {
        "start": DAY,
        "duration": "PT12H",
        "flex-model": {"soc-at-start": "225 kWh", "ramp-limit": "100 kW"},
    }
    with server.client("bob") as c:
        r = c.post(f"/api/v3_0/sensors/{power}/schedules/trigger", json=body)
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job"])
        assert job["status"] == "FINISHED", job
        values = c.get(
            f"/api/v3_0/sensors/{power}/schedules/{r.json()['job']}", params={"unit": "kW"}
        ).json()["values"]
    assert len(values) == 48
    steps = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    assert max(steps) <= 100 + 1e-6 and max(abs(v) for v in values) > 100


def test_deprecated_price_sensor_field_is_read_with_a_warning(server):
    post_prices(server)
    power = server.ids["power_sensor"]
    body = {
        "start": DAY,
        "duration": "PT6H",
        "flex-model": {"soc-at-start": "225 kWh"},
        "flex-context": {"consumption-price-sensor": server.ids["price_sensor"]},
    }
    with server.client("bob") as c:
        r = c.post(f"/api/v3_0/sensors/{power}/schedules/trigger", json=body)
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job"])
        assert job["status"] == "FINISHED", job
        warnings = [w["message"] for w in job["result"]["warnings"]]
        assert any(
            "deprecated: flex-context field 'consumption-price-sensor'" in w for w in warnings
        ), warnings
        bad = dict(body, **{"flex-context": {"consumption-price-sensor": "three"}})
        r = c.post(f"/api/v3_0/sensors/{power}/schedules/trigger", json=bad)
        assert r.status_code == 400 and "must be a sensor id" in r.text
