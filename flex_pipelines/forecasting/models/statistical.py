"""Statistical time-series models (statsmodels): exponential smoothing and SARIMAX.

They read the target series itself (the as-of grid in :class:`FitContext`), not the lag matrix:
- ``ets``: additive Holt-Winters with a daily season, fitted on the last 28 days (at most);
- ``sarimax``: ARMA(2,1) errors around daily (and, with enough data, weekly) Fourier terms
  (dynamic harmonic regression: a seasonal SARIMAX with a 96-step season is impractically slow).
Gaps are linearly interpolated before fitting. Between retrains the fitted parameters are
re-applied to the newest data (no re-estimation). Quantiles are Gaussian around the mean.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import timedelta
from statistics import NormalDist

import numpy as np

from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.models.base import FitContext, ForecastModel, ParamKind

_SERIES_FEATURES = FeatureSpec(daily_lags=(), weekly_lags=(), calendar=False, horizon=False)


def _recent_series(ctx: FitContext, max_days: int) -> tuple[np.ndarray, int]:
    """(values, index of the first value) of the last ``max_days`` known days, gaps filled."""
    g = ctx.grid
    known = np.flatnonzero(~np.isnan(g.values) & (g.known_us <= ctx.viewpoint_us))
    last = int(known.max()) + 1
    first = max(int(known.min()), last - max_days * g.slots_per_day)
    y = g.values[first:last].copy()
    bad = np.isnan(y)
    if bad.any():
        y[bad] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), y[~bad])
    return y, first


def _gaussian(mean: np.ndarray, sd: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    z = np.array([NormalDist().inv_cdf(q) for q in quantiles])
    return mean[:, None] + sd[:, None] * z[None, :]


class ExponentialSmoothingModel(ForecastModel):
    """Additive Holt-Winters with a daily season (statsmodels ``ExponentialSmoothing``)."""

    parameters = frozenset({"window_days"})
    #: Holt-Winters needs two full seasonal cycles (days) to initialise its seasonals
    parameter_kinds = {"window_days": ParamKind("int", 2, 366)}

    name = "ets"
    description = "Holt-Winters, additive daily season, last 28 days"
    features = _SERIES_FEATURES
    min_extra_history = timedelta(days=3)

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        self._params: dict[str, float] | None = None
        self._fit(ctx, optimized=True)

    def _fit(self, ctx: FitContext, optimized: bool) -> tuple[object, int, int]:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        days = min(int(self.params.get("window_days", 28)), max(3, ctx.train_period.days))
        y, first = _recent_series(ctx, days)
        period = ctx.grid.slots_per_day
        m = ExponentialSmoothing(
            y,
            trend=None,
            seasonal="add",
            seasonal_periods=period,
            initialization_method="estimated",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if optimized or self._params is None:
                res = m.fit()
                self._params = {
                    "smoothing_level": float(res.params["smoothing_level"]),
                    "smoothing_seasonal": float(res.params["smoothing_seasonal"]),
                }
            else:
                res = m.fit(optimized=False, **self._params)
        self._sd = float(np.std(res.resid))
        return res, first, len(y)

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        res, first, n = self._fit(ctx, optimized=False)
        steps_ahead = test.grid_index - (first + n) + 1
        fc = res.forecast(int(max(steps_ahead.max(), 1)))  # type: ignore[attr-defined]
        mean = np.asarray(fc)[np.clip(steps_ahead - 1, 0, None)]
        return _gaussian(mean, np.full(len(mean), self._sd), quantiles)


def _fourier(t: np.ndarray, period: float, k: int) -> np.ndarray:
    cols = []
    for j in range(1, k + 1):
        cols += [np.sin(2 * np.pi * j * t / period), np.cos(2 * np.pi * j * t / period)]
    return np.column_stack(cols)


class Sarimax(ForecastModel):
    """SARIMAX: ARMA(2,1) errors with daily (and weekly) Fourier-term regressors."""

    parameters = frozenset({"window_days"})
    parameter_kinds = {"window_days": ParamKind("int", 1, 366)}

    name = "sarimax"
    description = "SARIMAX ARMA(2,1) + daily/weekly Fourier terms, last 28 days"
    features = _SERIES_FEATURES
    min_extra_history = timedelta(days=3)

    def _exog(self, idx: np.ndarray, spd: int) -> np.ndarray:
        parts = [_fourier(idx.astype(float), spd, 4)]
        if self._weekly:
            parts.append(_fourier(idx.astype(float), 7 * spd, 2))
        return np.column_stack(parts)

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        days = min(int(self.params.get("window_days", 28)), max(3, ctx.train_period.days))
        y, first = _recent_series(ctx, days)
        spd = ctx.grid.slots_per_day
        self._weekly = len(y) >= 14 * spd
        X = self._exog(np.arange(first, first + len(y)), spd)
        model = SARIMAX(y, exog=X, order=(2, 0, 1), trend="c")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._res = model.fit(disp=False, maxiter=200)

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        days = min(int(self.params.get("window_days", 28)), max(3, ctx.train_period.days))
        y, first = _recent_series(ctx, days)
        spd = ctx.grid.slots_per_day
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = self._res.apply(y, exog=self._exog(np.arange(first, first + len(y)), spd))
            steps_ahead = test.grid_index - (first + len(y)) + 1
            h = int(max(steps_ahead.max(), 1))
            end = first + len(y)
            fc = res.get_forecast(h, exog=self._exog(np.arange(end, end + h), spd))
        pos = np.clip(steps_ahead - 1, 0, None)
        mean = np.asarray(fc.predicted_mean)[pos]
        sd = np.sqrt(np.asarray(fc.var_pred_mean))[pos]
        return _gaussian(mean, sd, quantiles)
