"""Posting sensor data twice stores it once; a later correction by a colleague is what GET reads.

The correction test runs on a fresh server: which user's source is created first decides the
source ids, and the correcting user's source must have the lower id (the old tie-break, by
source id, then picked the stale value).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from flex_pipelines.api.writer import BeliefWriter, _Item

URL = "/api/v3_0/sensors/{}/data"
ALREADY = "ALREADY_RECEIVED_AND_SUCCESSFULLY_PROCESSED"


def msg(values, start, duration="PT1H", unit="kW", **kw):
    return {"values": values, "start": start, "duration": duration, "unit": unit, **kw}


def hour_from_now(hours: int) -> str:
    """The whole UTC hour ``hours`` from now, as ISO 8601."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (now + timedelta(hours=hours)).isoformat()


def count(server, sensor_id):
    return server.with_store(lambda s: s.count_beliefs(sensor_id))


@pytest.mark.parametrize(
    "start",
    [
        pytest.param("2026-04-01T00:00:00+00:00", id="past"),
        pytest.param(hour_from_now(50), id="future"),
    ],
)
def test_second_identical_post_stores_nothing(server, start):
    sensor = server.ids["power_sensor"]
    before = count(server, sensor)
    watermark = server.with_store(lambda s: s.ingestion_watermark())
    with server.client("bob") as c:
        first = c.post(URL.format(sensor), json=msg([1, 2, 3, 4], start))
        assert first.status_code == 200, first.text
        assert (first.json()["status"], first.json()["n_new"]) == ("PROCESSED", 4)
        w1 = server.with_store(lambda s: s.ingestion_watermark())
        assert w1 > watermark
        again = c.post(URL.format(sensor), json=msg([1, 2, 3, 4], start))
        assert again.status_code == 200, again.text
        body = again.json()
        assert (body["status"], body["n_new"], body["n_existing"]) == (ALREADY, 0, 4)
        # a changed value is stored (and only that one)
        changed = c.post(URL.format(sensor), json=msg([1, 2, 3, 5], start)).json()
        if start.startswith("2026-04"):  # past: the same belief time as before, so a conflict
            assert changed["status"] == "INVALID_REPLACEMENT"
        else:  # future: believed at receipt, a new belief
            counts = (changed["status"], changed["n_new"], changed["n_existing"])
            assert counts == ("PROCESSED", 1, 3)
            got = c.get(URL.format(sensor), params={"start": start, "duration": "PT1H"}).json()
            assert got["values"] == [1, 2, 3, 5]
    n_changed = 0 if start.startswith("2026-04") else 1
    assert count(server, sensor) == before + 4 + n_changed
    ingested = server.with_store(lambda s: s.ingestions_since(watermark))
    assert [i.n_new for i in ingested] == [4] + [1] * n_changed


def test_a_gateway_resending_day_ahead_prices_adds_no_rows(server):
    """Prices for the day after tomorrow are believed when received (before their knowledge
    time, noon the day before): each resend has a new belief time, and is still not stored."""
    price = server.ids["price_sensor"]  # hourly, day-ahead knowledge horizon; admins write
    day = datetime.now(UTC).date() + timedelta(days=2)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()
    prices = [40.0 + h for h in range(24)]
    with server.client("admin") as c:
        first = c.post(URL.format(price), json=msg(prices, start, "P1D", "EUR/MWh")).json()
        assert first["n_new"] == 24, first
        for _ in range(2):
            again = c.post(URL.format(price), json=msg(prices, start, "P1D", "EUR/MWh")).json()
            assert (again["status"], again["n_new"], again["n_existing"]) == (ALREADY, 0, 24)
    assert count(server, price) == 24


