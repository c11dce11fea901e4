"""A regular time grid of one series: values, when each became known, and local-time indices.

The grid is built from a history that has already been cut at a viewpoint
(:func:`~flex_pipelines.forecasting.history.known_at`), so it can only hold what was known then.
Gaps stay NaN (with an infinite knowledge time); "same local time yesterday" is looked up on the
local wall clock, so on a 23- or 25-hour DST day it still means the same hour of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.history import SeriesHistory, per_event
from flex_pipelines.time import format_duration

NEVER = np.iinfo(np.int64).max  # knowledge time of a missing value (µs since epoch)


def to_us(dt: datetime) -> int:
    """Microseconds since the UNIX epoch of a tz-aware time."""
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


@dataclass
class Grid:
    """Arrays over a regular UTC grid ``start + i * resolution`` for ``i < n``.

    ``values`` (NaN = unknown), ``known_us`` (first knowledge time, µs; ``NEVER`` if unknown),
    ``minute_of_day``/``dow``/``doy``/``local_day`` of each step in ``timezone``,
    ``back_day`` (index of the same local wall-clock time one day earlier, -1 before the grid).
    """

    start_us: int
    step_us: int
    times_us: np.ndarray
    values: np.ndarray
    known_us: np.ndarray
    minute_of_day: np.ndarray
    dow: np.ndarray
    doy: np.ndarray
    local_day: np.ndarray
    local_date: pl.Series
    back_day: np.ndarray
    timezone: str
    resolution: timedelta

    @property
    def n(self) -> int:
        return len(self.times_us)

    @property
    def slots_per_day(self) -> int:
        return max(1, int(round(86_400_000_000 / self.step_us)))

    @property
    def slot(self) -> np.ndarray:
        return (self.minute_of_day * 60_000_000 // self.step_us).astype(np.int64)

    def index_of(self, us: np.ndarray | int) -> np.ndarray:
        """Grid index of times (µs) on the grid; -1 where off-grid or outside."""
        arr = np.asarray(us, dtype=np.int64)
        off = arr - self.start_us
        idx = off // self.step_us
        ok = (off % self.step_us == 0) & (idx >= 0) & (idx < self.n)
        return np.where(ok, idx, -1)

    def back(self, idx: np.ndarray, days: int) -> np.ndarray:
        """Index of the same local time ``days`` days earlier (-1 if before the grid)."""
        out = idx.copy()
        for _ in range(days):
            out = np.where(out >= 0, self.back_day[np.maximum(out, 0)], -1)
        return out


def build_grid(history: SeriesHistory, start: datetime, end: datetime) -> Grid:
    """Grid of ``history`` (already cut at a viewpoint) over [start, end), aligned to its events."""
    step_us = int(history.resolution.total_seconds() * 1_000_000)
    events = per_event(history)
    start_us, end_us = to_us(start), to_us(end)
    if events.height:
        # align the grid with the series' own ticks
        anchor = to_us(events["event_start"][0])
        start_us = start_us - ((start_us - anchor) % step_us)
    n = max(0, -(-(end_us - start_us) // step_us))
    times_us = start_us + step_us * np.arange(n, dtype=np.int64)
    values = np.full(n, np.nan)
    known = np.full(n, NEVER, dtype=np.int64)
    if events.height:
        ev_us = events["event_start"].dt.epoch("us").to_numpy()
        off = ev_us - start_us
        idx = off // step_us
        ok = (idx >= 0) & (idx < n)
        if np.any(ok & (off % step_us != 0)):
            bad = events["event_start"][int(np.argmax(ok & (off % step_us != 0)))]
            raise ForecastingError(
                f"history {history.name!r}: event_start {bad.isoformat()} is not on the "
                f"{format_duration(history.resolution)} grid of the series"
            )
        values[idx[ok]] = events["event_value"].to_numpy()[ok]
        known[idx[ok]] = events["known_since"].dt.epoch("us").to_numpy()[ok]
    utc = pl.Series("t", times_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    local = utc.dt.convert_time_zone(history.timezone)
    minute = (local.dt.hour().cast(pl.Int64) * 60 + local.dt.minute().cast(pl.Int64)).to_numpy()
    local_date = local.dt.date()
    day_num = local_date.cast(pl.Int64).to_numpy()
    back_local = (
        (local.dt.replace_time_zone(None) - timedelta(days=1))
        .dt.replace_time_zone(history.timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.epoch("us")
        .to_numpy()
    )
    back_local = np.where(np.isnan(back_local.astype(float)), times_us - 86_400_000_000, back_local)
    grid = Grid(
        start_us=start_us,
        step_us=step_us,
        times_us=times_us,
        values=values,
        known_us=known,
        minute_of_day=minute,
        dow=local.dt.weekday().to_numpy().astype(np.int64) - 1,
        doy=local.dt.ordinal_day().to_numpy().astype(np.int64),
        local_day=day_num - (day_num[0] if n else 0),
        local_date=local_date,
        back_day=np.empty(0, dtype=np.int64),
        timezone=history.timezone,
        resolution=history.resolution,
    )
    grid.back_day = grid.index_of(back_local.astype(np.int64))
    return grid
