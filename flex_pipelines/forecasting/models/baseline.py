"""Seasonal-naive baselines: the value at the same local time yesterday or last week.

"Yesterday" and "last week" mean the most recent day (week) whose value was known at the
viewpoint: for a 48-hour forecast the second day repeats the last known day.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.models.base import FitContext, ForecastModel, ParamKind, PointModel


class SeasonalNaiveDay(PointModel):
    """Same local time on the most recent known day."""

    name = "naive-day"
    description = "same local time on the most recent known day"
    features = FeatureSpec(daily_lags=(1,), weekly_lags=(), calendar=False, horizon=False)

    def fit_point(self, train: DesignMatrix, ctx: FitContext) -> None:
        return None

    def predict_point(self, test: DesignMatrix, ctx: FitContext) -> np.ndarray:
        return test.column("lag_day_1")


class SeasonalNaiveWeek(PointModel):
    """Same local time of week in the most recent known week."""

    name = "naive-week"
    description = "same local time one week earlier (most recent known week)"
    features = FeatureSpec(daily_lags=(), weekly_lags=(1,), calendar=False, horizon=False)

    def fit_point(self, train: DesignMatrix, ctx: FitContext) -> None:
        return None

    def predict_point(self, test: DesignMatrix, ctx: FitContext) -> np.ndarray:
        return test.column("lag_week_1")


class RecentQuantile(ForecastModel):
    """Quantiles of the same local time over the last ``days`` known days (a climatology).

    The empirical distribution of the recent days at each time of day is the reference
    "climatology" forecast of solar forecasting (Yang 2019, *Making reference solar forecasts
    with climatology, persistence, and their optimal convex combination*, Solar Energy 193:981);
    it needs no weather input. Each requested quantile ``q`` is the empirical quantile at level
    ``q + shift`` (param ``shift``, default 0; clipped to [0.01, 0.99]) of those days' values, so
    the median forecast is their median.
    """

    parameters = frozenset({"days", "shift"})
    #: ``days`` is a lag per day: bounded so that a value cannot exhaust memory or reach
    #: before any data (as the other history lengths below)
    parameter_kinds = {"days": ParamKind("int", 1, 366), "shift": ParamKind("number", -1, 1)}

    name = "recent-quantile"
    description = "empirical quantiles of the same local time over the last 21 known days"

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.days = int(params.get("days", 21))  # type: ignore[call-overload]
        self.shift = float(params.get("shift", 0.0))  # type: ignore[arg-type]

    def feature_spec(self, holiday_country: str | None) -> FeatureSpec:
        return FeatureSpec(
            daily_lags=tuple(range(1, self.days + 1)),
            weekly_lags=(),
            calendar=False,
            horizon=False,
            regressor_at_event=False,
        )

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        return None

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        cols = [test.columns.index(f"lag_day_{n}") for n in range(1, self.days + 1)]
        lags = test.X[:, cols]
        levels = np.clip(np.asarray(quantiles, dtype=float) + self.shift, 0.01, 0.99)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rows without any known day stay NaN
            return np.nanquantile(lags, levels, axis=1).T
