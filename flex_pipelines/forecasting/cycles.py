"""Fixed-viewpoint forecasting cycles, as in FlexMeasures.

From each viewpoint ``v`` (``start``, ``start + frequency``, … before ``end``) predict the events
starting in ``[v + min_horizon, v + max_horizon)``. A model is trained on the samples of earlier
viewpoints within ``train_period`` and retrained every ``retrain_every`` cycles. Every cycle starts
by cutting all inputs at its viewpoint with :func:`~flex_pipelines.forecasting.history.known_at`;
nothing after that sees the uncut inputs.

The result is a belief frame (:data:`~flex_pipelines.beliefs.model.BELIEF_SCHEMA`):
``belief_time`` is the viewpoint, ``cumulative_probability`` the quantile (0.5 for the median).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from flex_pipelines.beliefs.model import BELIEF_SCHEMA
from flex_pipelines.forecasting.errors import (
    AllNaNTargetError,
    ForecastingError,
    InsufficientHistoryError,
    UnsupportedUnitError,
)
from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec, build_design
from flex_pipelines.forecasting.grid import Grid, build_grid, to_us
from flex_pipelines.forecasting.history import SeriesHistory, known_at
from flex_pipelines.forecasting.models.base import (
    FitContext,
    ForecastModel,
    get_model,
    sort_quantiles,
)
from flex_pipelines.time import Duration, add_duration, format_duration, get_zone

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

    def __post_init__(self) -> None:
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


def _step(v: datetime, frequency: timedelta, k: int, timezone: str) -> datetime:
    """``v + k * frequency``; whole days step on the local wall clock (12:00 stays 12:00)."""
    if frequency % timedelta(days=1) == timedelta(0):
        local = v.astimezone(get_zone(timezone))
        return add_duration(local, Duration(days=k * (frequency // timedelta(days=1)))).astimezone(
            UTC
        )
    return (v + k * frequency).astimezone(UTC)


def viewpoints(
    start: datetime, end: datetime, frequency: timedelta, timezone: str = "UTC"
) -> list[datetime]:
    """Viewpoints ``start + k * frequency`` before ``end`` (UTC).

    A frequency of whole days steps on the local clock of ``timezone``, so a daily 12:00
    viewpoint stays at 12:00 local time across DST changes.
    """
    out, k = [], 0
    v = start.astimezone(UTC)
    while v < end:
        out.append(v)
        k += 1
        v = _step(start, frequency, k, timezone)
    return out


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


def _samples(grid: Grid, vps_us: np.ndarray, cfg: CycleConfig) -> tuple[np.ndarray, np.ndarray]:
    """(grid index, viewpoint) of every target event of each viewpoint."""
    lo_us = int(cfg.min_horizon.total_seconds() * 1e6)
    hi_us = int(cfg.max_horizon.total_seconds() * 1e6)
    idx, vp = [], []
    for v in vps_us:
        i0 = max(0, -(-(int(v) + lo_us - grid.start_us) // grid.step_us))
        i1 = min(grid.n, -(-(int(v) + hi_us - grid.start_us) // grid.step_us))
        if i1 > i0:
            idx.append(np.arange(i0, i1))
            vp.append(np.full(i1 - i0, v, dtype=np.int64))
    if not idx:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(idx), np.concatenate(vp)


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
            [to_us(_step(v, cfg.frequency, -k, target.timezone)) for k in range(1, n_past + 1)],
            dtype=np.int64,
        )
        tidx, tvp = _samples(grid, past, cfg)
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
    pidx, pvp = _samples(grid, np.array([v_us]), cfg)
    test: DesignMatrix = build_design(grid, pidx, pvp, spec, regs, with_target=False)
    pred = sort_quantiles(state.model.predict(test, ctx, cfg.quantiles))
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
) -> pl.DataFrame:
    """Forecast ``target`` from every viewpoint in [start, end); returns a belief frame.

    ``model`` is a registry name, a model class or an (unfitted) instance used as a template.
    ``progress(done, total)`` is called after each cycle.
    """
    cfg = config or CycleConfig()
    if start.tzinfo is None or end.tzinfo is None:
        raise ForecastingError(
            f"forecast window {start.isoformat()} to {end.isoformat()} needs UTC offsets"
        )
    factory = _factory(model, cfg)
    _check_unit(factory(), target)
    vps = viewpoints(start, end, cfg.frequency, target.timezone)
    if not vps:
        raise ForecastingError(
            f"forecast window {start.isoformat()} to {end.isoformat()} holds no viewpoint"
        )
    state = _CycleState()
    frames = []
    # the problems are small: BLAS/OpenMP threads only add contention (HGB slowed 100× on a
    # busy 2-core machine); parallelise over sensors or viewpoints instead
    with threadpool_limits(limits=1):
        for k, v in enumerate(vps):
            ev_us, pred = _one_cycle(factory, state, target, regressors, v, cfg)
            frames.append(_belief_frame(ev_us, to_us(v), pred, cfg.quantiles, sensor_id, source_id))
            if progress:
                progress(k + 1, len(vps))
    return pl.concat(frames) if frames else pl.DataFrame(schema=BELIEF_SCHEMA)


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
