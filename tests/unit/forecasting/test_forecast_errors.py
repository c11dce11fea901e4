"""Bad input raises ForecastingError subclasses whose messages name field, value and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest

from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.forecasting import (
    AllNaNTargetError,
    CycleConfig,
    ForecastingError,
    InsufficientHistoryError,
    MissingRegressorError,
    SeriesHistory,
    UnknownModelError,
    UnsupportedUnitError,
    forecast_cycles,
)
from flex_pipelines.forecasting.datasets import gb_demand, pv_serf

CET = timezone(timedelta(hours=1))
DA = dict(min_horizon=timedelta(hours=12), max_horizon=timedelta(hours=36))


def test_too_little_history_says_what_is_needed_and_what_there_is(
    be_prices: SeriesHistory,
) -> None:
    short = be_prices.with_frame(
        be_prices.frame.filter(pl.col("event_start") >= datetime(2015, 11, 6, tzinfo=CET))
    )
    vp = datetime(2015, 11, 10, 12, tzinfo=CET)
    cfg = CycleConfig(**DA, train_period=timedelta(days=28))
    with pytest.raises(InsufficientHistoryError) as exc:
        forecast_cycles("ridge", short, vp, vp + timedelta(hours=1), cfg)
    msg = str(exc.value)
    assert "be-day-ahead-price" in msg
    assert "2015-11-10T11:00:00+00:00" in msg  # the viewpoint
    assert "up to P1DT12H" in msg  # the horizon
    assert "needs at least P17D" in msg  # 14 days of w-2 lag + 2 horizon days + 1 frequency
    assert "there is only P4DT12H" in msg
    assert "2015-11-05T23:00:00+00:00" in msg  # where the history starts
    assert isinstance(exc.value, FlexPipelinesError)


def test_no_history_at_all(be_prices: SeriesHistory) -> None:
    vp = datetime(2015, 8, 1, 12, tzinfo=CET)  # before the slice starts
    with pytest.raises(InsufficientHistoryError, match="there is none"):
        forecast_cycles("naive-day", be_prices, vp, vp + timedelta(hours=1), CycleConfig(**DA))


def test_regressor_without_values_in_the_window() -> None:
    power, clear, _ = pv_serf()
    old = clear.with_frame(  # clear-sky values only for July
        clear.frame.filter(pl.col("event_start") < datetime(2016, 8, 1, tzinfo=UTC))
    )
    vp = datetime(2016, 9, 10, 12, tzinfo=timezone(timedelta(hours=-7)))
    cfg = CycleConfig(**DA, train_period=timedelta(days=14))
    with pytest.raises(MissingRegressorError) as exc:
        forecast_cycles("ridge", power, vp, vp + timedelta(hours=1), cfg, regressors=[old])
    msg = str(exc.value)
    assert "'ghi-clear-sky'" in msg and "2016-08-27" in msg and "no values known" in msg


def test_unit_the_model_cannot_forecast() -> None:
    demand = gb_demand()
    vp = datetime(2000, 7, 20, 12, tzinfo=UTC)
    with pytest.raises(UnsupportedUnitError) as exc:
        forecast_cycles("lear", demand, vp, vp + timedelta(hours=1), CycleConfig(**DA))
    assert "'lear'" in str(exc.value) and "'MW'" in str(exc.value) and "gb-demand" in str(exc.value)
    nonsense = demand.with_frame(demand.frame)
    object.__setattr__(nonsense, "unit", "bananas per hour")
    with pytest.raises(UnsupportedUnitError, match="bananas"):
        forecast_cycles("ridge", nonsense, vp, vp + timedelta(hours=1), CycleConfig(**DA))


def test_all_nan_training_targets(be_prices: SeriesHistory) -> None:
    vp = datetime(2015, 11, 10, 12, tzinfo=CET)
    # values known, but NaN in the whole training window (a broken meter reporting NaN)
    nan = be_prices.with_frame(
        be_prices.frame.with_columns(
            pl.when(pl.col("event_start") > datetime(2015, 10, 1, tzinfo=CET))
            .then(float("nan"))
            .otherwise(pl.col("event_value"))
            .alias("event_value")
        )
    )
    cfg = CycleConfig(**DA, train_period=timedelta(days=28))
    with pytest.raises(AllNaNTargetError) as exc:
        forecast_cycles("naive-week", nan, vp, vp + timedelta(hours=1), cfg)
    assert "2015-10-13T11:00:00+00:00 to 2015-11-10T11:00:00+00:00" in str(exc.value)


def test_unknown_model_and_bad_settings(be_prices: SeriesHistory) -> None:
    vp = datetime(2015, 11, 10, 12, tzinfo=CET)
    with pytest.raises(UnknownModelError, match="'prophet'.*known models: .*lear"):
        forecast_cycles("prophet", be_prices, vp, vp + timedelta(hours=1), CycleConfig(**DA))
    with pytest.raises(ForecastingError, match=r"quantiles \[0.5, 1.2\]"):
        CycleConfig(quantiles=(0.5, 1.2))
    with pytest.raises(ForecastingError, match="max-forecast-horizon PT1H must exceed"):
        CycleConfig(min_horizon=timedelta(hours=2), max_horizon=timedelta(hours=1))
    with pytest.raises(ForecastingError, match="needs UTC offsets"):
        forecast_cycles("ridge", be_prices, datetime(2015, 11, 10), vp, CycleConfig(**DA))
