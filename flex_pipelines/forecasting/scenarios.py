"""Scenario paths from calibrated quantile forecasts, as known at a viewpoint.

A quantile forecast gives each event a few quantiles (e.g. 0.1, 0.5, 0.9) but says nothing about
how its errors move together over the lead times; a schedule's cost depends on whole paths. The
paths here couple the steps with a Gaussian copula (Nelsen 2006, *An Introduction to Copulas*,
ch. 2; for forecast scenarios Pinson et al. 2009, "From probabilistic forecasts to statistical
scenarios of short-term wind power production", Wind Energy 12(1)):

1. each event's quantile function is the piecewise-linear interpolation of its quantiles in the
   normal-score space ``z = Φ⁻¹(p)``, extended linearly beyond the outer quantiles (a Gaussian
   forecast is reproduced exactly);
2. the normal scores follow a stationary AR(1) over the events, ``z_t = ρ z_{t−1} + √(1 − ρ²)
   ε_t``, whose lag-one correlation ``ρ`` is estimated from the normal scores of past forecast
   residuals known at the viewpoint (:func:`lead_time_correlation`);
3. a path is the quantile functions evaluated at one draw of the scores.

Everything read from the store is as known at the viewpoint (``as_of``): the forecast the
deterministic schedule uses (the same one-per-event choice), its quantiles, and the past
forecasts and measurements the correlation is estimated from. Paths are deterministic given the
seed and the sensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from scipy.special import ndtri

from flex_pipelines.beliefs.store import BeliefStore

__all__ = [
    "DEFAULT_RHO",
    "QuantileForecast",
    "ScenarioPaths",
    "lead_time_correlation",
    "quantile_forecast_from_store",
    "quantile_values",
    "sample_paths",
    "scenario_paths",
]

#: lag-one correlation of the normal scores when too few past residuals are known
DEFAULT_RHO = 0.8
#: the fewest residual pairs :func:`lead_time_correlation` estimates from
MIN_PAIRS = 30
LOOKBACK = timedelta(days=14)


@dataclass(frozen=True)
class QuantileForecast:
    """Quantiles per event: ``values[e, q]`` (sensor unit) at cumulative probability
    ``levels[q]`` (ascending) for the event starting at ``event_starts[e]`` (UTC)."""

    event_starts: np.ndarray  # datetime64[us]
    levels: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class ScenarioPaths:
    """``values[s, e]``: scenario ``s`` of the event at ``event_starts[e]`` (sensor unit);
    ``rho`` the lag-one correlation used and ``n_pairs`` how many residual pairs it came from
    (0: the default)."""

    sensor_id: int
    event_starts: np.ndarray
    values: np.ndarray
    rho: float
    n_pairs: int


def quantile_values(levels: np.ndarray, values: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Each event's quantile function at normal scores ``z``.

    Parameters
    ----------
    levels
        (Q,) cumulative probabilities, ascending, in (0, 1).
    values
        (E, Q) quantiles per event (any unit); crossing quantiles are sorted first.
    z
        (n, E) normal scores.

    Returns
    -------
    np.ndarray
        (n, E) values in the unit of ``values``: linear in ``z`` between the quantiles' scores
        ``Φ⁻¹(levels)``, extended with the outer segments' slopes; with one quantile, that
        value.
    """
    v = np.sort(np.asarray(values, dtype=float), axis=1)
    if v.shape[1] == 1:
        return np.broadcast_to(v[:, 0], z.shape).copy()
    zl = ndtri(np.asarray(levels, dtype=float))
    seg = np.clip(np.searchsorted(zl, z, side="right"), 1, zl.size - 1)  # (n, E)
    e = np.arange(v.shape[0])[None, :]
    lo_z, hi_z = zl[seg - 1], zl[seg]
    lo_v, hi_v = v[e, seg - 1], v[e, seg]
    return lo_v + (z - lo_z) * (hi_v - lo_v) / (hi_z - lo_z)


