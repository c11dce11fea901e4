"""The forecast trigger's ``config["model-params"]`` and ``config["clear-sky-plane"]``: they reach
the run and its versioned source (runs with other parameters coexist), the sensor's stored
``forecast`` config gives them when the request does not, and bad ones are refused at trigger
time (400, nothing stored) with the message of the one parser the CLI and the pipeline use."""

from __future__ import annotations

import json

import pytest

from flex_pipelines.forecasting.options import (
    ForecastOptionError,
    parse_clear_sky_plane,
    parse_model_params,
)
from tests.api.test_forecast_trigger_config import _daylight_sensor, _trigger

BODY = {"start": "2026-07-01T00:00:00+00:00", "duration": "P1D"}


def _settings(server, source_id: int) -> dict:
    """The run settings ``forecast_runs`` recorded for a forecaster source."""
    rows = server.with_store(
        lambda s: s.query("SELECT settings FROM forecast_runs WHERE source_id = ?", [source_id])
    )
    return json.loads(rows["settings"][0])


def _names(server, ids: list[int]) -> dict[int, str]:
    return server.with_store(lambda s: {i: s.get_source(i).name for i in ids})


def _parser_message(fn, *args) -> str:  # noqa: ANN001
    with pytest.raises(ForecastOptionError) as err:
        fn(*args)
    return str(err.value)


def test_model_params_reach_the_run_and_each_set_is_its_own_source(server) -> None:
    sid = _daylight_sensor(server)
    with server.client("bob") as c:
        strong = _trigger(c, sid, {"model": "ridge", "model-params": {"alpha": 100.0}})
        weak = _trigger(c, sid, {"model": "ridge", "model-params": {"alpha": 0.01}})
        again = _trigger(c, sid, {"model": "ridge", "model-params": {"alpha": 100.0}})
        plain = _trigger(c, sid, {"model": "ridge"})
    (s_strong,), (s_weak,), (s_plain,) = (r["source_ids"] for r in (strong, weak, plain))
    assert len({s_strong, s_weak, s_plain}) == 3
    assert again["source_ids"] == [s_strong]  # the same settings reuse their source
    assert _settings(server, s_strong)["config"]["model_params"] == {"alpha": 100.0}
    assert _settings(server, s_weak)["config"]["model_params"] == {"alpha": 0.01}
    assert _settings(server, s_plain)["config"]["model_params"] == {}
    names = _names(server, [s_strong, s_weak])
    assert names[s_strong] != names[s_weak]  # the settings hash differs
    # every run's forecasts stay: one belief per hour under each source, and they differ
    frames = server.with_store(
        lambda s: {
            i: s.search_beliefs(sid, source_ids=[i]).sort("event_start")["event_value"].to_list()
            for i in (s_strong, s_weak, s_plain)
        }
    )
    assert all(len(v) == 24 for v in frames.values())
    assert frames[s_strong] != frames[s_weak]


def test_clear_sky_plane_reaches_the_run(server) -> None:
    sid = _daylight_sensor(server)
    with server.client("bob") as c:
        listed = _trigger(c, sid, {"model": "ridge", "clear-sky-plane": [30, 180]})
        text = _trigger(c, sid, {"model": "ridge", "clear-sky-plane": "30,180"})
        ghi = _trigger(c, sid, {"model": "ridge", "clear-sky": True})
    (src,) = listed["source_ids"]
    assert text["source_ids"] == [src]  # [30, 180] and "30,180" are one setting
    assert ghi["source_ids"] != [src]
    settings = _settings(server, src)
    assert settings["clear_sky_plane"] == "30,180" and settings["clear_sky"] is True
    assert _names(server, [src])[src].startswith("flexpipe ridge + clear-sky on 30,180 [")


