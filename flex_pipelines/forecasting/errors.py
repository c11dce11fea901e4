"""Errors a forecasting user can act on; each message names the field, the value and the time."""

from __future__ import annotations

from flex_pipelines.errors import FlexPipelinesError


class ForecastingError(FlexPipelinesError):
    """Base class of forecasting input errors."""


class InsufficientHistoryError(ForecastingError):
    """Too little history known at a viewpoint for the requested horizon, lags and training."""


class MissingRegressorError(ForecastingError):
    """A regressor with no values known in the window a model needs."""


class UnsupportedUnitError(ForecastingError):
    """A sensor unit the chosen model cannot forecast."""


class AllNaNTargetError(ForecastingError):
    """Every training target in the window is missing (NaN)."""


class UnknownModelError(ForecastingError):
    """A model name that is not in the registry."""