def test_a_later_correction_by_another_user_of_the_account_is_what_get_returns(serve):
    server = serve()
    sensor = server.ids["power_sensor"]
    hour = "2026-05-01T10:00:00+00:00"  # past: both posts are believed at the knowledge time
    window = {"start": hour, "duration": "PT1H"}
    with server.client("alice") as c:  # alice's source is created first (the lower id)
        other_day = msg([9] * 4, "2026-05-02T10:00:00+00:00")
        assert c.post(URL.format(sensor), json=other_day).status_code == 200
    with server.client("bob") as c:
        assert c.post(URL.format(sensor), json=msg([1, 2, 3, 4], hour)).json()["n_new"] == 4
    sources = server.with_store(lambda s: {x.name: x.id for x in s.list_sources(["user"])})
    assert sources["alice@toy.example"] < sources["bob@toy.example"]
    with server.client("alice") as c:
        fix = c.post(URL.format(sensor), json=msg([1, 2, 30, 4], hour))
        assert fix.status_code == 200 and fix.json()["status"] == "PROCESSED", fix.text
        assert c.get(URL.format(sensor), params=window).json()["values"] == [1, 2, 30, 4]
    with server.client("bob") as c:
        assert c.get(URL.format(sensor), params=window).json()["values"] == [1, 2, 30, 4]
        # each user's own values stay readable by source
        own = c.get(URL.format(sensor), params={**window, "source": sources["bob@toy.example"]})
        assert own.json()["values"] == [1, 2, 3, 4]


def test_requests_saved_together_get_their_own_counts(server):
    """Group commit: requests about different sensors saved in one call still answer with their
    own counts (a resend among other traffic answers ALREADY_RECEIVED)."""
    pv, power = server.ids["pv_sensor"], server.ids["power_sensor"]
    start = datetime(2026, 6, 1, tzinfo=UTC)

    def beliefs(sensor_id, values, source_id):
        n = len(values)
        return pl.DataFrame(
            {
                "sensor_id": [sensor_id] * n,
                "event_start": [start + i * timedelta(minutes=15) for i in range(n)],
                "belief_time": [start + timedelta(hours=1)] * n,
                "source_id": [source_id] * n,
                "cumulative_probability": [0.5] * n,
                "event_value": [float(v) for v in values],
            }
        )

    src = server.with_store(lambda s: s.get_or_create_source("gateway", "gateway").id)
    writer = BeliefWriter(server.state)
    server.state.writer.save(beliefs(pv, [1, 2, 3, 4], src))  # stored before
    items = [_Item(beliefs(pv, [1, 2, 3, 4], src)), _Item(beliefs(power, [5, 6], src))]
    writer._write(items)
    assert writer.n_grouped == 2
    pv_result, power_result = (i.result for i in items)
    assert not items[0].grouped and not items[1].grouped
    assert (pv_result.n_new, pv_result.n_existing, pv_result.ingestion_id) == (0, 4, None)
    assert (power_result.n_new, power_result.n_existing) == (2, 0)
    # two requests about the same sensor: the group's counts, flagged as such
    same = [_Item(beliefs(power, [5, 6], src)), _Item(beliefs(power, [5, 6, 7], src))]
    writer._write(same)
    assert all(i.grouped for i in same) and same[0].result.n_new == 1


def test_uploading_the_same_file_again_stores_nothing(server):
    """CSV upload believes at receipt: the second upload repeats every belief, none is stored."""
    pv = server.ids["pv_sensor"]
    csv = b"event_start,value\n2026-08-01T10:00:00+00:00,1.5\n2026-08-01T10:15:00+00:00,2.5\n"
    files = {"uploaded-files": ("pv.csv", csv, "text/csv")}
    before = count(server, pv)
    with server.client("bob") as c:
        first = c.post(URL.format(pv) + "/upload", files=files)
        assert first.status_code == 200, first.text
        assert (first.json()["status"], first.json()["n_new"]) == ("PROCESSED", 2)
        again = c.post(URL.format(pv) + "/upload", files=files).json()
        assert (again["status"], again["n_new"], again["n_existing"]) == (ALREADY, 0, 2)
    assert count(server, pv) == before + 2
