"""No look-ahead: values that became known after the viewpoint cannot change a forecast."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from flex_pipelines.forecasting import CycleConfig, SeriesHistory, forecast_cycles, known_at
from flex_pipelines.forecasting.datasets import pv_serf

CET = timezone(timedelta(hours=1))
MST = timezone(timedelta(hours=-7))
VIEWPOINT = datetime(2015, 11, 10, 12, tzinfo=CET)
CFG = CycleConfig(
    min_horizon=timedelta(hours=12),
    max_horizon=timedelta(hours=36),
    train_period=timedelta(days=28),
    quantiles=(0.1, 0.5, 0.9),
    calibration_window=timedelta(days=7),  # conformal quantiles: a short warm-up, still covered
)


def _perturb(hist: SeriesHistory, after: bool) -> SeriesHistory:
    """Multiply by 3 and add 100 to every value believed after (or at/before) the viewpoint."""
    cond = pl.col("belief_time") > VIEWPOINT
    if not after:
        cond = ~cond
    return hist.with_frame(
        hist.frame.with_columns(
            pl.when(cond)
            .then(pl.col("event_value") * 3 + 100)
            .otherwise(pl.col("event_value"))
            .alias("event_value")
        )
    )


@pytest.mark.parametrize("model", ["naive-day", "ridge", "lear", "hgb", "ets"])
def test_future_values_do_not_change_the_forecast(be_prices: SeriesHistory, model: str) -> None:
    from dataclasses import replace

    # hgb: fewer boosting rounds keep the test fast (a parameter of hgb only)
    cfg = replace(CFG, model_params={"max_iter": 40}) if model == "hgb" else CFG
    base = forecast_cycles(model, be_prices, VIEWPOINT, VIEWPOINT + timedelta(hours=1), cfg)
    leaked = forecast_cycles(
        model, _perturb(be_prices, after=True), VIEWPOINT, VIEWPOINT + timedelta(hours=1), cfg
    )
    assert base.height == 24 * 3
    assert np.array_equal(base["event_value"].to_numpy(), leaked["event_value"].to_numpy())
    # control: the same perturbation of the past does change it (the test can fail)
    past = forecast_cycles(
        model, _perturb(be_prices, after=False), VIEWPOINT, VIEWPOINT + timedelta(hours=1), cfg
    )
    assert not np.allclose(base["event_value"].to_numpy(), past["event_value"].to_numpy())


def test_target_day_prices_are_not_known_at_noon_the_day_before(be_prices: SeriesHistory) -> None:
    known = known_at(be_prices, VIEWPOINT)
    last = known.frame["event_start"].max()
    # prices of 11 Nov are published at 13:00 on 10 Nov: at 12:00 the last known hour is 10 Nov 23:00
    assert last == datetime(2015, 11, 10, 23, tzinfo=CET)
    assert known.frame["belief_time"].max() <= VIEWPOINT


def test_regressor_vintages_after_the_viewpoint_are_not_used() -> None:
    power, clear, ghi = pv_serf()
    vp = datetime(2016, 8, 20, 12, tzinfo=MST)
    # measured GHI re-dated as a forecast issued 1 day ahead; perturb vintages issued after vp
    fc_ghi = ghi.with_frame(
        ghi.frame.with_columns((pl.col("event_start") - timedelta(days=1)).alias("belief_time"))
    )
    cfg = CycleConfig(
        min_horizon=timedelta(hours=12),
        max_horizon=timedelta(hours=36),
        train_period=timedelta(days=21),
        retrain_every=1,
    )
    base = forecast_cycles("hgb", power, vp, vp + timedelta(hours=1), cfg, regressors=[fc_ghi])
    bumped = fc_ghi.with_frame(
        fc_ghi.frame.with_columns(
            pl.when(pl.col("belief_time") > vp)
            .then(pl.col("event_value") + 500)
            .otherwise(pl.col("event_value"))
            .alias("event_value")
        )
    )
    again = forecast_cycles("hgb", power, vp, vp + timedelta(hours=1), cfg, regressors=[bumped])
    assert np.array_equal(base["event_value"].to_numpy(), again["event_value"].to_numpy())
