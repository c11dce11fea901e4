"""Posting and getting sensor data: conversions, resampling, idempotency, and rejected input."""

from __future__ import annotations

import pytest

URL = "/api/v3_0/sensors/{}/data"


def msg(values, start="2026-01-05T00:00:00+01:00", duration="PT1H", unit="kW", **kw):
    return {"values": values, "start": start, "duration": duration, "unit": unit, **kw}


def count(server, sensor_id):
    return server.with_store(lambda s: s.count_beliefs(sensor_id))


def test_round_trip_with_units_and_resolutions(server):
    pv = server.ids["pv_sensor"]  # kW, 15 min
    with server.client("bob") as c:
        r = c.post(URL.format(pv), json=msg([1000, 2000, 3000, 4000], unit="W"))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "PROCESSED" and r.json()["n_new"] == 4
        again = c.post(URL.format(pv), json=msg([1000, 2000, 3000, 4000], unit="W"))
        assert again.json()["status"] == "ALREADY_RECEIVED_AND_SUCCESSFULLY_PROCESSED"
        # one hourly value upsampled onto four quarter hours
        c.post(URL.format(pv), json=msg(5, start="2026-01-05T01:00:00+01:00", unit="kW"))
        got = c.get(
            URL.format(pv),
            params={"start": "2026-01-05T00:00:00+01:00", "duration": "PT2H", "unit": "kW"},
        )
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["values"] == [1, 2, 3, 4, 5, 5, 5, 5]
        assert body["resolution"] == "PT15M" and body["unit"] == "kW"
        hourly = c.get(
            URL.format(pv),
            params={
                "start": "2026-01-05T00:00:00+01:00",
                "duration": "PT3H",
                "unit": "MW",
                "resolution": "PT1H",
            },
        )
        assert hourly.json()["values"] == [0.0025, 0.005, None]
    assert count(server, pv) == 8


