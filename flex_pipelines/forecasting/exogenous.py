"""Regressor (exogenous) features, each value as believed at its sample's own viewpoint.

- :func:`regressor_at_event`: the regressor's value for the target event (an as-of join on the
  regressor's belief times; what the non-linear models use);
- :func:`regressor_profiles`: the whole local day's profile of a regressor for the target's
  delivery day ``D`` and for ``D-1``, ``D-7`` (``offsets``), every slot as believed at the
  viewpoint. These are the exogenous inputs of LEAR in Lago, Marcjasz, De Schutter & Weron
  (2021), *Forecasting day-ahead electricity prices: a review of state-of-the-art algorithms,
  best practices and an open-access benchmark*, Applied Energy 293:116983, eq. (4) and the
  epftoolbox implementation: the 24 hourly day-ahead load and generation forecasts of ``D``,
  ``D-1`` and ``D-7``;
- :func:`degree_days`: heating and cooling degree terms of a temperature regressor,
  ``HDD = max(0, 15.5 − T)`` and ``CDD = max(0, T − 22)`` (°C): the piecewise-linear
  temperature response of electricity demand (Valor, Meneu & Caselles 2001, *Daily air
  temperature and electricity load in Spain*, J. Appl. Meteorol. 40:1413; 15.5 °C is the UK
  heating base temperature, 22 °C a common cooling base).

Every lookup is an as-of join on ``belief_time <= viewpoint`` per sample, so a training sample
of an earlier viewpoint sees only the vintages known then, and a value believed after the
cycle's viewpoint never reaches a feature (the cycle cuts the regressor first).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flex_pipelines.forecasting.grid import Grid
from flex_pipelines.forecasting.history import SeriesHistory

__all__ = ["regressor_at_event", "regressor_profiles", "degree_days", "is_temperature"]

HDD_BASE_C = 15.5
CDD_BASE_C = 22.0


def _asof(reg: SeriesHistory, event_us: np.ndarray, vp_us: np.ndarray) -> np.ndarray:
    """Value of ``reg`` for each event time (µs) as believed at each viewpoint (µs); NaN if none."""
    step = int(reg.resolution.total_seconds() * 1_000_000)
    rf = reg.frame.filter(pl.col("event_value").is_not_null())
    if rf.height == 0 or len(event_us) == 0:
        return np.full(len(event_us), np.nan)
    if "cumulative_probability" in rf.columns:  # the median of probabilistic regressors
        rf = rf.filter(
            (pl.col("cumulative_probability") - 0.5).abs()
            == (pl.col("cumulative_probability") - 0.5).abs().min().over("event_start")
        )
    anchor = int(rf["event_start"].dt.epoch("us")[0])
    ok = event_us >= 0
    key = np.where(ok, event_us - ((event_us - anchor) % step), -1)
    left = pl.DataFrame(
        {"row": np.arange(len(event_us)), "key": key, "vp": vp_us.astype(np.int64)}
    ).sort("vp")
    right = rf.select(
        pl.col("event_start").dt.epoch("us").alias("key"),
        pl.col("belief_time").dt.epoch("us").alias("vp"),
        pl.col("event_value"),
    ).sort("vp")
    joined = left.join_asof(
        right, on="vp", by="key", strategy="backward", check_sortedness=False
    ).sort("row")
    return joined["event_value"].fill_null(np.nan).to_numpy().copy()


def regressor_at_event(reg: SeriesHistory, event_us: np.ndarray, vp_us: np.ndarray) -> np.ndarray:
    """The regressor's value for each target event (µs) as believed at each viewpoint (µs).

    Parameters
    ----------
    reg : SeriesHistory
        The regressor's beliefs (already cut at the cycle's viewpoint), in its own unit.
    event_us, vp_us : numpy.ndarray
        Event start and viewpoint of each sample, µs since the UNIX epoch (UTC).

    Returns
    -------
    numpy.ndarray
        One value per sample in the regressor's unit (NaN where nothing was believed yet).
    """
    return _asof(reg, event_us, vp_us)


def regressor_profiles(
    reg: SeriesHistory,
    grid: Grid,
    idx: np.ndarray,
    vp_us: np.ndarray,
    offsets: tuple[int, ...],
) -> tuple[np.ndarray, list[str]]:
    """Whole-day profiles of a regressor for each sample's local delivery day ``D`` and ``D-k``.

    Parameters
    ----------
    reg : SeriesHistory
        The regressor (already cut at the cycle's viewpoint), in its own unit.
    grid : Grid
        The target's grid: its time zone and resolution define the local day and its slots.
    idx, vp_us : numpy.ndarray
        Grid index of each sample's target event and its viewpoint (µs, UTC).
    offsets : tuple of int
        Days before the delivery day: ``0`` is ``D`` itself, ``1`` is ``D-1``, ``7`` is ``D-7``.

    Returns
    -------
    (numpy.ndarray, list of str)
        A matrix of ``len(idx)`` rows and ``len(offsets) * slots_per_day`` columns (regressor
        unit; the value of slot ``s`` of day ``D-k`` as believed at the row's viewpoint), and
        the column names ``regprof_<name>_d<k>_s<s>``. A slot a 23-hour day lacks is
        interpolated from its neighbours; a day with fewer than half its slots known stays NaN.
    """
    s = grid.slots_per_day
    names = [f"regprof_{reg.name}_d{k}_s{j}" for k in offsets for j in range(s)]
    if len(idx) == 0:
        return np.empty((0, len(names))), names
    day = grid.local_date.gather(idx).cast(pl.Int32).to_numpy().astype(np.int64)
    pairs, inverse = np.unique(np.column_stack([vp_us, day]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_pairs = len(pairs)
    step_min = grid.step_us // 60_000_000
    # local wall-clock time of every (pair, offset, slot), then UTC in the target's zone
    pair_day = np.repeat(pairs[:, 1], len(offsets) * s)
    off = np.tile(np.repeat(np.asarray(offsets, dtype=np.int64), s), n_pairs)
    slot = np.tile(np.arange(s, dtype=np.int64), n_pairs * len(offsets))
    local_naive_us = (pair_day - off) * 86_400_000_000 + slot * step_min * 60_000_000
    utc = (
        pl.Series("t", local_naive_us)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(grid.timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.epoch("us")
    )
    event_us = utc.fill_null(-1).to_numpy().astype(np.int64)
    vals = _asof(reg, event_us, np.repeat(pairs[:, 0], len(offsets) * s))
    vals[event_us < 0] = np.nan
    block = vals.reshape(n_pairs * len(offsets), s)
    good = ~np.isnan(block)
    count = good.sum(axis=1)
    for r in np.flatnonzero((count >= s / 2) & (count < s)):
        block[r] = np.interp(np.arange(s), np.flatnonzero(good[r]), block[r, good[r]])
    block[count < s / 2] = np.nan
    per_pair = block.reshape(n_pairs, len(offsets) * s)
    return per_pair[inverse], names


def is_temperature(unit: str) -> bool:
    """True for a temperature unit (°C, K, °F)."""
    from flex_pipelines.units import UnitError, _unit

    try:
        return str(_unit(unit).dimensionality) == "[temperature]"
    except UnitError:
        return False


def degree_days(temperature: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Heating and cooling degree terms of temperatures.

    Parameters
    ----------
    temperature : numpy.ndarray
        Temperatures in ``unit`` (°C, K or °F).
    unit : str
        Their unit.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``max(0, 15.5 − T)`` and ``max(0, T − 22)`` in K (= °C differences); NaN stays NaN.
    """
    from flex_pipelines.units import convert

    t_c = np.asarray(convert(np.asarray(temperature, dtype=float), unit, "degC"), dtype=float)
    with np.errstate(invalid="ignore"):
        return np.maximum(HDD_BASE_C - t_c, 0.0), np.maximum(t_c - CDD_BASE_C, 0.0)
