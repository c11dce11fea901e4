"""The one parser of a forecast run's model parameters and clear-sky plane (every door's)."""

from __future__ import annotations

import pytest

from flex_pipelines.forecasting import MODEL_REGISTRY, UnknownModelError, list_models
from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.options import (
    ForecastOptionError,
    parse_clear_sky_plane,
    parse_model_params,
    plane_setting,
)


@pytest.mark.parametrize(
    ("value", "plane", "setting"),
    [
        (None, None, None),
        ("fit", "fit", "fit"),
        (" Fit ", "fit", "fit"),
        ("30,180", (30.0, 180.0), "30,180"),
        ("30, 180.5", (30.0, 180.5), "30,180.5"),
        ([0, 360], (0.0, 360.0), "0,360"),
        ((90.0, 0.0), (90.0, 0.0), "90,0"),
    ],
)
def test_plane_forms(value: object, plane: object, setting: str | None) -> None:
    assert parse_clear_sky_plane(value) == plane
    assert plane_setting(value) == setting


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("south", "clear-sky-plane 'south' is neither 'fit' nor TILT,AZIMUTH in degrees"),
        ("30", "clear-sky-plane '30' is neither 'fit' nor TILT,AZIMUTH"),
        ([30], "clear-sky-plane [30] is neither"),
        ([True, 180], "clear-sky-plane [True, 180] is neither"),
        (["30", "180"], "is neither"),
        (30, "clear-sky-plane 30 is neither"),
        ("95,180", "clear-sky-plane '95,180': tilt must be 0–90 and azimuth 0–360 degrees"),
        ([30, -1], "clear-sky-plane [30, -1]: tilt must be 0–90"),
        ("nan,180", "tilt must be 0–90"),
    ],
)
def test_bad_planes_name_the_field_and_value(value: object, why: str) -> None:
    with pytest.raises(ForecastOptionError) as err:
        parse_clear_sky_plane(value)
    assert why in str(err.value)


def test_model_params_are_checked_against_the_model() -> None:
    assert parse_model_params("ridge", None) == {}
    assert parse_model_params("ridge", {"alpha": 2, "center": None}) == {"alpha": 2, "center": None}
    assert parse_model_params("ridge-profiles", {"profile_weeks": [1, 2]}) == {
        "profile_weeks": [1, 2]
    }
    with pytest.raises(UnknownModelError, match="model 'prophet' is not registered"):
        parse_model_params("prophet", {"alpha": 1})


@pytest.mark.parametrize(
    ("model", "params", "why"),
    [
        ("ridge", [("alpha", 1)], "model-params [('alpha', 1)] is not a mapping"),
        ("ridge", {1: 2}, "model-params: 1 is not a parameter name"),
        ("ridge", {"alpha": {"a": 1}}, "model-params alpha={'a': 1}: a value is a number (up to"),
        ("recent-quantile", {"days": 10**9}, "model-params days=1000000000: a value is a number"),
        ("recent-quantile", {"days": 1e9}, "model-params days=1000000000.0: a value is a number"),
        ("ridge", {"center": "x" * 201}, "model-params center='xxxxxxxx"),
        ("ridge", {"alpha": list(range(1001))}, "a list of up to 1000 of those"),
        ("ridge", {"a" * 201: 1}, "model-params: 'aaaa"),
        ("ridge", {"alpha": [[1]]}, "model-params alpha=[[1]]: a value is"),
        ("ridge", {"alpha": float("inf")}, "model-params alpha=inf: a value is"),
        (
            "ridge",
            {"shift": 0.2, "days": 3},
            "model 'ridge' has no parameter 'days', 'shift'; its ",
        ),
        ("ridge-profiles", {"transform": "log"}, "model parameter transform='log': use 'asinh'"),
        (
            "recent-quantile",
            {"shift": 0.1, "days": "x"},
            "model-params: model 'recent-quantile' parameter days='x': expected an integer",
        ),
        (
            "ridge-profiles",
            {"profile_days": 2},
            "model-params: model 'ridge-profiles' parameter profile_days=2: expected a non-empty list",
        ),
    ],
)
def test_bad_model_params_name_the_field_and_value(model: str, params: object, why: str) -> None:
    with pytest.raises(ForecastOptionError) as err:
        parse_model_params(model, params)
    assert why in str(err.value)
    assert str(err.value).startswith("model-params")


