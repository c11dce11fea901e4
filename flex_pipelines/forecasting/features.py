"""Feature matrices for (viewpoint, target event) pairs, from data known at each viewpoint.

For a sample (viewpoint ``v``, target event ``t``) every lag only uses values whose knowledge
time is ``<= v``:

- ``lag_day_n``: the value at the same local time on the n-th most recent day before ``t``'s day
  that was known at ``v`` (for a day-ahead price forecast made at 12:00 that is d-1, d-2…; for the
  second day of a 48-hour forecast it skips the unknown day);
- ``lag_week_n``: the same local time of week, n-th most recent known week;
- ``prof_dN_sK`` / ``prof_wN_sK``: the whole day profile (every slot K) of the n-th most recent
  fully known day / week-ago day: the cross-hour inputs of LEAR (Lago et al. 2021);
- ``last_value`` and ``last_age_h``: the latest known value and how old it is at ``v``;
- calendar of ``t`` in the series' timezone (time of day, day of week, holidays; day of year
  only with ``season=True``);
- ``horizon_h``: hours from ``v`` to ``t``;
- per regressor (:mod:`~flex_pipelines.forecasting.exogenous`): its value for ``t`` as believed
  at ``v`` (``reg_<name>``, an as-of join), and with ``regressor_profiles`` the whole local day
  profile of the delivery day ``D`` of ``t`` and of ``D-k`` (``regprof_<name>_d<k>_s<slot>``, the
  exogenous inputs of LEAR), or with ``regressor_day_mean`` its mean over ``D``
  (``regmean_<name>``); with ``regressor_daily_lags`` its value at the events of the target's
  daily lags (``reglag_<name>_day_<n>``, e.g. the clear-sky irradiance of the past days whose
  PV a clear-sky-index model normalises); for a temperature regressor with ``degree_days``
  also its heating and cooling degree terms at ``t`` (``hdd_<name>``, ``cdd_<name>``).

Columns in the target's unit are flagged (``target_like``) so models can transform them together
with the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from flex_pipelines.forecasting.errors import MissingRegressorError
from flex_pipelines.forecasting.exogenous import (
    degree_days,
    is_temperature,
    regressor_at_event,
    regressor_profiles,
)
from flex_pipelines.forecasting.grid import Grid, from_us
from flex_pipelines.forecasting.history import SeriesHistory

__all__ = ["FeatureSpec", "DesignMatrix", "build_design"]


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model gets (see the module docstring for their meaning)."""

    daily_lags: tuple[int, ...] = (1, 2)
    weekly_lags: tuple[int, ...] = (1,)
    profile_days: tuple[int, ...] = ()
    profile_weeks: tuple[int, ...] = ()
    last_value: bool = False
    horizon: bool = True
    calendar: bool = True
    dow_only: bool = False
    #: day-of-year sin/cos: only useful with more than a year of training data; with a short
    #: window a linear model reads it as a trend and extrapolates it (off by default)
    season: bool = False
    holiday_country: str | None = None
    #: each regressor's value at the target event (as believed at the viewpoint)
    regressor_at_event: bool = True
    #: each regressor's whole-day profile of the delivery day D and of D-k for these k
    regressor_profiles: tuple[int, ...] = ()
    #: each regressor's mean over the delivery day D (``regmean_<name>``)
    regressor_day_mean: bool = False
    #: heating/cooling degree terms of temperature regressors
    degree_days: bool = False
    #: each regressor's value at the events of the target's daily lags (``reglag_<name>_day_<n>``)
    regressor_daily_lags: bool = False

    def lookback(self, max_horizon: timedelta) -> timedelta:
        """How much history before a viewpoint the deepest lag reaches (for the history check)."""
        h_days = int(np.ceil(max_horizon / timedelta(days=1)))
        days = max(
            [0]
            + [n + h_days for n in self.daily_lags + self.profile_days]
            + [7 * n + h_days for n in self.weekly_lags + self.profile_weeks]
        )
        return timedelta(days=days)


@dataclass
class DesignMatrix:
    """Features ``X`` (n × p), optional target ``y``, and per-row bookkeeping."""

    X: np.ndarray
    columns: list[str]
    target_like: np.ndarray
    slot: np.ndarray
    horizon_h: np.ndarray
    event_us: np.ndarray
    viewpoint_us: np.ndarray
    grid_index: np.ndarray
    y: np.ndarray | None = None
    meta: dict[str, object] = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        return self.X[:, self.columns.index(name)]

    def subset(self, mask: np.ndarray) -> DesignMatrix:
        return DesignMatrix(
            X=self.X[mask],
            columns=self.columns,
            target_like=self.target_like,
            slot=self.slot[mask],
            horizon_h=self.horizon_h[mask],
            event_us=self.event_us[mask],
            viewpoint_us=self.viewpoint_us[mask],
            grid_index=self.grid_index[mask],
            y=None if self.y is None else self.y[mask],
            meta=self.meta,
        )