def test_prior_and_horizon_set_belief_times(server):
    price = server.ids["price_sensor"]  # public: admins write, everyone reads
    with server.client("admin") as c:
        day = "2026-01-06T00:00:00+01:00"
        r = c.post(
            URL.format(price),
            json=msg(
                [50] * 24,
                start=day,
                duration="P1D",
                unit="EUR/MWh",
                prior="2026-01-05T12:00:00+01:00",
            ),
        )
        assert r.status_code == 200, r.text
        r = c.post(
            URL.format(price),
            json=msg(
                [60] * 24,
                start=day,
                duration="P1D",
                unit="EUR/MWh",
                prior="2026-01-05T13:00:00+01:00",
            ),
        )
        assert r.json()["n_new"] == 24
    with server.client("bob") as c:
        early = c.get(
            URL.format(price),
            params={"start": day, "duration": "PT2H", "prior": "2026-01-05T12:30:00+01:00"},
        )
        assert early.json()["values"] == [50, 50]
        late = c.get(URL.format(price), params={"start": day, "duration": "PT2H"})
        assert late.json()["values"] == [60, 60]
        assert c.post(URL.format(price), json=msg([1], unit="EUR/MWh")).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (msg([1] * 7), 400, "do not divide duration"),
        (msg([1, 2, 3]), 400, "give a resolution of PT20M, which does not fit the PT15M"),
        (msg([1, 2, 3, 4, 5, 6, 7, 8]), 400, "resolution of PT7M30S"),
        (msg([1, 2, 3, 4], unit="EUR/MWh"), 400, "unit 'EUR/MWh' does not fit sensor"),
        (msg([1, 2, 3, 4], start="2026-01-05T00:00:00"), 400, "has no UTC offset"),
        (msg([1, 2, 3, 4], start="yesterday"), 400, "cannot read timestamp"),
        (msg([1, 2, 3, 4], duration="PT-1H"), 400, "duration"),
        (msg([]), 400, "empty"),
        (msg([1, 2, 3, 4], prior="2026-01-05T00:00:00+01:00", horizon="PT0H"), 400, "not both"),
        (msg([1, 2, 3, 4], prior="2999-01-01T00:00:00+00:00"), 400, "in the future"),
        (msg([1, 2, 3, 4], start="2026-01-05T00:07:00+01:00"), 400, "grid"),
        ({"values": [1]}, 422, "start: Field required"),
        (msg("many"), 422, "values"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem_and_stores_nothing(server, body, status, needle):
    sensor = server.ids["power_sensor"]
    before = count(server, sensor)
    with server.client("bob") as c:
        r = c.post(URL.format(sensor), json=body)
    assert r.status_code == status, r.text
    assert needle in r.json()["message"]
    assert count(server, sensor) == before


def test_malformed_json_nan_and_oversized_payloads(server):
    sensor = server.ids["power_sensor"]
    before = count(server, sensor)
    with server.client("bob") as c:
        bad = c.post(
            URL.format(sensor),
            content=b'{"values": [1, 2',
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 422 and "malformed JSON" in bad.json()["message"]
        nan = c.post(
            URL.format(sensor),
            content=b'{"values": [NaN, 1, 2, 3], "start": "2026-01-05T00:00:00+01:00", "duration": "PT1H", "unit": "kW"}',
            headers={"Content-Type": "application/json"},
        )
        assert nan.status_code == 400 and "not a finite number" in nan.json()["message"]
        nul = c.post(URL.format(sensor), json=msg([1, 2, 3, 4], unit="k\u0000W"))
        assert nul.status_code == 400 and "NUL" in nul.json()["message"]
        big = c.post(URL.format(sensor), json=msg([1.0] * 2_000_000, duration="P20834DT8H"))
        assert big.status_code == 413 and big.json()["status"] == "PAYLOAD_TOO_LARGE"
    assert count(server, sensor) == before


def test_conflicting_value_is_refused_and_original_kept(server):
    sensor = server.ids["power_sensor"]
    start = "2026-02-01T00:00:00+00:00"
    with server.client("bob") as c:
        assert c.post(URL.format(sensor), json=msg([1, 2, 3, 4], start=start)).status_code == 200
        r = c.post(URL.format(sensor), json=msg([1, 2, 3, 9], start=start))
        assert r.status_code == 403 and r.json()["status"] == "INVALID_REPLACEMENT"
        got = c.get(URL.format(sensor), params={"start": start, "duration": "PT1H"}).json()
        assert got["values"] == [1, 2, 3, 4]


def test_unknown_and_foreign_sensors(server):
    with server.client("bob") as c:
        unknown = c.post(URL.format(999_999), json=msg([1, 2, 3, 4]))
        assert unknown.status_code == 404 and "999999" in unknown.json()["message"]
        foreign = c.post(URL.format(server.ids["other_sensor"]), json=msg([1, 2, 3, 4]))
        assert foreign.status_code == 403 and "another account" in foreign.json()["message"]
        read = c.get(
            URL.format(server.ids["other_sensor"]),
            params={"start": "2026-01-05T00:00:00+01:00", "duration": "PT1H"},
        )
        assert read.status_code == 403
    assert count(server, server.ids["other_sensor"]) == 0


def test_get_data_bad_queries(server):
    pv = server.ids["pv_sensor"]
    with server.client("bob") as c:
        base = {"start": "2026-01-05T00:00:00+01:00", "duration": "PT1H"}
        assert c.get(URL.format(pv), params={**base, "resolution": "PT10M"}).status_code == 400
        assert c.get(URL.format(pv), params={**base, "unit": "EUR"}).status_code == 400
        assert c.get(URL.format(pv), params={**base, "start": "2026-01-05"}).status_code == 400
        assert c.get(URL.format(pv), params={"duration": "PT1H"}).status_code == 422


def test_delete_data_needs_account_admin(server):
    sensor = server.ids["power_sensor"]
    with server.client("bob") as c:
        c.post(URL.format(sensor), json=msg([7, 7, 7, 7], start="2026-03-01T00:00:00+00:00"))
        assert c.request("DELETE", URL.format(sensor), json={}).status_code == 403
    before = count(server, sensor)
    with server.client("alice") as c:
        r = c.request(
            "DELETE",
            URL.format(sensor),
            json={"start": "2026-03-01T00:00:00+00:00", "until": "2026-03-01T01:00:00+00:00"},
        )
        assert r.status_code == 204 and r.headers["content-type"] == "application/json"
    assert count(server, sensor) == before - 4


def test_round_trip_on_postgres(serve, pg_url):
    srv = serve(pg_url)
    pv = srv.ids["pv_sensor"]
    with srv.client("bob") as c:
        r = c.post(URL.format(pv), json=msg([1000, 2000, 3000, 4000], unit="W"))
        assert r.status_code == 200, r.text
        assert c.post(URL.format(pv), json=msg([1, 2, 3], unit="W")).status_code == 400
        got = c.get(
            URL.format(pv), params={"start": "2026-01-05T00:00:00+01:00", "duration": "PT1H"}
        )
        assert got.json()["values"] == [1, 2, 3, 4]
        foreign = c.post(URL.format(srv.ids["other_sensor"]), json=msg([1, 2, 3, 4]))
        assert foreign.status_code == 403
    assert srv.with_store(lambda s: s.count_beliefs(pv)) == 4


def test_concurrent_posts_are_saved_together_and_a_bad_one_alone(server):
    """Group commit: 8 concurrent posts; the one with a conflicting value is refused alone."""
    from concurrent.futures import ThreadPoolExecutor

    sensor = server.ids["power_sensor"]
    with server.client("bob") as c:
        assert (
            c.post(
                URL.format(sensor), json=msg([5, 5, 5, 5], start="2026-07-01T00:00:00+00:00")
            ).status_code
            == 200
        )
    bodies = [msg([float(i)] * 4, start=f"2026-07-02T{i:02d}:00:00+00:00") for i in range(8)]
    bodies[3] = msg([6, 5, 5, 5], start="2026-07-01T00:00:00+00:00")  # conflicts with the first
    before = count(server, sensor)

    def post(body):
        with server.client("bob") as c:
            return c.post(URL.format(sensor), json=body)

    for _ in range(3):  # the grouping depends on timing; every round must give the same answers
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, bodies))
        codes = [a.status_code for a in answers]
        assert codes == [200, 200, 200, 403, 200, 200, 200, 200], [a.text for a in answers]
    assert count(server, sensor) == before + 7 * 4
    with server.client("bob") as c:
        kept = c.get(
            URL.format(sensor), params={"start": "2026-07-01T00:00:00+00:00", "duration": "PT1H"}
        )
        assert kept.json()["values"] == [5, 5, 5, 5]


def test_dst_day_needs_its_92_quarter_hours(server):
    """An offset is not a timezone: P1D from +01:00 is 24 hours (as in FlexMeasures); the
    23-hour day of the clock change is PT23H, 92 quarter hours."""
    sensor = server.ids["power_sensor"]
    day = "2026-03-29T00:00:00+01:00"
    with server.client("bob") as c:
        wrong = c.post(URL.format(sensor), json=msg([1.0] * 92, start=day, duration="P1D"))
        assert (
            wrong.status_code == 400
            and "92 values do not divide duration P1D" in wrong.json()["message"]
        )
        ok = c.post(URL.format(sensor), json=msg([1.0] * 92, start=day, duration="PT23H"))
        assert ok.status_code == 200 and ok.json()["n_new"] == 92
        back = c.get(URL.format(sensor), params={"start": day, "duration": "PT23H"}).json()
        assert len(back["values"]) == 92 and set(back["values"]) == {1.0}
