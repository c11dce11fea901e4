"""Conformal quantiles on real BE prices: near-nominal coverage, and only past residuals."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from flex_pipelines.forecasting import (
    CycleConfig,
    DesignMatrix,
    FeatureSpec,
    FitContext,
    PointModel,
    SeriesHistory,
    forecast_cycles,
)
from flex_pipelines.forecasting.calibration import conformal_quantiles
from flex_pipelines.forecasting.history import per_event
from flex_pipelines.forecasting.metrics import accuracy_table

CET = timezone(timedelta(hours=1))
START = datetime(2015, 10, 20, 12, tzinfo=CET)
CFG = CycleConfig(
    min_horizon=timedelta(hours=12),
    max_horizon=timedelta(hours=36),
    train_period=timedelta(days=28),
    quantiles=(0.1, 0.5, 0.9),
    calibration_window=timedelta(days=21),
)


class OverconfidentNaive(PointModel):
    """Yesterday's price with a zero-width band (no residual spread at all)."""

    name = "test-overconfident"
    features = FeatureSpec(daily_lags=(1,), weekly_lags=(), calendar=False, horizon=False)

    def fit_point(self, train: DesignMatrix, ctx: FitContext) -> None:
        return None

    def predict_point(self, test: DesignMatrix, ctx: FitContext) -> np.ndarray:
        return test.column("lag_day_1")

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        self._residuals = np.zeros(1)


def _overall(fc: pl.DataFrame, hist: SeriesHistory) -> dict[str, float]:
    table = accuracy_table(fc, per_event(hist), 100)
    return table.filter(pl.col("horizon") == "all").row(0, named=True)


@pytest.mark.parametrize("model", ["test-overconfident", "ridge"])
def test_conformal_band_covers_near_its_nominal_share(be_prices: SeriesHistory, model: str) -> None:
    end = START + timedelta(days=30)
    cal = forecast_cycles(model, be_prices, START, end, CFG)
    got = _overall(cal, be_prices)
    assert 0.74 <= got["coverage"] <= 0.86  # nominal 0.80, 720 hours
    if model == "test-overconfident":  # control: without calibration the band covers nothing
        raw = forecast_cycles(model, be_prices, START, end, replace(CFG, calibration="none"))
        assert _overall(raw, be_prices)["coverage"] < 0.1
    # the medians are the model's own
    med = cal.filter(pl.col("cumulative_probability") == 0.5)
    point = forecast_cycles(model, be_prices, START, end, replace(CFG, quantiles=(0.5,)))
    assert np.allclose(med["event_value"].to_numpy(), point["event_value"].to_numpy())


def test_quantiles_use_only_actuals_known_at_the_viewpoint(be_prices: SeriesHistory) -> None:
    medians = replace(CFG, quantiles=(0.5,))
    first_vp = START - timedelta(days=21)
    point = forecast_cycles("naive-day", be_prices, first_vp, START + timedelta(days=3), medians)
    q = conformal_quantiles(point, be_prices, (0.1, 0.5, 0.9), start=START)
    first = q.filter(pl.col("belief_time") == START)
    # actuals believed after the first viewpoint are changed: its quantiles must not move
    later = be_prices.with_frame(
        be_prices.frame.with_columns(
            pl.when(pl.col("belief_time") > START)
            .then(pl.col("event_value") * 5)
            .otherwise(pl.col("event_value"))
            .alias("event_value")
        )
    )
    q2 = conformal_quantiles(point, later, (0.1, 0.5, 0.9), start=START)
    assert (
        first["event_value"].to_list()
        == q2.filter(pl.col("belief_time") == START)["event_value"].to_list()
    )
    # control: the next viewpoints do see the changed actuals of the first day
    assert not np.allclose(q["event_value"].to_numpy(), q2["event_value"].to_numpy())
    # the band is wider than a point (it was calibrated at all)
    wide = first.pivot(on="cumulative_probability", index="event_start", values="event_value")
    assert (wide["0.9"] > wide["0.1"]).all()


def test_warm_up_skips_viewpoints_whose_regressors_start_later(be_prices: SeriesHistory) -> None:
    from flex_pipelines.forecasting.datasets import epf_exogenous

    first = datetime(2015, 11, 1, tzinfo=CET)  # the load forecasts start 19 days before START
    load = epf_exogenous("be")[1]
    load = load.with_frame(load.frame.filter(pl.col("event_start") >= first))
    vp = datetime(2015, 11, 20, 12, tzinfo=CET)
    fc = forecast_cycles("ridge", be_prices, vp, vp + timedelta(hours=1), CFG, regressors=[load])
    wide = fc.pivot(on="cumulative_probability", index="event_start", values="event_value")
    assert wide.height == 24 and (wide["0.9"] > wide["0.1"]).all()
