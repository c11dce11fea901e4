"""Rolling-origin backtests: forecast from every viewpoint of a period, score against actuals.

The forecasts are made by :func:`~flex_pipelines.forecasting.cycles.forecast_cycles`, so every
viewpoint trains only on what was known at it; the actuals are the latest belief per event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from flex_pipelines.forecasting.cycles import CycleConfig, forecast_cycles
from flex_pipelines.forecasting.history import SeriesHistory, per_event
from flex_pipelines.forecasting.metrics import accuracy_table
from flex_pipelines.forecasting.models.base import ForecastModel

__all__ = ["BacktestResult", "backtest"]


@dataclass
class BacktestResult:
    """Forecasts (belief frame), accuracy per lead-time bucket, and the wall time in seconds."""

    model: str
    forecasts: pl.DataFrame
    accuracy: pl.DataFrame
    seconds: float

    def overall(self) -> dict[str, object]:
        return self.accuracy.filter(pl.col("horizon") == "all").to_dicts()[0]


def backtest(
    model: str | type[ForecastModel] | ForecastModel,
    target: SeriesHistory,
    start: datetime,
    end: datetime,
    config: CycleConfig | None = None,
    *,
    regressors: Sequence[SeriesHistory] = (),
    bucket_hours: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of ``model`` with viewpoints in [start, end)."""
    t0 = time.perf_counter()
    fc = forecast_cycles(
        model, target, start, end, config, regressors=regressors, progress=progress
    )
    seconds = time.perf_counter() - t0
    actuals = per_event(target)
    name = model if isinstance(model, str) else model.name
    return BacktestResult(name, fc, accuracy_table(fc, actuals, bucket_hours), seconds)
