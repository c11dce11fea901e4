"""Forecasting: features from beliefs known at the forecast time, models, cycles, backtests.

No dagster here. The entry points:

- :class:`SeriesHistory` and :func:`known_at` (the as-of cut every forecast starts with);
- :func:`forecast_cycles` with a :class:`CycleConfig` (fixed viewpoints, retraining, quantiles)
  returning a belief frame;
- :func:`backtest` and :func:`accuracy_table` (MAE, RMSE, sMAPE, pinball, coverage per horizon);
- the model registry: :func:`get_model`, :func:`list_models`, subclass :class:`ForecastModel`.
"""

from flex_pipelines.forecasting.backtest import BacktestResult, backtest
from flex_pipelines.forecasting.clearsky import clear_sky_ghi, clear_sky_history, clear_sky_poa
from flex_pipelines.forecasting.combine import combine_forecasts
from flex_pipelines.forecasting.cycles import CycleConfig, forecast_cycles, viewpoints
from flex_pipelines.forecasting.errors import (
    AllNaNTargetError,
    ForecastingError,
    InsufficientHistoryError,
    MissingRegressorError,
    UnknownModelError,
    UnsupportedUnitError,
)
from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.history import SeriesHistory, knowledge_times, known_at, per_event
from flex_pipelines.forecasting.metrics import accuracy_table
from flex_pipelines.forecasting.models import (
    MODEL_REGISTRY,
    FitContext,
    ForecastModel,
    PointModel,
    get_model,
    list_models,
)
from flex_pipelines.forecasting.orientation import Orientation, fit_orientation

__all__ = [
    "AllNaNTargetError",
    "BacktestResult",
    "CycleConfig",
    "DesignMatrix",
    "FeatureSpec",
    "FitContext",
    "ForecastModel",
    "ForecastingError",
    "InsufficientHistoryError",
    "MODEL_REGISTRY",
    "MissingRegressorError",
    "Orientation",
    "PointModel",
    "SeriesHistory",
    "UnknownModelError",
    "UnsupportedUnitError",
    "accuracy_table",
    "clear_sky_ghi",
    "clear_sky_history",
    "clear_sky_poa",
    "combine_forecasts",
    "backtest",
    "fit_orientation",
    "forecast_cycles",
    "get_model",
    "known_at",
    "knowledge_times",
    "list_models",
    "per_event",
    "viewpoints",
]
