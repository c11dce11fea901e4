"""The mean of several models' forecasts, as one model (forecast combination).

Averaging differently built forecasters is among the most reliable ways to cut forecast error
(Bates & Granger 1969, *The combination of forecasts*, Operational Research Quarterly 20:451;
for day-ahead prices, Lago et al. 2021 average LEAR models over calibration windows). On the
bundled day-ahead price markets the mean of ``lear``, ``hgb``, ``ridge`` and ``lear-ensemble``
with the markets' day-ahead load and generation forecasts is the benchmark's choice
(BENCHMARKS.md).

Each member builds its own features (a LEAR reads whole-day profiles, HGB the target hour's
lags) from the same as-of cut, so the mean is computed by the cycle runner
(:func:`~flex_pipelines.forecasting.cycles.forecast_cycles`): at each viewpoint every member is
fitted (or reused between retrains) and predicts, and the members' quantiles are averaged per
event and level (quantile averaging); with conformal calibration the members' medians are
averaged and the mean is calibrated as one model.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.models.base import (
    FitContext,
    ForecastModel,
    get_model,
    list_models,
)

__all__ = ["ModelMean"]


class ModelMean(ForecastModel):
    """The mean of the forecasts of ``models`` (two or more registered model names).

    Params: ``models`` (list of model names, each with its default parameters).
    """

    parameters = frozenset({"models"})

    name = "mean"
    version = "1"
    description = (
        "mean of several models' forecasts (models=[...], e.g. lear, hgb, ridge, lear-ensemble)"
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        names = params.get("models")
        if (
            not isinstance(names, list | tuple)
            or len(names) < 2
            or not all(isinstance(n, str) for n in names)
        ):
            raise ForecastingError(
                f"model 'mean' parameter models={names!r}: give a list of two or more model "
                'names, e.g. models=["lear", "hgb"]'
            )
        unknown = [n for n in names if n not in list_models() or n == self.name]
        if unknown:
            raise ForecastingError(
                f"model 'mean' parameter models: {', '.join(map(repr, unknown))} is not a model "
                f"to average; models: {', '.join(m for m in list_models() if m != self.name)}"
            )
        self.members: list[ForecastModel] = [get_model(n) for n in names]
        # a member's new version is a new run of the mean too (runs.py hashes the version)
        versions = ", ".join(f"{m.name}:{m.version}" for m in self.members)
        self.version = f"{type(self).version}[{versions}]"  # type: ignore[misc]

    def member_names(self) -> list[str]:
        """The registry names of the averaged models, in the order given."""
        return [m.name for m in self.members]

    def feature_spec(self, holiday_country: str | None) -> FeatureSpec:
        """The member spec that reaches furthest back (how much history a run reads)."""
        specs = [m.feature_spec(holiday_country) for m in self.members]
        return max(specs, key=lambda s: s.lookback(timedelta(days=2)))

    @property
    def min_extra_history(self) -> timedelta:  # type: ignore[override]
        return max(m.min_extra_history for m in self.members)

    def supports_unit(self, unit: str) -> bool:
        return all(m.supports_unit(unit) for m in self.members)

    def unit_hint(self) -> str:
        hints = {m.unit_hint() for m in self.members if not m.supports_unit("")}
        return " and ".join(sorted(hints)) or "any unit"

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        raise ForecastingError(
            "model 'mean' averages its members in the cycle runner (forecast_cycles), which "
            "fits each member on its own features"
        )

    def predict(self, test: DesignMatrix, ctx: FitContext, quantiles: Any) -> np.ndarray:
        raise ForecastingError("model 'mean' predicts through forecast_cycles")
