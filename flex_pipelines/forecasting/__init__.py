"""Forecasting: features from beliefs known at the forecast time, models, cycles, backtests.

No dagster here. The entry points:

- :class:`SeriesHistory` and :func:`known_at` (the as-of cut every forecast starts with);
- :func:`forecast_cycles` with a :class:`CycleConfig` (fixed viewpoints, retraining, quantiles)
  returning a belief frame;
- :func:`backtest` and :func:`accuracy_table` (MAE, RMSE, sMAPE, pinball, coverage per horizon);
- the model registry: :func:`get_model`, :func:`list_models`, subclass :class:`ForecastModel`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: where each public name lives; imported on first use, so importing one submodule (scenarios,
#: clearsky) does not load every model and its libraries (scikit-learn, statsmodels: seconds)
_EXPORTS = {
    "AllNaNTargetError": "flex_pipelines.forecasting.errors",
    "BacktestResult": "flex_pipelines.forecasting.backtest",
    "CycleConfig": "flex_pipelines.forecasting.cycles",
    "DesignMatrix": "flex_pipelines.forecasting.features",
    "FeatureSpec": "flex_pipelines.forecasting.features",
    "FitContext": "flex_pipelines.forecasting.models",
    "ForecastModel": "flex_pipelines.forecasting.models",
    "ForecastingError": "flex_pipelines.forecasting.errors",
    "InsufficientHistoryError": "flex_pipelines.forecasting.errors",
    "MODEL_REGISTRY": "flex_pipelines.forecasting.models",
    "MissingRegressorError": "flex_pipelines.forecasting.errors",
    "Orientation": "flex_pipelines.forecasting.orientation",
    "PointModel": "flex_pipelines.forecasting.models",
    "SeriesHistory": "flex_pipelines.forecasting.history",
    "UnknownModelError": "flex_pipelines.forecasting.errors",
    "UnsupportedUnitError": "flex_pipelines.forecasting.errors",
    "accuracy_table": "flex_pipelines.forecasting.metrics",
    "clear_sky_ghi": "flex_pipelines.forecasting.clearsky",
    "clear_sky_history": "flex_pipelines.forecasting.clearsky",
    "clear_sky_poa": "flex_pipelines.forecasting.clearsky",
    "combine_forecasts": "flex_pipelines.forecasting.combine",
    "backtest": "flex_pipelines.forecasting.backtest",
    "fit_orientation": "flex_pipelines.forecasting.orientation",
    "forecast_cycles": "flex_pipelines.forecasting.cycles",
    "get_model": "flex_pipelines.forecasting.models",
    "known_at": "flex_pipelines.forecasting.history",
    "knowledge_times": "flex_pipelines.forecasting.history",
    "list_models": "flex_pipelines.forecasting.models",
    "per_event": "flex_pipelines.forecasting.history",
    "viewpoints": "flex_pipelines.forecasting.cycles",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