def sample_paths(
    forecast: QuantileForecast, n: int, rho: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` paths (n, E) of the forecast's events: AR(1) normal scores with lag-one
    correlation ``rho`` through each event's quantile function (:func:`quantile_values`)."""
    E = forecast.event_starts.size
    eps = rng.standard_normal((n, E))
    z = np.empty((n, E))
    if E:
        z[:, 0] = eps[:, 0]
        s = np.sqrt(1.0 - rho * rho)
        for t in range(1, E):
            z[:, t] = rho * z[:, t - 1] + s * eps[:, t]
    return quantile_values(forecast.levels, forecast.values, z)


def lead_time_correlation(scores: list[np.ndarray]) -> tuple[float, int]:
    """Lag-one correlation of normal scores within forecast issues, pooled, in [0, 0.99].

    Parameters
    ----------
    scores
        Per past forecast issue, the normal scores of its residuals at consecutive events.

    Returns
    -------
    tuple
        (ρ, number of pairs); (:data:`DEFAULT_RHO`, pairs) with fewer than :data:`MIN_PAIRS`
        pairs or no variation.
    """
    a = [s[:-1] for s in scores if s.size > 1]
    b = [s[1:] for s in scores if s.size > 1]
    n = int(sum(x.size for x in a))
    if n < MIN_PAIRS:
        return DEFAULT_RHO, n
    x, y = np.concatenate(a), np.concatenate(b)
    if x.std() == 0 or y.std() == 0:
        return DEFAULT_RHO, n
    r = float(np.corrcoef(x, y)[0, 1])
    return float(np.clip(r, 0.0, 0.99)), n


def _quantile_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of forecasts that give at least two quantiles for an event."""
    keys = ["event_start", "source_id", "belief_time"]
    n = frame.group_by(keys).agg(pl.col("cumulative_probability").n_unique().alias("nq"))
    return frame.join(n.filter(pl.col("nq") >= 2), on=keys).drop("nq")


def _to_forecast(frame: pl.DataFrame) -> QuantileForecast | None:
    if frame.is_empty():
        return None
    levels = np.sort(frame["cumulative_probability"].unique().to_numpy())
    wide = (
        frame.pivot(on="cumulative_probability", index="event_start", values="event_value")
        .sort("event_start")
        .drop_nulls()
    )
    if wide.is_empty():
        return None
    cols = [c for c in wide.columns if c != "event_start"]
    order = np.argsort([float(c) for c in cols])
    vals = wide.select(cols).to_numpy()[:, order].astype(float)
    return QuantileForecast(
        wide["event_start"].dt.replace_time_zone(None).to_numpy().astype("datetime64[us]"),
        levels,
        vals,
    )


def quantile_forecast_from_store(
    store: BeliefStore, sensor_id: int, start: datetime, end: datetime, as_of: datetime | None
) -> QuantileForecast | None:
    """The quantiles of the forecast a schedule made ``as_of`` reads for [start, end).

    Per event the belief chosen is the one the scheduler's inputs use (one per event, scheduler
    beliefs excluded); when it is a forecaster's belief with two or more quantiles at its belief
    time, those quantiles are the event's. Events whose value is measured or published, or
    forecast without quantiles, are certain and left out. None when no event has quantiles.
    """
    chosen = store.search_beliefs(
        sensor_id,
        start,
        end,
        as_of=as_of,
        one_per_event=True,
        exclude_source_types=["scheduler"],
    ).select("event_start", "source_id", "belief_time")
    if chosen.is_empty():
        return None
    quantiles = store.search_beliefs(
        sensor_id, start, end, as_of=as_of, most_recent=True, source_types=["forecaster"]
    )
    if quantiles.is_empty():
        return None
    rows = quantiles.join(chosen, on=["event_start", "source_id", "belief_time"])
    return _to_forecast(_quantile_rows(rows))


def _residual_scores(
    store: BeliefStore, sensor_id: int, as_of: datetime, lookback: timedelta
) -> list[np.ndarray]:
    """Normal scores ``(actual − median) / σ`` of past forecasts per issue (source and belief
    time), with events and measurements known ``as_of``; ``σ`` from the outer quantiles."""
    t0 = as_of - lookback
    past = store.search_beliefs(sensor_id, t0, as_of, as_of=as_of, source_types=["forecaster"])
    actual = store.search_beliefs(
        sensor_id,
        t0,
        as_of,
        as_of=as_of,
        one_per_event=True,
        exclude_source_types=["forecaster", "scheduler"],
    ).select("event_start", pl.col("event_value").alias("actual"))
    if past.is_empty() or actual.is_empty():
        return []
    past = _quantile_rows(past)
    if past.is_empty():
        return []
    keys = ["source_id", "belief_time", "event_start"]
    stats = (
        past.group_by(keys)
        .agg(
            pl.col("cumulative_probability").min().alias("p_lo"),
            pl.col("cumulative_probability").max().alias("p_hi"),
            pl.col("event_value").sort_by("cumulative_probability").first().alias("v_lo"),
            pl.col("event_value").sort_by("cumulative_probability").last().alias("v_hi"),
            pl.col("event_value")
            .sort_by((pl.col("cumulative_probability") - 0.5).abs())
            .first()
            .alias("median"),
        )
        .join(actual, on="event_start")
        .sort(keys)
    )
    zspan = ndtri(stats["p_hi"].to_numpy()) - ndtri(stats["p_lo"].to_numpy())
    sigma = (stats["v_hi"].to_numpy() - stats["v_lo"].to_numpy()) / zspan
    ok = sigma > 0
    z = np.where(
        ok,
        (stats["actual"].to_numpy() - stats["median"].to_numpy()) / np.where(ok, sigma, 1),
        np.nan,
    )
    # runs of consecutive events of one issue with a score: split where the issue changes,
    # where events are further apart than the usual step (a missing outcome) and at no score
    issue = stats.select("source_id", "belief_time").to_numpy()
    us = stats["event_start"].dt.epoch("us").to_numpy()
    gaps = np.diff(us)
    step = np.min(gaps[gaps > 0]) if (gaps > 0).any() else 0
    new = (issue[1:] != issue[:-1]).any(axis=1) | (gaps != step) | np.isnan(z[1:])
    runs = np.split(np.arange(stats.height), np.flatnonzero(new) + 1)
    return [z[r][~np.isnan(z[r])] for r in runs if (~np.isnan(z[r])).sum() > 1]


def scenario_paths(
    store: BeliefStore,
    sensor_id: int,
    start: datetime,
    end: datetime,
    as_of: datetime,
    n: int,
    seed: int = 0,
    lookback: timedelta = LOOKBACK,
    *,
    nonnegative: bool = False,
) -> ScenarioPaths | None:
    """``n`` scenario paths of a sensor's events in [start, end) as known ``as_of`` (the module
    docstring), or None when no event there has a quantile forecast.

    Parameters
    ----------
    store
        The belief store.
    sensor_id
        The sensor (prices, inflexible load or PV); values in its unit.
    start, end
        The window (tz-aware).
    as_of
        The viewpoint: nothing believed later is read.
    n
        How many paths.
    seed
        With the sensor id, the seed of the draws (same inputs, same paths).
    lookback
        How far back past forecasts and measurements are read for the correlation.
    nonnegative
        A quantity that cannot go below zero (PV, a load): when every quantile is ≥ 0, paths
        are cut at 0 where the tail extension would cross it.
    """
    forecast = quantile_forecast_from_store(store, sensor_id, start, end, as_of)
    if forecast is None:
        return None
    rho, pairs = lead_time_correlation(_residual_scores(store, sensor_id, as_of, lookback))
    rng = np.random.default_rng([int(seed), int(sensor_id)])
    values = sample_paths(forecast, n, rho, rng)
    if nonnegative and forecast.values.min() >= 0:
        values = np.maximum(values, 0.0)
    return ScenarioPaths(sensor_id, forecast.event_starts, values, rho, pairs)
