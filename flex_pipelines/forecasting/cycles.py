"""Fixed-viewpoint forecasting cycles, as in FlexMeasures.

From each viewpoint ``v`` (``start``, ``start + frequency``, … before ``end``) predict the events
starting in ``[v + min_horizon, v + max_horizon)``. A model is trained on the samples of earlier
viewpoints within ``train_period`` and retrained every ``retrain_every`` cycles. Every cycle starts
by cutting all inputs at its viewpoint with :func:`~flex_pipelines.forecasting.history.known_at`;
nothing after that sees the uncut inputs.

With ``local_days`` set, each viewpoint forecasts whole local delivery days instead of a fixed
horizon window: the ``local_days`` days starting ``days_ahead`` days after the viewpoint's local
date (in ``day_timezone``, by default the target's), so a clock-change day has its 23 or 25 hours
(92 or 100 quarter hours), no more and no less.

Quantiles other than the median are calibrated by rolling conformal prediction on the model's own
past out-of-sample residuals (:mod:`~flex_pipelines.forecasting.calibration`; ``calibration=
"none"`` keeps the model's own quantiles). The residuals come from ``past_forecasts`` (the same
model's earlier forecasts, e.g. from the store) and from warm-up cycles over the
``calibration_window`` before ``start`` that are not covered by them (not returned).

The result is a belief frame (:data:`~flex_pipelines.beliefs.model.BELIEF_SCHEMA`):
``belief_time`` is the viewpoint, ``cumulative_probability`` the quantile (0.5 for the median).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from flex_pipelines.beliefs.model import BELIEF_SCHEMA
from flex_pipelines.forecasting.calibration import conformal_quantiles
from flex_pipelines.forecasting.errors import (
    AllNaNTargetError,
    ForecastingError,
    InsufficientHistoryError,
    UnsupportedUnitError,
)
from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec, build_design
from flex_pipelines.forecasting.grid import build_grid, to_us
from flex_pipelines.forecasting.history import SeriesHistory, known_at
from flex_pipelines.forecasting.models.base import (
    FitContext,
    ForecastModel,
    get_model,
    sort_quantiles,
)
from flex_pipelines.forecasting.models.mean import ModelMean
from flex_pipelines.forecasting.windows import samples, step_viewpoint, viewpoints
from flex_pipelines.time import format_duration

__all__ = ["CycleConfig", "forecast_cycles", "viewpoints"]


@dataclass(frozen=True)
class CycleConfig:
    """How to forecast: horizons, viewpoint frequency, training window, retraining, quantiles."""

    max_horizon: timedelta = timedelta(hours=48)
    min_horizon: timedelta = timedelta(0)
    frequency: timedelta = timedelta(days=1)
    train_period: timedelta = timedelta(days=90)
    retrain_every: int = 1
    quantiles: tuple[float, ...] = (0.5,)
    holiday_country: str | None = None
    model_params: dict[str, object] = field(default_factory=dict)
    #: "conformal" (quantiles from the model's own past residuals) or "none" (the model's own)
    calibration: str = "conformal"
    calibration_window: timedelta = timedelta(days=56)
    #: step of the adaptive conformal level update (0: plain rolling conformal); 0.002 with a
    #: 56-day window kept the 10–90 % band's coverage within 0.79–0.81 on the validation year of
    #: every bundled market (bench/forecasting_selection.py)
    calibration_gamma: float = 0.002
    #: forecast whole local days (the next ``local_days`` days from ``days_ahead`` days after the
    #: viewpoint's local date) instead of the window [min_horizon, max_horizon)
    local_days: int | None = None
    days_ahead: int = 1
    day_timezone: str | None = None

    def __post_init__(self) -> None:
        if self.calibration not in ("conformal", "none"):
            raise ForecastingError(
                f"calibration {self.calibration!r} is not one of conformal, none"
            )
        if self.local_days is not None:
            if self.local_days < 1 or self.days_ahead < 0:
                raise ForecastingError(
                    f"local days {self.local_days} from {self.days_ahead} days ahead: need at "
                    "least one day, not before the viewpoint's own day"
                )
            # lags, history checks and grids reach this far (one extra hour: a 25-hour day)
            reach = timedelta(days=self.days_ahead + self.local_days, hours=1)
            object.__setattr__(self, "max_horizon", reach)
            object.__setattr__(self, "min_horizon", timedelta(0))
        if self.max_horizon <= self.min_horizon:
            raise ForecastingError(
                f"max-forecast-horizon {format_duration(self.max_horizon)} must exceed the "
                f"min horizon {format_duration(self.min_horizon)}"
            )
        if self.frequency <= timedelta(0):
            raise ForecastingError(
                f"forecast frequency {format_duration(self.frequency)} must be positive"
            )
        if self.retrain_every < 1:
            raise ForecastingError(f"retrain-every {self.retrain_every} must be at least 1")
        bad = [q for q in self.quantiles if not 0.0 < q < 1.0]
        if bad or not self.quantiles:
            raise ForecastingError(
                f"quantiles {list(self.quantiles)} must be probabilities strictly between 0 and 1"
            )
        object.__setattr__(self, "quantiles", tuple(sorted(set(self.quantiles))))


def _check_unit(model: ForecastModel, target: SeriesHistory) -> None:
    if not model.supports_unit(target.unit):
        raise UnsupportedUnitError(
            f"model {model.name!r} cannot forecast sensor {target.name!r} with unit "
            f"{target.unit!r}: it forecasts {model.unit_hint()}"
        )


def _check_history(
    model: ForecastModel, spec: FeatureSpec, known: SeriesHistory, v: datetime, cfg: CycleConfig
) -> None:
    needed = spec.lookback(cfg.max_horizon) + cfg.frequency + model.min_extra_history
    needed = max(needed, cfg.max_horizon + cfg.frequency)
    values = known.frame.filter(pl.col("event_value").is_not_null())
    if values.height == 0:
        raise InsufficientHistoryError(
            f"sensor {known.name!r}: forecasting at {v.isoformat()} up to "
            f"{format_duration(cfg.max_horizon)} with model {model.name!r} needs at least "
            f"{format_duration(needed)} of history known at that time; there is none"
        )
    first = values["event_start"].min()
    have = v - first  # type: ignore[operator]
    if have < needed:
        raise InsufficientHistoryError(
            f"sensor {known.name!r}: forecasting at {v.isoformat()} up to "
            f"{format_duration(cfg.max_horizon)} with model {model.name!r} (lags reaching "
            f"{format_duration(spec.lookback(cfg.max_horizon))} back) needs at least "
            f"{format_duration(needed)} of history known at that time; there is only "
            f"{format_duration(have)} (from {first.isoformat()})"  # type: ignore[union-attr]
        )


@dataclass
class _CycleState:
    model: ForecastModel | None = None
    cycles_since_fit: int = 0


def _one_cycle(
    model_factory: Callable[[], ForecastModel],
    state: _CycleState,
    target: SeriesHistory,
    regressors: Sequence[SeriesHistory],
    v: datetime,
    cfg: CycleConfig,
    quantiles: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    # --- the as-of cut: from here on, only beliefs known at v exist ---------------------
    known = known_at(target, v)
    regs = [known_at(r, v) for r in regressors]
    probe = state.model or model_factory()
    spec = probe.feature_spec(cfg.holiday_country)
    _check_history(probe, spec, known, v, cfg)
    v_us = to_us(v)
    lookback = spec.lookback(cfg.max_horizon)
    grid = build_grid(known, v - cfg.train_period - lookback, v + cfg.max_horizon)
    ctx = FitContext(grid=grid, viewpoint_us=v_us, unit=target.unit, train_period=cfg.train_period)
    retrain = state.model is None or state.cycles_since_fit >= cfg.retrain_every
    if retrain:
        n_past = int(cfg.train_period / cfg.frequency)
        past = np.array(
            [
                to_us(step_viewpoint(v, cfg.frequency, -k, target.timezone))
                for k in range(1, n_past + 1)
            ],
            dtype=np.int64,
        )
        tidx, tvp = samples(grid, past, cfg)
        keep = ~np.isnan(grid.values[tidx])
        if not keep.any():
            raise AllNaNTargetError(
                f"sensor {target.name!r}: every training target in "
                f"{(v - cfg.train_period).isoformat()} to {v.isoformat()} is missing (NaN); "
                "nothing to train on"
            )
        train = build_design(grid, tidx[keep], tvp[keep], spec, regs)
        model = model_factory()
        model.fit(train, ctx)
        state.model, state.cycles_since_fit = model, 0
    assert state.model is not None
    pidx, pvp = samples(grid, np.array([v_us]), cfg)
    test: DesignMatrix = build_design(grid, pidx, pvp, spec, regs, with_target=False)
    pred = sort_quantiles(state.model.predict(test, ctx, quantiles))
    state.cycles_since_fit += 1
    return test.event_us, pred


def forecast_cycles(
    model: str | type[ForecastModel] | ForecastModel,
    target: SeriesHistory,
    start: datetime,
    end: datetime,
    config: CycleConfig | None = None,
    *,
    regressors: Sequence[SeriesHistory] = (),
    sensor_id: int = 0,
    source_id: int = 0,
    progress: Callable[[int, int], None] | None = None,
    past_forecasts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Forecast ``target`` from every viewpoint in [start, end); returns a belief frame.

    Parameters
    ----------
    model : str, ForecastModel subclass or instance
        A registry name, a model class or an (unfitted) instance used as a template.
    target : SeriesHistory
        The series to forecast, every belief with its belief time (cut per viewpoint here).
    start, end : datetime
        Viewpoints ``start + k * frequency`` before ``end`` (tz-aware).
    config : CycleConfig
        Horizons or local days, training window, retraining, quantiles, calibration.
    regressors : sequence of SeriesHistory
        Exogenous series, each read as believed at each sample's viewpoint.
    sensor_id, source_id : int
        Written into the belief frame.
    progress : callable, optional
        ``progress(done, total)`` after each cycle (warm-up cycles included).
    past_forecasts : polars.DataFrame, optional
        This model's earlier median forecasts (belief frame) to calibrate quantiles on.

    Returns
    -------
    polars.DataFrame
        Beliefs in the target's unit: one row per event, viewpoint and quantile.
    """
    cfg = config or CycleConfig()
    if start.tzinfo is None or end.tzinfo is None:
        raise ForecastingError(
            f"forecast window {start.isoformat()} to {end.isoformat()} needs UTC offsets"
        )
    template = _factory(model, cfg)()
    # the averaged models of a "mean", else the model alone: each fitted on its own features
    members = template.members if isinstance(template, ModelMean) else [template]
    for member in members:
        _check_unit(member, target)  # names the member that cannot forecast the unit
    factories = [_factory(m, cfg) for m in members]  # fresh copies of each, per state
    vps = viewpoints(start, end, cfg.frequency, target.timezone)
    if not vps:
        raise ForecastingError(
            f"forecast window {start.isoformat()} to {end.isoformat()} holds no viewpoint"
        )
    calibrate = cfg.calibration == "conformal" and any(q != 0.5 for q in cfg.quantiles)
    past = _past_medians(past_forecasts, vps[0]) if calibrate else None
    warm: list[datetime] = []
    if calibrate:
        done = set(past["belief_time"].to_list()) if past is not None else set()
        first = vps[0] - cfg.calibration_window
        warm = viewpoints(first, vps[0], cfg.frequency, target.timezone)
        warm = [w for w in warm if w not in done]
    model_q = (0.5,) if calibrate else cfg.quantiles
    frames = []
    total = len(warm) + len(vps)
    # the problems are small: BLAS/OpenMP threads only add contention (HGB slowed 100× on a
    # busy 2-core machine); parallelise over sensors or viewpoints instead
    with threadpool_limits(limits=1):
        # warm-up: out-of-sample medians to calibrate the first viewpoints' quantiles (weekly
        # retraining; a warm-up viewpoint without enough history is skipped)
        wstates = [_CycleState() for _ in factories]
        wcfg = replace(cfg, retrain_every=max(cfg.retrain_every, 7))
        for k, v in enumerate(warm):
            try:
                ev_us, pred = _mean_cycle(factories, wstates, target, regressors, v, wcfg, model_q)
            except ForecastingError:  # too little history or regressor data that early
                continue
            frames.append(_belief_frame(ev_us, to_us(v), pred, model_q, sensor_id, source_id))
            if progress:
                progress(k + 1, total)
        states = [_CycleState() for _ in factories]
        for k, v in enumerate(vps):
            ev_us, pred = _mean_cycle(factories, states, target, regressors, v, cfg, model_q)
            frames.append(_belief_frame(ev_us, to_us(v), pred, model_q, sensor_id, source_id))
            if progress:
                progress(len(warm) + k + 1, total)
    out = pl.concat(frames) if frames else pl.DataFrame(schema=BELIEF_SCHEMA)
    if not calibrate:
        return out
    if past is not None:
        ids = [pl.lit(source_id).alias("source_id"), pl.lit(sensor_id).alias("sensor_id")]
        out = pl.concat([past.with_columns(ids).select(out.columns), out], how="vertical_relaxed")
    return conformal_quantiles(
        out,
        target,
        cfg.quantiles,
        start=vps[0],
        window=cfg.calibration_window,
        gamma=cfg.calibration_gamma,
    )


