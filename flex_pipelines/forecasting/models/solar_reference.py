"""Clear-sky-index reference forecasts fitted to the recent past: CLIPER and quantile regression.

Both read only what ``clear-sky-quantile`` reads (the last ``days`` known days' power at the same
local time, the clear-sky irradiance at those times and at the target; no measured irradiance)
and fit a few numbers on the model's own training samples, which the cycle runner builds as each
past viewpoint knew them (a rolling-origin evaluation, so no value after the viewpoint enters):

- ``clear-sky-cliper``: the convex combination ``w · k_persistence + (1 − w) · k_climatology`` of
  the clear-sky index (Yang 2019, *Making reference solar forecasts with climatology,
  persistence, and their optimal convex combination*, Solar Energy 193:981: CLIPER), times the
  target's clear sky. Persistence is the index of the latest known day at the same local time
  (for a day-ahead forecast at 12:00, the day before for morning times and two days before for
  the afternoon), climatology the index quantile of ``clear-sky-quantile``. Yang fits ``w`` by
  the squared error; here ``w`` and the climatology's quantile level are chosen by the absolute
  error in power on the last ``fit_days`` past viewpoints, because the median, not the mean,
  minimises the MAE (Gneiting 2011, *Making and evaluating point forecasts*, JASA 106:746).
- ``clear-sky-qr``: a linear quantile regression (Koenker & Bassett 1978, *Regression
  quantiles*, Econometrica 46:33) of the index on its climatology quantiles (levels 0.25, 0.5,
  0.75) and its persistence, weighted by the clear sky so that its pinball loss is the loss in
  power; one regression per requested quantile.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.features import DesignMatrix
from flex_pipelines.forecasting.models.base import FitContext, ParamKind
from flex_pipelines.forecasting.models.solar import ClearSkyIndexQuantile, _pooled

__all__ = ["ClearSkyCliper", "ClearSkyIndexRegression"]

#: the climatology's quantile-level shifts ``clear-sky-cliper`` chooses from (level 0.5 + shift)
SHIFT_GRID = np.round(np.arange(-0.2, 0.4001, 0.05), 2)
#: the persistence weights it chooses from
WEIGHT_GRID = np.round(np.arange(0.0, 1.0001, 0.05), 2)


class _IndexInputs:
    """The clear-sky-index samples of a design matrix (rows × samples), its persistence, the
    plain values, the target's clear sky and where the index applies."""

    def __init__(self, model: ClearSkyIndexQuantile, dm: DesignMatrix) -> None:
        days = range(1, model.days + 1)
        lags = dm.X[:, [dm.columns.index(f"lag_day_{n}") for n in days]]
        name = model._name(dm)
        clear_lags = dm.X[:, [model._col(dm, f"reglag_{name}_day_{n}") for n in days]]
        self.clear = dm.X[:, model._col(dm, f"reg_{name}")]
        with np.errstate(invalid="ignore", divide="ignore"):
            index = np.where(clear_lags >= model.min_clear_sky, lags / clear_lags, np.nan)
        self.lags = lags
        self.samples = _pooled(index, dm, model.pool_slots)
        if getattr(model, "persistence", "slot") == "day":
            self.persistence = _day_persistence(lags[:, 0], clear_lags[:, 0], dm, model)
        else:  # the latest known day's index, averaged over the pooled neighbours
            latest = _pooled(index[:, :1], dm, model.pool_slots)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # all-NaN rows stay NaN
                self.persistence = np.nanmean(latest, axis=1)
        self.daylight = self.clear >= model.min_clear_sky

    def climatology(self, levels: np.ndarray) -> np.ndarray:
        """Index quantiles at ``levels`` (rows × levels; NaN where no day is known)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.nanquantile(self.samples, np.clip(levels, 0.01, 0.99), axis=1).T

    def plain(self, levels: np.ndarray) -> np.ndarray:
        """The plain climatology of the values (for dawn, dusk and night)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.nanquantile(self.lags, np.clip(levels, 0.01, 0.99), axis=1).T