def test_the_sensors_forecast_config_gives_model_params(server) -> None:
    """Without ``model-params`` in the request, the stored config's apply to its model."""
    sid = _daylight_sensor(server)
    stored = {"forecast": {"model": "ridge", "model-params": {"alpha": 7.0}}}
    server.with_store(lambda s: s.update_sensor(sid, attributes=stored))
    with server.client("bob") as c:
        (src,) = _trigger(c, sid, {})["source_ids"]
        (other,) = _trigger(c, sid, {"model": "ridge", "model-params": {"alpha": 1.0}})[
            "source_ids"
        ]
    assert _settings(server, src)["config"]["model_params"] == {"alpha": 7.0}
    assert _settings(server, other)["config"]["model_params"] == {"alpha": 1.0}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"model": "ridge", "model-params": {"alpha": 1.0, "days": 3}},
            _parser_message(parse_model_params, "ridge", {"alpha": 1.0, "days": 3}),
        ),
        (
            {"model": "recent-quantile", "model-params": {"days": "three"}},
            _parser_message(parse_model_params, "recent-quantile", {"days": "three"}),
        ),
        (
            {"model": "ridge", "model-params": {"alpha": {"value": 1}}},
            _parser_message(parse_model_params, "ridge", {"alpha": {"value": 1}}),
        ),
        (
            {"model": "ridge", "model-params": [1, 2]},
            _parser_message(parse_model_params, "ridge", [1, 2]),
        ),
        ({"clear-sky-plane": "south"}, _parser_message(parse_clear_sky_plane, "south")),
        ({"clear-sky-plane": [95, 180]}, _parser_message(parse_clear_sky_plane, [95, 180])),
        ({"clear-sky-plane": [30]}, _parser_message(parse_clear_sky_plane, [30])),
    ],
)
def test_bad_params_or_plane_are_refused_at_trigger_time_with_the_parsers_message(
    server, config: dict, expected: str
) -> None:
    sid = _daylight_sensor(server)
    with server.client("bob") as c:
        r = c.post(f"/api/v3_0/sensors/{sid}/forecasts/trigger", json={**BODY, "config": config})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == expected
    stored = server.with_store(lambda s: s.search_beliefs(sid, source_types=["forecaster"]).height)
    assert stored == 0


def test_unknown_param_message_names_it_and_lists_the_models_params(server) -> None:
    sid = _daylight_sensor(server)
    with server.client("bob") as c:
        r = c.post(
            f"/api/v3_0/sensors/{sid}/forecasts/trigger",
            json={**BODY, "config": {"model": "ridge", "model-params": {"shift": 0.2}}},
        )
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    head = "model-params: model 'ridge' has no parameter 'shift'; its parameters: "
    assert message.startswith(head), message
    assert "alpha" in message[len(head) :].split(", ")


def test_a_bad_forecast_config_is_refused_when_it_is_stored(server) -> None:
    """Creating or changing a sensor with a forecast config the trigger would refuse is refused
    at once, with the parser's message, and nothing changes; a good one is stored."""
    sid = _daylight_sensor(server)
    bad_param = {"forecast": {"model": "ridge", "model-params": {"shift": 0.1}}}
    bad_plane = {"forecast": {"clear-sky-plane": [95, 180]}}
    with server.client("alice") as c:

        def new_sensor(attrs: dict):  # noqa: ANN202
            body = {"name": "refused", "unit": "kW", "event_resolution": "PT1H"}
            body |= {"generic_asset_id": server.ids["building"], "attributes": attrs}
            return c.post("/api/v3_0/sensors", json=body)

        before = c.get(f"/api/v3_0/sensors/{sid}").json()["attributes"]
        for attrs, fn, args in (
            (bad_param, parse_model_params, ("ridge", {"shift": 0.1})),
            (bad_plane, parse_clear_sky_plane, ([95, 180],)),
        ):
            r = c.patch(f"/api/v3_0/sensors/{sid}", json={"attributes": attrs})
            assert r.status_code == 400, r.text
            assert _parser_message(fn, *args) in r.text
            made = new_sensor(attrs)
            assert made.status_code == 400, made.text
            assert _parser_message(fn, *args) in made.text
        assert c.get(f"/api/v3_0/sensors/{sid}").json()["attributes"] == before
        names = [s["name"] for s in c.get("/api/v3_0/sensors").json()]
        assert "refused" not in names
        unknown = {"forecast": {"model": "ridge", "regressors": [987654]}}
        r = new_sensor(unknown)
        assert r.status_code in (400, 404) and "987654" in r.text, r.text
        good = {"forecast": {"model": "ridge", "model-params": {"alpha": 2.0}}}
        r = c.patch(f"/api/v3_0/sensors/{sid}", json={"attributes": good})
        assert r.status_code == 200, r.text
        stored = json.loads(r.json()["attributes"])  # a JSON text, as in FlexMeasures
        assert stored["forecast"]["model-params"] == {"alpha": 2.0}


def test_a_mean_of_models_is_one_run_through_the_api(server) -> None:
    sid = _daylight_sensor(server)
    with server.client("bob") as c:
        run = _trigger(
            c, sid, {"model": "mean", "model-params": {"models": ["ridge", "naive-day"]}}
        )
        r = c.post(
            f"/api/v3_0/sensors/{sid}/forecasts/trigger",
            json={**BODY, "config": {"model": "mean", "model-params": {"models": ["ridge"]}}},
        )
    (src,) = run["source_ids"]
    assert _names(server, [src])[src].startswith("flexpipe mean(ridge, naive-day) [")
    assert _settings(server, src)["config"]["model_params"] == {"models": ["ridge", "naive-day"]}
    assert r.status_code == 400 and "two or more model names" in r.text, r.text
