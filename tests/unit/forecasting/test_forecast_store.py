"""Forecasting through a real DuckDB belief store: read history, save forecasts, score them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from flex_pipelines.beliefs import KnowledgeHorizon, open_store
from flex_pipelines.forecasting import CycleConfig, ForecastingError, SeriesHistory
from flex_pipelines.forecasting.store_io import (
    forecast_sensor,
    history_from_store,
    score_forecasts,
    stored_accuracy,
)

CET = timezone(timedelta(hours=1))


def _store_with_prices(path: Path, prices: SeriesHistory):  # noqa: ANN202
    store = open_store(str(path))
    sensor = store.add_sensor(
        "be-price",
        "EUR/MWh",
        timedelta(hours=1),
        timezone="Etc/GMT-1",
        knowledge_horizon=KnowledgeHorizon(kind="day_ahead", hour=13),
    )
    src = store.get_or_create_source("EPEX", "market")
    frame = prices.frame.with_columns(
        pl.lit(sensor.id).alias("sensor_id"),
        pl.lit(src.id).alias("source_id"),
        pl.lit(0.5).alias("cumulative_probability"),
    )
    store.save_beliefs(frame)
    return store, sensor


def test_forecast_save_and_score_through_the_store(
    tmp_path: Path, be_prices: SeriesHistory
) -> None:
    store, sensor = _store_with_prices(tmp_path / "fc.duckdb", be_prices)
    with store:
        hist = history_from_store(store, sensor.id)
        assert hist.frame.height == be_prices.frame.height
        assert hist.timezone == "Etc/GMT-1" and hist.unit == "EUR/MWh"
        cfg = CycleConfig(
            min_horizon=timedelta(hours=12),
            max_horizon=timedelta(hours=36),
            train_period=timedelta(days=28),
            quantiles=(0.1, 0.5, 0.9),
        )
        vp = datetime(2015, 11, 10, 12, tzinfo=CET)
        run = forecast_sensor(store, sensor.id, vp, vp + timedelta(days=3), cfg, model="ridge")
        assert run.n_viewpoints == 3 and run.n_beliefs == 3 * 24 * 3 and run.n_new == run.n_beliefs
        src = store.get_source(run.source_id)
        # a versioned run: model, inputs and the hash of its settings name the source
        assert (src.type, src.model) == ("forecaster", "ridge")
        assert re.fullmatch(r"flexpipe ridge \[[0-9a-f]{8}\]", src.name), src.name
        assert src.version == f"1+{run.settings.hash}"
        stored = store.search_beliefs(sensor.id, source_types=["forecaster"])
        assert stored.height == run.n_beliefs
        # forecasts are not training data: the history still only has the market's beliefs
        assert history_from_store(store, sensor.id).frame.height == be_prices.frame.height
        # running again changes nothing (idempotent)
        again = forecast_sensor(store, sensor.id, vp, vp + timedelta(days=3), cfg, model="ridge")
        assert again.n_new == 0
        table = score_forecasts(store, sensor.id, bucket_hours=12)
        assert table["horizon"].to_list() == ["12h", "24h", "all"]
        overall = table.filter(pl.col("horizon") == "all").to_dicts()[0]
        assert overall["n"] == 72 and overall["mae"] > 0 and 0 <= overall["coverage"] <= 1
        kept = stored_accuracy(store, sensor.id)
        assert kept.height == 3 and kept["mae"].to_list() == table["mae"].to_list()


def test_scoring_without_forecasts_is_a_clear_error(
    tmp_path: Path, be_prices: SeriesHistory
) -> None:
    store, sensor = _store_with_prices(tmp_path / "empty.duckdb", be_prices)
    with (
        store,
        pytest.raises(ForecastingError, match=f"sensor {sensor.id} has no stored forecasts"),
    ):
        score_forecasts(store, sensor.id)


def test_regressor_sensor_from_the_store(tmp_path: Path) -> None:
    from flex_pipelines.forecasting.clearsky import clear_sky_history
    from flex_pipelines.forecasting.datasets import PV_TIMEZONE, pv_serf

    power, _, _ = pv_serf()
    clear = clear_sky_history(power.frame["event_start"], timedelta(minutes=15), 39.742, -105.18)
    with open_store(str(tmp_path / "pv.duckdb")) as store:
        pv = store.add_sensor("pv", "W", timedelta(minutes=15), timezone=PV_TIMEZONE)
        cs = store.add_sensor("clear-sky", "W/m²", timedelta(minutes=15), timezone=PV_TIMEZONE)
        meter = store.get_or_create_source("inverter", "user")
        model = store.get_or_create_source("haurwitz", "forecaster", model="haurwitz")
        for sensor, hist, src in ((pv, power, meter), (cs, clear, model)):
            store.save_beliefs(
                hist.frame.with_columns(
                    pl.lit(sensor.id).alias("sensor_id"),
                    pl.lit(src.id).alias("source_id"),
                    pl.lit(0.5).alias("cumulative_probability"),
                )
            )
        vp = datetime(2016, 8, 20, 12, tzinfo=timezone(timedelta(hours=-7)))
        cfg = CycleConfig(
            min_horizon=timedelta(hours=12),
            max_horizon=timedelta(hours=36),
            train_period=timedelta(days=14),
        )
        run = forecast_sensor(
            store, pv.id, vp, vp + timedelta(hours=1), cfg, model="ridge", regressor_ids=[cs.id]
        )
        assert run.n_beliefs == 96
        night = run.forecasts.filter(pl.col("event_start") == datetime(2016, 8, 22, 5, tzinfo=UTC))[
            "event_value"
        ].item()
        noon = run.forecasts.filter(pl.col("event_start") == datetime(2016, 8, 21, 19, tzinfo=UTC))[
            "event_value"
        ].item()
        assert abs(night) < 300 < noon  # W: dark at 22:00 MST, bright at noon MST