def _nth_known_back(
    grid: Grid, idx: np.ndarray, vp: np.ndarray, n: int, step_days: int, max_steps: int
) -> np.ndarray:
    """Grid index of the same local time, ``step_days`` apart, n-th most recent known at ``vp``
    (-1 where there is none)."""
    out = np.full(len(idx), -1, dtype=np.int64)
    count = np.zeros(len(idx), dtype=np.int64)
    j = idx.copy()
    for _ in range(max_steps):
        j = grid.back(j, step_days)
        valid = j >= 0
        jj = np.maximum(j, 0)
        known = valid & (grid.known_us[jj] <= vp)
        count += known
        hit = known & (count == n) & (out < 0)
        out[hit] = jj[hit]
        if not valid.any():
            break
    return out


def _at(grid: Grid, j: np.ndarray) -> np.ndarray:
    """Grid values at indices ``j`` (NaN where ``j`` is -1)."""
    return np.where(j >= 0, grid.values[np.maximum(j, 0)], np.nan)


def _day_profiles(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(days × slots) matrix of values and each day's knowledge time (NEVER if too incomplete)."""
    s = grid.slots_per_day
    n_days = int(grid.local_day.max()) + 1 if grid.n else 0
    total = np.zeros((n_days, s))
    cnt = np.zeros((n_days, s))
    ok = ~np.isnan(grid.values)
    slot = np.minimum(grid.slot, s - 1)
    np.add.at(total, (grid.local_day[ok], slot[ok]), grid.values[ok])
    np.add.at(cnt, (grid.local_day[ok], slot[ok]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = total / cnt
    day_known = np.full(n_days, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(day_known, grid.local_day[ok], grid.known_us[ok])
    # a day counts only when (nearly) complete: the skipped DST hour or a short gap is filled,
    # but a day known only up to the viewpoint is not a "known day"
    complete = (cnt > 0).sum(axis=1) >= s - max(1, s // 12)
    day_known[~complete] = np.iinfo(np.int64).max
    # fill the few missing slots of usable days (the skipped hour of a DST day, small gaps)
    for d in np.flatnonzero(complete & np.isnan(prof).any(axis=1)):
        row = prof[d]
        good = ~np.isnan(row)
        prof[d] = np.interp(np.arange(s), np.flatnonzero(good), row[good])
    return prof, day_known


def _profile_features(
    grid: Grid, idx: np.ndarray, vp: np.ndarray, n: int, weekly: bool, max_steps: int
) -> np.ndarray:
    cached = getattr(grid, "_profiles", None)
    if cached is None:
        cached = _day_profiles(grid)
        grid._profiles = cached  # type: ignore[attr-defined]
    prof, day_known = cached
    target_day = grid.local_day[idx]
    out = np.full((len(idx), prof.shape[1]), np.nan)
    chosen = np.full(len(idx), -1)
    count = np.zeros(len(idx), dtype=np.int64)
    step = 7 if weekly else 1
    for k in range(1, max_steps + 1):
        d = target_day - step * k
        valid = d >= 0
        dd = np.maximum(d, 0)
        known = valid & (day_known[dd] <= vp)
        count += known
        hit = known & (count == n) & (chosen < 0)
        chosen[hit] = dd[hit]
    has = chosen >= 0
    out[has] = prof[chosen[has]]
    return out


def _calendar(grid: Grid, idx: np.ndarray, spec: FeatureSpec) -> tuple[list[np.ndarray], list[str]]:
    cols: list[np.ndarray] = []
    names: list[str] = []
    if not spec.dow_only:
        ang = 2 * np.pi * grid.minute_of_day[idx] / 1440.0
        cols += [np.sin(ang), np.cos(ang)]
        names += ["tod_sin", "tod_cos"]
    if spec.season:
        yang = 2 * np.pi * grid.doy[idx] / 365.25
        cols += [np.sin(yang), np.cos(yang)]
        names += ["doy_sin", "doy_cos"]
    for d in range(7):
        cols.append((grid.dow[idx] == d).astype(float))
        names.append(f"dow_{d}")
    if spec.holiday_country:
        import holidays

        dates = grid.local_date.gather(idx)
        years = sorted({int(y) for y in dates.dt.year().unique().to_list() if y is not None})
        cal = holidays.country_holidays(spec.holiday_country, years=years)
        hol = dates.is_in(list(cal.keys()))
        cols.append(hol.to_numpy().astype(float))
        names.append("holiday")
    return cols, names


def build_design(
    grid: Grid,
    idx: np.ndarray,
    vp_us: np.ndarray,
    spec: FeatureSpec,
    regressors: list[SeriesHistory] | None = None,
    *,
    with_target: bool = True,
) -> DesignMatrix:
    """Features for the samples (``vp_us[i]``, ``grid`` event ``idx[i]``)."""
    idx = np.asarray(idx, dtype=np.int64)
    vp_us = np.asarray(vp_us, dtype=np.int64)
    cols: list[np.ndarray] = []
    names: list[str] = []
    tlike: list[bool] = []
    event_us = grid.times_us[idx]
    horizon_h = (event_us - vp_us) / 3.6e9
    max_h_days = int(np.ceil(max(horizon_h.max(initial=0.0), 0.0) / 24.0)) + 2
    lag_idx: dict[int, np.ndarray] = {}
    for n in spec.daily_lags:
        lag_idx[n] = _nth_known_back(grid, idx, vp_us, n, 1, n + max_h_days + 7)
        cols.append(_at(grid, lag_idx[n]))
        names.append(f"lag_day_{n}")
        tlike.append(True)
    for n in spec.weekly_lags:
        cols.append(_at(grid, _nth_known_back(grid, idx, vp_us, n, 7, n + max_h_days // 7 + 3)))
        names.append(f"lag_week_{n}")
        tlike.append(True)
    for n in spec.profile_days:
        block = _profile_features(grid, idx, vp_us, n, False, n + max_h_days + 7)
        cols += list(block.T)
        names += [f"prof_d{n}_s{k}" for k in range(block.shape[1])]
        tlike += [True] * block.shape[1]
    for n in spec.profile_weeks:
        block = _profile_features(grid, idx, vp_us, n, True, n + max_h_days // 7 + 3)
        cols += list(block.T)
        names += [f"prof_w{n}_s{k}" for k in range(block.shape[1])]
        tlike += [True] * block.shape[1]
    if spec.last_value:
        known_vals = np.where(grid.known_us < np.iinfo(np.int64).max, grid.times_us, -1)
        # latest known event per viewpoint: search over events sorted by knowledge time
        order = np.argsort(grid.known_us, kind="stable")
        kt_sorted = grid.known_us[order]
        pos = np.searchsorted(kt_sorted, vp_us, side="right")
        latest_time = np.maximum.accumulate(
            np.where(kt_sorted < np.iinfo(np.int64).max, known_vals[order], -1)
        )
        last_t = np.where(pos > 0, latest_time[np.maximum(pos - 1, 0)], -1)
        li = grid.index_of(last_t)
        cols.append(np.where(li >= 0, grid.values[np.maximum(li, 0)], np.nan))
        cols.append(np.where(li >= 0, (event_us - last_t) / 3.6e9, np.nan))
        names += ["last_value", "last_age_h"]
        tlike += [True, False]
    if spec.calendar:
        c, nm = _calendar(grid, idx, spec)
        cols += c
        names += nm
        tlike += [False] * len(c)
    if spec.horizon:
        cols.append(horizon_h)
        names.append("horizon_h")
        tlike.append(False)
    for reg in regressors or []:
        vals = regressor_at_event(reg, event_us, vp_us)
        if len(vals) and np.isnan(vals).all():
            first, last = from_us(int(event_us.min())), from_us(int(event_us.max()))
            raise MissingRegressorError(
                f"regressor {reg.name!r} has no values known for events "
                f"{first.isoformat()} to {last.isoformat()} as of the viewpoints "
                f"{from_us(int(vp_us.min())).isoformat()} to "
                f"{from_us(int(vp_us.max())).isoformat()}"
            )
        if spec.regressor_at_event:
            cols.append(vals)
            names.append(f"reg_{reg.name}")
            tlike.append(False)
        if spec.regressor_profiles:
            block, prof_names = regressor_profiles(reg, grid, idx, vp_us, spec.regressor_profiles)
            cols += list(block.T)
            names += prof_names
            tlike += [False] * len(prof_names)
        if spec.regressor_day_mean:
            day, _ = regressor_profiles(reg, grid, idx, vp_us, (0,))
            with np.errstate(invalid="ignore"):
                counts = np.sum(~np.isnan(day), axis=1)
                mean = np.where(counts > 0, np.nansum(day, axis=1) / np.maximum(counts, 1), np.nan)
            cols.append(mean)
            names.append(f"regmean_{reg.name}")
            tlike.append(False)
        if spec.regressor_daily_lags:
            for n, j in lag_idx.items():
                lag_vals = regressor_at_event(reg, np.where(j >= 0, grid.times_us[j], -1), vp_us)
                cols.append(np.where(j >= 0, lag_vals, np.nan))
                names.append(f"reglag_{reg.name}_day_{n}")
                tlike.append(False)
        if spec.degree_days and is_temperature(reg.unit):
            hdd, cdd = degree_days(vals, reg.unit)
            cols += [hdd, cdd]
            names += [f"hdd_{reg.name}", f"cdd_{reg.name}"]
            tlike += [False, False]
    X = np.column_stack(cols) if cols else np.empty((len(idx), 0))
    return DesignMatrix(
        X=X.astype(np.float64),
        columns=names,
        target_like=np.array(tlike, dtype=bool),
        slot=grid.slot[idx],
        horizon_h=horizon_h,
        event_us=event_us,
        viewpoint_us=vp_us,
        grid_index=idx,
        y=grid.values[idx] if with_target else None,
    )
