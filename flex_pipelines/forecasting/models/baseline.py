"""Seasonal-naive baselines: the value at the same local time yesterday or last week.

"Yesterday" and "last week" mean the most recent day (week) whose value was known at the
viewpoint: for a 48-hour forecast the second day repeats the last known day.
"""

from __future__ import annotations

import numpy as np

from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.models.base import FitContext, PointModel


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
