"""Gradient boosting (scikit-learn ``HistGradientBoostingRegressor``), with quantile loss.

One booster for the median (or the mean with ``loss="squared_error"``) and one per other
requested quantile (pinball loss). Missing lags (gaps) are handled natively by the trees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.models.base import FitContext, ForecastModel, ParamKind


class HistGradientBoosting(ForecastModel):
    """HistGradientBoosting on lags, calendar, horizon and regressors; quantile loss per quantile."""

    parameters = frozenset(
        {"max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization"}
    )
    parameter_kinds = {
        "max_iter": ParamKind("int", 1, 10_000),
        "learning_rate": ParamKind("number", 1e-6, 10),
        "max_leaf_nodes": ParamKind("int", 2, 10_000),
        "min_samples_leaf": ParamKind("int", 1, 100_000),
        "l2_regularization": ParamKind("number", 0),
    }

    name = "hgb"
    version = "1"
    description = "HistGradientBoosting (quantile loss for each requested quantile)"
    features = FeatureSpec(daily_lags=(1, 2, 3), weekly_lags=(1, 2), last_value=True)

    def _make(self, q: float | None) -> HistGradientBoostingRegressor:
        kw = dict(
            max_iter=int(self.params.get("max_iter", 200)),
            learning_rate=float(self.params.get("learning_rate", 0.08)),
            max_leaf_nodes=int(self.params.get("max_leaf_nodes", 31)),
            min_samples_leaf=int(self.params.get("min_samples_leaf", 20)),
            l2_regularization=float(self.params.get("l2_regularization", 0.0)),
            random_state=0,
        )
        if q is None:
            return HistGradientBoostingRegressor(loss="absolute_error", **kw)
        return HistGradientBoostingRegressor(loss="quantile", quantile=q, **kw)

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        self._train = train
        self._boosters: dict[float, HistGradientBoostingRegressor] = {}

    def _booster(self, q: float) -> HistGradientBoostingRegressor:
        # fitted lazily, so a cycle only trains the quantiles it is asked for
        if q not in self._boosters:
            b = self._make(None if q == 0.5 else q)
            b.fit(self._train.X, self._train.y)
            self._boosters[q] = b
        return self._boosters[q]

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        out = np.empty((len(test.X), len(quantiles)))
        for k, q in enumerate(quantiles):
            out[:, k] = self._booster(float(q)).predict(test.X)
        return out
