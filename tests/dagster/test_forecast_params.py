"""The ``forecasts`` asset reads ``model-params`` and ``clear-sky-plane`` from a sensor's
``forecast`` config: real materializations on a DuckDB store with real prices; each parameter
set is its own versioned source, and a config the options' parser refuses skips the sensor with
the parser's message (the API's and the CLI's), storing nothing."""

from __future__ import annotations

import json
from datetime import date

import pytest
from dagster import AssetKey, materialize

from assets_defs.forecasts import forecasts
from flex_pipelines.beliefs import open_store
from flex_pipelines.forecasting.options import (
    ForecastOptionError,
    parse_clear_sky_plane,
    parse_model_params,
)
from resources import BeliefStoreResource
from tests.dagster.conftest import build_site

FIRST = date(2015, 2, 20)
DAY = "2015-03-12"


@pytest.fixture
def price(db_url: str) -> dict:
    made = build_site(db_url, first=FIRST, days=22)
    return made["price sensor"]


def _configure(db_url: str, sensor_id: int, forecast: dict) -> None:
    with open_store(db_url) as s:
        s.update_sensor(sensor_id, attributes={"forecast": {"train-period": "P7D", **forecast}})


def _run(db_url: str, instance) -> dict:  # noqa: ANN001
    result = materialize(
        [forecasts],
        partition_key=DAY,
        resources={"store": BeliefStoreResource(url=db_url)},
        instance=instance,
    )
    assert result.success
    record = instance.fetch_materializations(AssetKey("forecasts"), limit=1).records[0]
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def _runs(db_url: str, sensor_id: int) -> dict[int, dict]:
    """Forecaster source id → (settings recorded in ``forecast_runs``, beliefs stored)."""
    with open_store(db_url) as s:
        rows = s.query(
            "SELECT source_id, settings FROM forecast_runs WHERE sensor_id = ?", [sensor_id]
        )
        counts = (
            s.search_beliefs(sensor_id, source_types=["forecaster"]).group_by("source_id").len()
        )
    n = dict(zip(counts["source_id"].to_list(), counts["len"].to_list(), strict=True))
    return {
        int(sid): {"settings": json.loads(text), "n": n.get(sid, 0)}
        for sid, text in zip(rows["source_id"], rows["settings"], strict=True)
    }


def _message(fn, *args) -> str:  # noqa: ANN001
    with pytest.raises(ForecastOptionError) as err:
        fn(*args)
    return str(err.value)


def test_model_params_from_the_config_version_the_run(db_url: str, price: dict, instance) -> None:
    sid = price["id"]
    _configure(db_url, sid, {"model": "ridge", "model-params": {"alpha": 100.0}})
    meta = _run(db_url, instance)
    assert meta["row_count"] == 24 and meta["n_skipped"] == 0, meta["skipped"]
    _configure(db_url, sid, {"model": "ridge", "model-params": {"alpha": 0.01}})
    assert _run(db_url, instance)["row_count"] == 24
    runs = _runs(db_url, sid)
    params = sorted(r["settings"]["config"]["model_params"]["alpha"] for r in runs.values())
    assert params == [0.01, 100.0]  # two sources, both kept
    assert [r["n"] for r in runs.values()] == [24, 24]


def test_clear_sky_plane_from_the_config_reaches_the_run(
    db_url: str, price: dict, instance
) -> None:
    with open_store(db_url) as s:  # the market gets a place: the clear sky needs one
        s.update_asset(s.get_sensor(price["id"]).asset_id, latitude=50.85, longitude=4.35)
    _configure(db_url, price["id"], {"model": "ridge", "clear-sky-plane": "30,180"})
    assert _run(db_url, instance)["row_count"] == 24
    [run] = _runs(db_url, price["id"]).values()
    assert run["settings"]["clear_sky_plane"] == "30,180" and run["settings"]["clear_sky"]


@pytest.mark.parametrize(
    ("forecast", "expected"),
    [
        (
            {"model": "ridge", "model-params": {"shift": 0.2}},
            _message(parse_model_params, "ridge", {"shift": 0.2}),
        ),
        (
            {"model": "recent-quantile", "model-params": {"days": "three"}},
            _message(parse_model_params, "recent-quantile", {"days": "three"}),
        ),
        (
            {"model": "ridge", "clear-sky-plane": "95,180"},
            _message(parse_clear_sky_plane, "95,180"),
        ),
    ],
)
def test_a_refused_config_skips_the_sensor_with_the_parsers_message(
    db_url: str, price: dict, instance, forecast: dict, expected: str
) -> None:
    _configure(db_url, price["id"], forecast)
    meta = _run(db_url, instance)
    assert meta["row_count"] == 0
    assert meta["skipped"] == [f"sensor {price['id']} ({price['name']}), {DAY}: {expected}"]
    with open_store(db_url) as s:
        assert s.search_beliefs(price["id"], source_types=["forecaster"]).height == 0
