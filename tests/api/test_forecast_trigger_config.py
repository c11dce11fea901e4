"""The forecast trigger's ``config``: ``clear-sky`` (the built-in clear-sky regressor of the site's
location) and ``label`` (the run's source name) reach the run; runs with other settings keep
their own sources; bad values are refused at trigger time naming the field."""

from __future__ import annotations

import math

from tests.api.test_jobs import wait_job

START = "2026-06-01T00:00:00+00:00"


def _daylight_sensor(server) -> int:
    """An hourly PV-like sensor on the toy building (which has a location), 30 days of data."""
    with server.client("alice") as c:
        made = c.post(
            "/api/v3_0/sensors",
            json={
                "name": "pv-config",
                "unit": "kW",
                "event_resolution": "PT1H",
                "generic_asset_id": server.ids["building"],
            },
        )
        assert made.status_code in (200, 201), made.text
        sid = made.json()["id"]
        values = [max(0.0, 10 * math.sin(math.pi * (h % 24 - 5) / 15)) for h in range(24 * 30)]
        r = c.post(
            f"/api/v3_0/sensors/{sid}/data",
            json={"values": values, "start": START, "duration": "P30D", "unit": "kW"},
        )
        assert r.status_code == 200, r.text
    return sid


def _trigger(c, sid: int, config: dict) -> dict:
    r = c.post(
        f"/api/v3_0/sensors/{sid}/forecasts/trigger",
        json={
            "start": "2026-07-01T00:00:00+00:00",
            "duration": "P1D",
            "max-forecast-horizon": "PT24H",
            "forecast-frequency": "P1D",
            "config": {"train-period": "P7D", **config},
        },
    )
    assert r.status_code == 202, r.text
    job = wait_job(c, r.json()["forecast"])
    assert job["status"] == "FINISHED", job
    return job["result"]


def test_clear_sky_and_label_reach_the_run_and_runs_coexist(server) -> None:
    sid = _daylight_sensor(server)
    with server.client("bob") as c:
        labelled = _trigger(c, sid, {"model": "ridge", "clear-sky": True, "label": "pv clear"})
        plain = _trigger(c, sid, {"model": "ridge"})
    (src_labelled,), (src_plain,) = labelled["source_ids"], plain["source_ids"]
    assert src_labelled != src_plain
    assert labelled["n_new"] == plain["n_new"] == 24
    names = server.with_store(
        lambda s: {i: s.get_source(i).name for i in (src_labelled, src_plain)}
    )
    assert names[src_labelled].startswith("pv clear [")
    assert "clear-sky" not in names[src_plain] and names[src_plain].startswith("flexpipe ridge")
    # both runs' forecasts stay in the store: one belief per hour under each source
    counts = server.with_store(
        lambda s: (
            s.search_beliefs(sid, source_ids=[src_labelled, src_plain])
            .group_by("source_id")
            .len()
            .sort("source_id")["len"]
            .to_list()
        )
    )
    assert counts == [24, 24]


def test_bad_clear_sky_or_label_is_refused_at_trigger_time(server) -> None:
    sid = _daylight_sensor(server)
    body = {"start": "2026-07-01T00:00:00+00:00", "duration": "P1D"}
    with server.client("bob") as c:
        for config, field in (({"clear-sky": "yes"}, "clear-sky"), ({"label": ""}, "label")):
            r = c.post(
                f"/api/v3_0/sensors/{sid}/forecasts/trigger", json={**body, "config": config}
            )
            assert r.status_code in (400, 422), r.text
            assert field in r.text
    # carol's site has no latitude/longitude: the clear-sky regressor cannot be computed
    with server.client("carol") as c:
        r = c.post(
            f"/api/v3_0/sensors/{server.ids['other_sensor']}/forecasts/trigger",
            json={**body, "config": {"clear-sky": True}},
        )
    assert r.status_code == 400, r.text
    assert "clear-sky" in r.text and "latitude and longitude" in r.text