def _mean_cycle(
    factories: Sequence[Callable[[], ForecastModel]],
    states: Sequence[_CycleState],
    target: SeriesHistory,
    regressors: Sequence[SeriesHistory],
    v: datetime,
    cfg: CycleConfig,
    quantiles: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """One cycle of each model; their predictions averaged per event and quantile level."""
    outs = [
        _one_cycle(f, s, target, regressors, v, cfg, quantiles)
        for f, s in zip(factories, states, strict=True)
    ]
    if len(outs) == 1:
        return outs[0]
    events = outs[0][0]
    if any(not np.array_equal(e, events) for e, _ in outs[1:]):
        raise ForecastingError(f"the averaged models forecast different events at {v.isoformat()}")
    return events, sort_quantiles(np.mean([p for _, p in outs], axis=0))


def _past_medians(past: pl.DataFrame | None, first_vp: datetime) -> pl.DataFrame | None:
    """The median rows of earlier forecasts made before the first viewpoint."""
    if past is None or past.height == 0:
        return None
    f = past.filter(
        (pl.col("cumulative_probability") == 0.5)
        & (pl.col("belief_time").dt.convert_time_zone("UTC") < first_vp.astimezone(UTC))
    ).select([pl.col(c).cast(t) for c, t in BELIEF_SCHEMA.items()])
    return f if f.height else None


def _factory(
    model: str | type[ForecastModel] | ForecastModel, cfg: CycleConfig
) -> Callable[[], ForecastModel]:
    if isinstance(model, str):
        return lambda: get_model(model, **cfg.model_params)
    if isinstance(model, ForecastModel):
        cls, params = type(model), dict(model.params)
        return lambda: cls(**params)
    return lambda: model(**cfg.model_params)


def _belief_frame(
    event_us: np.ndarray,
    vp_us: int,
    pred: np.ndarray,
    quantiles: Sequence[float],
    sensor_id: int,
    source_id: int,
) -> pl.DataFrame:
    n, q = pred.shape
    ev = np.tile(event_us, q)
    probs = np.repeat(np.asarray(quantiles, dtype=float), n)
    vals = pred.T.reshape(-1)
    df = pl.DataFrame(
        {
            "sensor_id": np.full(n * q, sensor_id, dtype=np.int64),
            "event_start": pl.Series(ev).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "belief_time": pl.Series(np.full(n * q, vp_us, dtype=np.int64))
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC"),
            "source_id": np.full(n * q, source_id, dtype=np.int64),
            "cumulative_probability": probs,
            "event_value": vals,
        }
    )
    return df.select([pl.col(c).cast(t) for c, t in BELIEF_SCHEMA.items()]).sort(
        ["event_start", "cumulative_probability"]
    )
