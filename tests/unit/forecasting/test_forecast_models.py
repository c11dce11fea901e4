"""Quantile ordering, the registry (a model in one class), metrics and accuracy tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from flex_pipelines.forecasting import (
    MODEL_REGISTRY,
    CycleConfig,
    DesignMatrix,
    FeatureSpec,
    FitContext,
    ForecastModel,
    PointModel,
    SeriesHistory,
    accuracy_table,
    backtest,
    forecast_cycles,
    get_model,
    list_models,
)
from flex_pipelines.forecasting.metrics import pinball, smape

CET = timezone(timedelta(hours=1))
VP = datetime(2015, 11, 10, 12, tzinfo=CET)
DA = dict(min_horizon=timedelta(hours=12), max_horizon=timedelta(hours=36))


class CrossingQuantiles(ForecastModel):
    """Returns quantile columns in reverse order: the cycle runner must sort them."""

    name = "test-crossing"
    features = FeatureSpec(daily_lags=(1,), weekly_lags=(), calendar=False, horizon=False)

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        return None

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        base = test.column("lag_day_1")
        return np.column_stack([base - 10 * k for k in range(len(quantiles))])


def _assert_non_crossing(fc: pl.DataFrame) -> None:
    wide = (
        fc.sort("cumulative_probability")
        .group_by("event_start", "belief_time")
        .agg(pl.col("event_value"))
    )
    for vals in wide["event_value"].to_list():
        assert vals == sorted(vals)


def test_quantiles_never_cross(be_prices: SeriesHistory) -> None:
    cfg = CycleConfig(
        **DA, train_period=timedelta(days=28), quantiles=(0.9, 0.1, 0.5), calibration="none"
    )
    fc = forecast_cycles("test-crossing", be_prices, VP, VP + timedelta(days=2), cfg)
    assert sorted(fc["cumulative_probability"].unique().to_list()) == [0.1, 0.5, 0.9]
    _assert_non_crossing(fc)
    # the lowest quantile is the lowest raw column (base - 20), the highest is base
    one = fc.filter(pl.col("event_start") == fc["event_start"].min()).sort("cumulative_probability")
    v = one["event_value"].to_list()
    assert v[2] - v[0] == pytest.approx(20.0)
    cfg_hgb = CycleConfig(
        **DA,
        train_period=timedelta(days=21),
        quantiles=(0.1, 0.5, 0.9),
        model_params={"max_iter": 40},
    )
    _assert_non_crossing(forecast_cycles("hgb", be_prices, VP, VP + timedelta(hours=1), cfg_hgb))


def test_a_model_is_added_with_one_class(be_prices: SeriesHistory) -> None:
    class MeanOfLastTwoDays(PointModel):
        name = "test-mean-2d"
        features = FeatureSpec(daily_lags=(1, 2), weekly_lags=(), calendar=False, horizon=False)

        def fit_point(self, train: DesignMatrix, ctx: FitContext) -> None:
            return None

        def predict_point(self, test: DesignMatrix, ctx: FitContext) -> np.ndarray:
            return (test.column("lag_day_1") + test.column("lag_day_2")) / 2

    assert "test-mean-2d" in list_models()
    assert isinstance(get_model("test-mean-2d"), MeanOfLastTwoDays)
    cfg = CycleConfig(**DA, train_period=timedelta(days=14))
    fc = forecast_cycles("test-mean-2d", be_prices, VP, VP + timedelta(hours=1), cfg)
    d1 = forecast_cycles("naive-day", be_prices, VP, VP + timedelta(hours=1), cfg)
    # lag 2 for 11 Nov is 9 Nov: check one hour by hand
    hist = dict(
        zip(
            be_prices.frame["event_start"].to_list(),
            be_prices.frame["event_value"].to_list(),
            strict=True,
        )
    )
    t = datetime(2015, 11, 11, 8, tzinfo=CET)
    want = (hist[t - timedelta(days=1)] + hist[t - timedelta(days=2)]) / 2
    got = fc.filter(pl.col("event_start") == t)["event_value"].item()
    assert got == pytest.approx(want)
    assert (
        d1.filter(pl.col("event_start") == t)["event_value"].item() == hist[t - timedelta(days=1)]
    )
    MODEL_REGISTRY.pop("test-mean-2d")


def test_builtin_models_are_registered() -> None:
    assert {
        "naive-day",
        "naive-week",
        "ridge",
        "lasso",
        "lear",
        "ridge-profiles",
        "hgb",
        "ets",
        "sarimax",
    } <= set(list_models())


def test_metrics_by_hand() -> None:
    y = np.array([10.0, 0.0, -5.0])
    yhat = np.array([12.0, 0.0, -5.0])
    assert smape(y, yhat) == pytest.approx(100 * (2 / 11) / 3)
    q = np.array([[8.0, 10.0, 12.0], [1.0, 2.0, 3.0], [-6.0, -5.0, -4.0]])
    # pinball: row 1 → 0.1·2, 0, 0.9·... (y=10): q0.1=8 → 0.1·2=0.2; q0.5=10 → 0; q0.9=12 → 0.1·2
    expected = np.mean([0.2, 0.0, 0.2, 0.9 * 1, 0.5 * 2, 0.1 * 3, 0.1 * 1, 0.0, 0.1 * 1])
    assert pinball(y, q, [0.1, 0.5, 0.9]) == pytest.approx(expected)


def test_accuracy_table_per_horizon_and_coverage() -> None:
    t0 = datetime(2020, 1, 2, tzinfo=UTC)
    bt = t0 - timedelta(hours=12)
    rows = []
    for h, (lo, med, hi, _actual) in enumerate([(0, 5, 10, 6), (0, 5, 10, 11), (2, 4, 6, 4)]):
        for p, v in ((0.1, lo), (0.5, med), (0.9, hi)):
            rows.append((t0 + timedelta(hours=h), bt, p, float(v)))
    fc = pl.DataFrame(
        rows,
        schema=["event_start", "belief_time", "cumulative_probability", "event_value"],
        orient="row",
    )
    actuals = pl.DataFrame(
        {
            "event_start": [t0 + timedelta(hours=h) for h in range(3)],
            "event_value": [6.0, 11.0, 4.0],
        }
    )
    table = accuracy_table(fc, actuals)
    assert table["horizon"].to_list() == ["12h", "13h", "14h", "all"]
    overall = table.filter(pl.col("horizon") == "all").to_dicts()[0]
    assert overall["n"] == 3
    assert overall["mae"] == pytest.approx((1 + 6 + 0) / 3)
    assert overall["coverage"] == pytest.approx(2 / 3)
    assert overall["coverage_nominal"] == pytest.approx(0.8)


def test_backtest_reports_per_horizon_accuracy(be_prices: SeriesHistory) -> None:
    cfg = CycleConfig(**DA, train_period=timedelta(days=56), quantiles=(0.1, 0.5, 0.9))
    res = backtest("ridge", be_prices, VP, VP + timedelta(days=5), cfg, bucket_hours=6)
    assert res.accuracy["horizon"].to_list() == ["12h", "18h", "24h", "30h", "all"]
    overall = res.overall()
    assert overall["n"] == 5 * 24
    naive = backtest("naive-day", be_prices, VP, VP + timedelta(days=5), cfg).overall()
    assert 0 < overall["mae"] < naive["mae"]  # real data: ridge beats same-hour-yesterday here
    assert 0.3 < overall["coverage"] <= 1.0


def test_combining_forecasts_averages_matching_beliefs(be_prices: SeriesHistory) -> None:
    from flex_pipelines.forecasting import combine_forecasts

    cfg = CycleConfig(**DA, train_period=timedelta(days=21), quantiles=(0.1, 0.5, 0.9))
    a = forecast_cycles("naive-day", be_prices, VP, VP + timedelta(days=2), cfg)
    b = forecast_cycles("naive-week", be_prices, VP, VP + timedelta(days=2), cfg)
    c = combine_forecasts([a, b], weights=[3, 1], source_id=7)
    assert c.height == a.height and (c["source_id"] == 7).all()
    j = a.join(b, on=["event_start", "belief_time", "cumulative_probability"]).join(
        c, on=["event_start", "belief_time", "cumulative_probability"], suffix="_c"
    )
    want = (3 * j["event_value"] + j["event_value_right"]) / 4
    assert np.allclose(j["event_value_c"].to_numpy(), want.to_numpy())
    _assert_non_crossing(c)


def test_lear_ensemble_is_the_mean_of_lear_over_its_windows(be_prices: SeriesHistory) -> None:
    """Each member sees exactly its window (the days ``lear`` with that training period sees);
    a window longer than the history repeats the longest member and is left out."""

    def median(model: str, days: int, **params: object) -> np.ndarray:
        cfg = CycleConfig(
            **DA,
            train_period=timedelta(days=days),
            model_params=params,
            calibration="none",
            quantiles=(0.5,),
        )
        fc = forecast_cycles(model, be_prices, VP, VP + timedelta(hours=1), cfg)
        return fc.sort("event_start")["event_value"].to_numpy()

    short, long = median("lear", 14), median("lear", 28)
    assert np.abs(short - long).max() > 1.0  # the two windows give different forecasts
    both = median("lear-ensemble", 28, windows=(14, 28))
    np.testing.assert_allclose(both, (short + long) / 2, atol=1e-9)
    # 60 days of window with 28 days of history: the same samples as the 28-day member
    np.testing.assert_allclose(median("lear-ensemble", 28, windows=(28, 14, 60)), both, atol=1e-9)
    np.testing.assert_allclose(median("lear-ensemble", 28, windows=(60,)), long, atol=1e-9)


def test_a_lear_ensemble_window_counts_local_days_across_a_clock_change() -> None:
    """On a sensor with daylight saving, a 14-day window spanning the 23-hour spring day holds
    the 14 viewpoints lear's 14-day training period holds (a fixed 24 h day took 15)."""
    from dataclasses import replace

    from flex_pipelines.forecasting.datasets import epf_prices

    hist, _ = epf_prices("be")
    local = replace(hist, timezone="Europe/Brussels")
    vp = datetime(2016, 4, 5, 12, tzinfo=CET)  # clocks went forward on 2016-03-27
    cfg = dict(**DA, calibration="none", quantiles=(0.5,))

    def median(model: str, days: int, **params: object) -> np.ndarray:
        c = CycleConfig(**cfg, train_period=timedelta(days=days), model_params=params)
        fc = forecast_cycles(model, local, vp, vp + timedelta(hours=1), c)
        return fc.sort("event_start")["event_value"].to_numpy()

    np.testing.assert_allclose(
        median("lear-ensemble", 28, windows=[14]), median("lear", 14), atol=1e-9
    )