def _day_persistence(
    latest: np.ndarray, clear: np.ndarray, dm: DesignMatrix, model: ClearSkyIndexQuantile
) -> np.ndarray:
    """Each row's viewpoint's index of the latest known day: the sum of the latest known values
    over the sum of their clear sky, over the viewpoint's rows (for a 12:00 day-ahead viewpoint,
    the last 24 hours known: the morning of the day before and the afternoon of the one before)."""
    _, group = np.unique(dm.viewpoint_us, return_inverse=True)
    ok = np.isfinite(latest) & np.isfinite(clear) & (clear >= model.min_clear_sky)
    power = np.bincount(group, weights=np.where(ok, latest, 0.0))
    sky = np.bincount(group, weights=np.where(ok, clear, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sky > 0, power / sky, np.nan)[group]


def _persistence_param(params: dict[str, object]) -> str:
    value = params.get("persistence", "slot")
    if value not in ("slot", "day"):
        raise ForecastingError(f"persistence={value!r} must be 'slot' or 'day'")
    return str(value)


def _recent(dm: DesignMatrix, n_viewpoints: int) -> np.ndarray:
    """Rows of the latest ``n_viewpoints`` viewpoints of a training matrix."""
    vps = np.unique(dm.viewpoint_us)
    return dm.viewpoint_us >= vps[-min(n_viewpoints, len(vps))]


def _fit_days(params: dict[str, object], default: int) -> int:
    return int(params.get("fit_days", default))  # type: ignore[call-overload]  (ParamKind)


class ClearSkyCliper(ClearSkyIndexQuantile):
    """CLIPER of the clear-sky index: persistence and climatology, weight and level fitted by MAE.

    Parameters (``--model-param``): those of ``clear-sky-quantile`` (``days`` 21, ``regressor``,
    ``min_clear_sky`` W/m², ``pool_slots``), and

    weight : float or None
        Persistence weight ``w`` in [0, 1]; None (default): chosen from 0, 0.05, …, 1.
    shift : float or None
        The climatology's quantile level is ``q + shift`` for the requested quantile ``q``;
        None (default): chosen from −0.2, −0.15, …, 0.4.
    fit_days : int
        How many of the latest past viewpoints the choice is scored on (default 28).

    The choice minimises the mean absolute error in the target's unit (W for PV) of the median
    forecast over the training samples of those viewpoints (each built from what its viewpoint
    knew); ties go to the smaller weight, then the smaller shift. Where the target's clear sky is
    below ``min_clear_sky`` the forecast is the plain climatology, as ``clear-sky-quantile``.
    After ``fit``, ``weight_`` and ``shift_`` hold the values used.
    """

    parameters = ClearSkyIndexQuantile.parameters | {"weight", "fit_days", "persistence"}
    parameter_kinds = ClearSkyIndexQuantile.parameter_kinds | {
        "weight": ParamKind("number", 0, 1, nullable=True),
        "shift": ParamKind("number", -1, 1, nullable=True),
        "fit_days": ParamKind("int", 1, 366),
    }

    name = "clear-sky-cliper"
    description = (
        "convex combination of clear-sky-index persistence (latest known day) and climatology "
        "(last 21 days), weight and quantile level fitted by MAE on the last 28 viewpoints "
        "(needs the clear-sky regressor)"
    )

    def __init__(self, **params: object) -> None:
        weight, shift = params.get("weight"), params.get("shift")  # None: fitted
        fixed = {k: v for k, v in params.items() if k != "shift" or v is not None}
        super().__init__(**fixed)
        self.params = params
        self.weight = None if weight is None else float(weight)
        self.shift_param = None if shift is None else float(shift)
        self.fit_days = _fit_days(params, 28)
        self.persistence = _persistence_param(params)
        self.weight_ = self.weight if self.weight is not None else 0.0
        self.shift_ = self.shift_param if self.shift_param is not None else 0.0

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        """Choose the weight and the level shift that are not fixed (see the class docstring)."""
        if self.weight is not None and self.shift_param is not None:
            return
        dm = train.subset(_recent(train, self.fit_days))
        inp = _IndexInputs(self, dm)
        y = dm.y if dm.y is not None else np.full(len(dm.viewpoint_us), np.nan)
        shifts = SHIFT_GRID if self.shift_param is None else np.array([self.shift_param])
        weights = WEIGHT_GRID if self.weight is None else np.array([self.weight])
        clim = inp.climatology(0.5 + shifts)
        plain = inp.plain(0.5 + shifts)
        pers = np.where(np.isfinite(inp.persistence), inp.persistence, np.nan)
        best = (np.inf, self.weight_, self.shift_)
        for j, shift in enumerate(shifts):
            for w in weights:
                k = np.where(np.isfinite(pers), w * pers + (1 - w) * clim[:, j], clim[:, j])
                use = inp.daylight & np.isfinite(k)
                pred = np.where(use, k * inp.clear, plain[:, j])
                err = np.abs(y - pred)
                score = float(np.nanmean(err)) if np.isfinite(err).any() else np.inf
                if score < best[0] - 1e-12:
                    best = (score, float(w), float(shift))
        self.weight_, self.shift_ = best[1], best[2]

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        inp = _IndexInputs(self, test)
        levels = np.asarray(quantiles, dtype=float) + self.shift_
        clim, plain = inp.climatology(levels), inp.plain(levels)
        pers = inp.persistence[:, None]
        w = self.weight_
        k = np.where(np.isfinite(pers), w * pers + (1 - w) * clim, clim)
        use = inp.daylight[:, None] & np.isfinite(k)
        return np.where(use, k * inp.clear[:, None], plain)


class ClearSkyIndexRegression(ClearSkyIndexQuantile):
    """Linear quantile regression of the clear-sky index on its climatology and persistence.

    Parameters (``--model-param``): those of ``clear-sky-quantile`` (``days`` 21, ``regressor``,
    ``min_clear_sky`` W/m², ``pool_slots``; its ``shift`` is not read), and

    fit_days : int
        How many of the latest past viewpoints the regression is fitted on (default 56).

    persistence : str
        ``"slot"`` (default): the latest known day's index at the same time (pooled like the
        climatology); ``"day"``: the index of the whole latest known day at the viewpoint.
    method : str
        ``"linear"`` (default) or ``"hgb"``: gradient-boosted trees (sklearn
        ``HistGradientBoostingRegressor``, quantile loss, 100 shallow trees) on the same inputs
        and the time of day and the target's clear sky.

    For each requested quantile ``q`` the index ``k = y / clear`` is regressed on the index
    climatology's quantiles at 0.25, 0.5, 0.75 and the persistence (the climatology's median
    where it is missing), with an intercept, by the pinball loss at ``q`` weighted by the
    target's clear sky (so the loss is the target's, in W for PV); sklearn ``QuantileRegressor``
    (HiGHS, no penalty). Rows where the target's clear sky is below ``min_clear_sky`` or an
    input is missing are not fitted and forecast by the plain climatology; the index forecast is
    clipped to [0, the largest index among the row's samples] (the index is in the target's unit
    per W/m²). Without enough fitted rows (fewer than 50) the forecast is the climatology's
    quantile itself.
    """

    parameters = ClearSkyIndexQuantile.parameters - {"shift"} | {
        "fit_days",
        "persistence",
        "method",
    }

    parameter_kinds = {
        k: v for k, v in ClearSkyIndexQuantile.parameter_kinds.items() if k != "shift"
    } | {"fit_days": ParamKind("int", 1, 366)}

    name = "clear-sky-qr"
    description = (
        "linear quantile regression of the clear-sky index on its 21-day climatology quantiles "
        "and persistence, fitted on the last 56 viewpoints (needs the clear-sky regressor)"
    )

    #: the climatology levels that are regressors
    LEVELS = np.array([0.25, 0.5, 0.75])

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.fit_days = _fit_days(params, 56)
        self.persistence = _persistence_param(params)
        self.method = params.get("method", "linear")
        if self.method not in ("linear", "hgb"):
            raise ForecastingError(f"method={self.method!r} must be 'linear' or 'hgb'")
        self.coef_: dict[float, object] = {}
        self._train: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _inputs(self, dm: DesignMatrix) -> tuple[np.ndarray, _IndexInputs]:
        inp = _IndexInputs(self, dm)
        clim = inp.climatology(self.LEVELS)
        median = clim[:, int(np.argmin(np.abs(self.LEVELS - 0.5)))]
        pers = np.where(np.isfinite(inp.persistence), inp.persistence, median)
        if self.method == "hgb":
            return np.column_stack([clim, pers, dm.slot, inp.clear]), inp
        return np.column_stack([clim, pers]), inp

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        """Keep the recent daylight rows; the regressions are fitted per quantile on demand."""
        dm = train.subset(_recent(train, self.fit_days))
        X, inp = self._inputs(dm)
        y = dm.y if dm.y is not None else np.full(len(dm.viewpoint_us), np.nan)
        ok = inp.daylight & np.isfinite(X).all(axis=1) & np.isfinite(y)
        self._train = (X[ok], y[ok] / inp.clear[ok], inp.clear[ok])
        self.coef_ = {}

    def _coef(self, q: float) -> object:
        """The fitted regression at quantile ``q`` (None without enough rows: the climatology's
        median level is used instead)."""
        if q in self.coef_:
            return self.coef_[q]
        reg: object = None
        if self._train is not None and len(self._train[1]) >= 50:
            X, k, weight = self._train
            if self.method == "hgb":
                from sklearn.ensemble import HistGradientBoostingRegressor

                reg = HistGradientBoostingRegressor(
                    loss="quantile",
                    quantile=q,
                    max_iter=100,
                    learning_rate=0.05,
                    max_leaf_nodes=8,
                    min_samples_leaf=40,
                    random_state=0,
                )
            else:
                from sklearn.linear_model import QuantileRegressor

                reg = QuantileRegressor(quantile=q, alpha=0.0, solver="highs")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reg.fit(X, k, sample_weight=weight)  # type: ignore[attr-defined]
        self.coef_[q] = reg
        return reg

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        X, inp = self._inputs(test)
        plain = inp.plain(np.asarray(quantiles, dtype=float))
        out = np.empty((len(X), len(quantiles)))
        usable = inp.daylight & np.isfinite(X).all(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rows without samples are not usable
            top = np.nan_to_num(np.nanmax(inp.samples, axis=1))  # the largest known index
        median = X[:, int(np.argmin(np.abs(self.LEVELS - 0.5)))]
        for j, q in enumerate(quantiles):
            reg = self._coef(float(q))
            raw = median if reg is None else reg.predict(np.nan_to_num(X))  # type: ignore[attr-defined]
            k = np.clip(raw, 0.0, top)
            out[:, j] = np.where(usable, k * inp.clear, plain[:, j])
        return out
