"""Which viewpoints a forecast run has and which events each of them forecasts.

Viewpoints step by the forecast frequency; whole days step on the local wall clock of the
target's time zone, so a daily 12:00 viewpoint stays at 12:00 across clock changes. Each
viewpoint forecasts either the events in ``[v + min_horizon, v + max_horizon)`` or, with
``local_days``, whole local delivery days (23 or 25 hours on clock-change days).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from flex_pipelines.forecasting.grid import Grid, from_us, to_us
from flex_pipelines.time import Duration, add_duration, get_zone

if TYPE_CHECKING:
    from flex_pipelines.forecasting.cycles import CycleConfig

__all__ = ["viewpoints", "step_viewpoint", "day_bounds", "samples"]


def step_viewpoint(v: datetime, frequency: timedelta, k: int, timezone: str) -> datetime:
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
        v = step_viewpoint(start, frequency, k, timezone)
    return out


def day_bounds(v_us: int, cfg: CycleConfig, timezone: str) -> tuple[int, int]:
    """[start, end) in µs of the local delivery days of viewpoint ``v_us`` (``local_days`` mode)."""
    zone = get_zone(cfg.day_timezone or timezone)
    local = from_us(v_us).astimezone(zone)
    first = local.date() + timedelta(days=cfg.days_ahead)
    last = first + timedelta(days=cfg.local_days or 1)
    return (
        to_us(datetime(first.year, first.month, first.day, tzinfo=zone)),
        to_us(datetime(last.year, last.month, last.day, tzinfo=zone)),
    )


def samples(grid: Grid, vps_us: np.ndarray, cfg: CycleConfig) -> tuple[np.ndarray, np.ndarray]:
    """(grid index, viewpoint) of every target event of each viewpoint."""
    lo_us = int(cfg.min_horizon.total_seconds() * 1e6)
    hi_us = int(cfg.max_horizon.total_seconds() * 1e6)
    idx, vp = [], []
    for v in vps_us:
        if cfg.local_days is not None:
            t0, t1 = day_bounds(int(v), cfg, grid.timezone)
        else:
            t0, t1 = int(v) + lo_us, int(v) + hi_us
        i0 = max(0, -(-(t0 - grid.start_us) // grid.step_us))
        i1 = min(grid.n, -(-(t1 - grid.start_us) // grid.step_us))
        if i1 > i0:
            idx.append(np.arange(i0, i1))
            vp.append(np.full(i1 - i0, v, dtype=np.int64))
    if not idx:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(idx), np.concatenate(vp)
