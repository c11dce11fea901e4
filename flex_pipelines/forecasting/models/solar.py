"""Clear-sky-index climatology: PV without a weather forecast, corrected for the sun's path.

The recent-days climatology (``recent-quantile``) takes the same local time on the last known
days as they were; over three weeks in autumn the sun rises ~20 minutes later and stands lower,
so those days overstate the next one. The clear-sky index ``k = P / P_clear`` removes that drift:
each past value is divided by the clear-sky irradiance of its own time, the quantile is taken of
``k`` and multiplied by the clear-sky irradiance of the target time (the clear-sky-index
persistence and climatology of solar forecasting: Yang 2019, *A guideline to solar forecasting
research practice: reproducible, operational, probabilistic or physically-based, ensemble, and
skill (ROPES)*, J. Renewable Sustainable Energy 11:022701; Yang 2019, *Making reference solar
forecasts with climatology, persistence, and their optimal convex combination*, Solar Energy
193:981). The clear-sky input is the built-in pvlib regressor
(:mod:`~flex_pipelines.forecasting.clearsky`), which is known in advance: no measured irradiance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from flex_pipelines.forecasting.clearsky import CLEAR_SKY_NAME, CLEAR_SKY_POA_NAME
from flex_pipelines.forecasting.errors import MissingRegressorError
from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.models.base import FitContext, ParamKind
from flex_pipelines.forecasting.models.baseline import RecentQuantile


class ClearSkyIndexQuantile(RecentQuantile):
    """Quantiles of the clear-sky index of the same local time over the last ``days`` known days.

    Params: ``days`` (default 21), ``shift`` (quantile level shift, as ``recent-quantile``),
    ``regressor`` (the clear-sky regressor's name; default the built-in ``clear-sky-poa`` of
    the array's plane if given, else ``clear-sky-ghi``), ``min_clear_sky`` (W/m², default 20:
    below it, at dawn and dusk, the index is unstable and the plain recent quantile is used)
    and ``pool_slots`` (default 0: the index samples of the
    ``pool_slots`` neighbouring times on either side of the same forecast join each time's
    sample, a smoother estimate from more values).
    """

    parameters = RecentQuantile.parameters | {"regressor", "min_clear_sky", "pool_slots"}
    parameter_kinds = RecentQuantile.parameter_kinds | {
        "min_clear_sky": ParamKind("number", 0, 1000),
        "pool_slots": ParamKind("int", 0, 48),
    }

    name = "clear-sky-quantile"
    description = (
        "quantiles of the clear-sky index (value / clear sky, on the array's plane if given, "
        "else GHI) of the same local time over the last 21 known days, times the target's "
        "clear sky (needs the clear-sky regressor)"
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)  # days, shift
        self.regressor = params.get("regressor")  # default: the plane's clear sky, else GHI
        self.min_clear_sky = float(params.get("min_clear_sky", 20.0))  # type: ignore[arg-type]
        self.pool_slots = int(params.get("pool_slots", 0))  # type: ignore[call-overload]

    def feature_spec(self, holiday_country: str | None) -> FeatureSpec:
        """The recent days' values, and the clear sky at the target and at those days."""
        spec = super().feature_spec(holiday_country)
        return replace(spec, regressor_at_event=True, regressor_daily_lags=True)

    def _name(self, test: DesignMatrix) -> str:
        if self.regressor is not None:
            return str(self.regressor)
        poa = f"reg_{CLEAR_SKY_POA_NAME}" in test.columns
        return CLEAR_SKY_POA_NAME if poa else CLEAR_SKY_NAME

    def _col(self, test: DesignMatrix, name: str) -> int:
        try:
            return test.columns.index(name)
        except ValueError:
            raise MissingRegressorError(
                f"model {self.name!r} needs the clear-sky regressor {self._name(test)!r} "
                f"(give the forecast the 'clear-sky' setting or a regressor of that name); "
                f"it got the columns {[c for c in test.columns if c.startswith('reg_')]}"
            ) from None

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        days = range(1, self.days + 1)
        lags = test.X[:, [test.columns.index(f"lag_day_{n}") for n in days]]
        name = self._name(test)
        clear_lags = test.X[:, [self._col(test, f"reglag_{name}_day_{n}") for n in days]]
        clear = test.X[:, self._col(test, f"reg_{name}")]
        levels = np.clip(np.asarray(quantiles, dtype=float) + self.shift, 0.01, 0.99)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rows without any known day stay NaN
            with np.errstate(invalid="ignore", divide="ignore"):
                index = np.where(clear_lags >= self.min_clear_sky, lags / clear_lags, np.nan)
            k = np.nanquantile(_pooled(index, test, self.pool_slots), levels, axis=1).T
            plain = np.nanquantile(lags, levels, axis=1).T
        use_index = (clear >= self.min_clear_sky)[:, None] & np.isfinite(k)
        return np.where(use_index, k * clear[:, None], plain)


def _pooled(index: np.ndarray, test: DesignMatrix, pool: int) -> np.ndarray:
    """Each row's samples joined by those of the ``pool`` neighbouring events on either side
    that belong to the same viewpoint (rows × (days · (2·pool + 1)); NaN where none)."""
    if pool <= 0:
        return index
    order = np.lexsort((test.event_us, test.viewpoint_us))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    blocks = []
    for off in range(-pool, pool + 1):
        pos = rank + off
        inside = (pos >= 0) & (pos < len(order))
        other = order[np.clip(pos, 0, len(order) - 1)]
        same = inside & (test.viewpoint_us[other] == test.viewpoint_us)
        blocks.append(np.where(same[:, None], index[other], np.nan))
    return np.hstack(blocks)