def test_service_resolves_request_then_sensor_config(tmp_path) -> None:  # noqa: ANN001
    """The service's ``forecast_settings`` (API trigger and job, pipeline): the request's values,
    else the sensor's forecast config's; its params only with its own model."""
    from datetime import timedelta

    from flex_pipelines.beliefs import open_store
    from flex_pipelines.service.forecast_report import forecast_settings

    with open_store(str(tmp_path / "s.duckdb")) as store:
        cfg = {"model": "ridge", "model-params": {"alpha": 3.0}, "clear-sky-plane": "fit"}
        sid = store.add_sensor("pv", "kW", timedelta(hours=1), attributes={"forecast": cfg}).id
        stored = forecast_settings(store, sid)
        assert (stored.model, stored.model_params) == ("ridge", {"alpha": 3.0})
        assert stored.clear_sky_plane == "fit" and stored.clear_sky
        other = forecast_settings(store, sid, model="naive-week", clear_sky_plane=[10, 90])
        assert other.model_params == {} and other.clear_sky_plane == (10.0, 90.0)
        given = forecast_settings(store, sid, model_params={"alpha": 1.0})
        assert given.model_params == {"alpha": 1.0}
        with pytest.raises(ForecastOptionError, match="has no parameter 'shift'"):
            forecast_settings(store, sid, config={"model": "ridge", "model-params": {"shift": 1}})
        with pytest.raises(ForecastOptionError, match="clear-sky-plane 'up'"):
            forecast_settings(store, sid, clear_sky_plane="up")


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("hgb", {"max_iter": "many"}, "max_iter='many': expected an integer in \\[1, 10000\\]"),
        (
            "hgb",
            {"learning_rate": -0.1},
            "learning_rate=-0.1: expected a number in \\[1e-06, 10\\]",
        ),
        (
            "lear-ensemble",
            {"windows": [56, 0]},
            r"windows=\[56, 0\]: expected a non-empty list of integers",
        ),
        ("ridge", {"alpha": "strong"}, "alpha='strong': expected a number ≥ 0"),
        ("recent-quantile", {"days": 7.5}, "days=7.5: expected an integer in \\[1, 366\\]"),
        (
            "clear-sky-quantile",
            {"pool_slots": -1},
            "pool_slots=-1: expected an integer in \\[0, 48\\]",
        ),
        ("ets", {"window_days": True}, "window_days=True: expected an integer in \\[2, 366\\]"),
        ("ets", {"window_days": 1}, "window_days=1: expected an integer in \\[2, 366\\]"),
        ("recent-quantile", {"days": 1_000_000}, "days=1000000: expected an integer in"),
        ("lear-ensemble", {"windows": []}, r"windows=\[\]: expected a non-empty list"),
    ],
)
def test_numeric_parameters_are_checked_by_their_declared_kind(
    model: str, params: dict, message: str
) -> None:
    """A value of the wrong kind is refused before any work, at every door (the parser), and
    when a model is built directly; it used to pass and fail inside the fit (hgb)."""
    with pytest.raises(
        ForecastOptionError, match=f"model-params: model '{model}' parameter {message}"
    ):
        parse_model_params(model, params)
    with pytest.raises(ForecastingError, match=message):
        MODEL_REGISTRY[model](**params)


def test_every_parameter_kind_names_a_declared_parameter() -> None:
    list_models()  # loads the built-in models
    for name, cls in MODEL_REGISTRY.items():
        assert set(cls.parameter_kinds) <= cls.parameters, name
    assert parse_model_params("hgb", {"max_iter": 40, "learning_rate": 0.1}) == {
        "max_iter": 40,
        "learning_rate": 0.1,
    }
    assert parse_model_params("clear-sky-cliper", {"weight": None}) == {"weight": None}
