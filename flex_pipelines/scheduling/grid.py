"""The time grid of a scheduling problem: ``n_steps`` steps of ``resolution`` from ``start``.

Flows (power, prices, capacities) have one value per step, indexed by the step's start.
Stocks (state of charge) have one value per *instant*: ``start``, then the end of every step, so
``n_steps + 1`` values. A SoC constraint at time t binds the stock after the step that ends at t
(FlexMeasures' convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import add_duration, n_steps, parse_datetime, parse_timedelta

__all__ = ["TimeGrid", "SchedulingError", "make_grid"]


class SchedulingError(FlexPipelinesError):
    """Bad scheduling input or an infeasible problem; the message names field, value and time."""


@dataclass(frozen=True)
class TimeGrid:
    """``n_steps`` steps of ``resolution`` starting at ``start`` (tz-aware)."""

    start: datetime
    resolution: timedelta
    n_steps: int

    @property
    def end(self) -> datetime:
        return self._after(self.n_steps * self.resolution)

    def _after(self, delta: timedelta) -> datetime:
        """``start + delta`` in elapsed (UTC) time, shown in the start's timezone.

        Adding a timedelta to a datetime with a ZoneInfo adds wall-clock time, which is off by
        the DST shift across a transition; a fixed offset gives the same result either way.
        """
        return (self.start.astimezone(UTC) + delta).astimezone(self.start.tzinfo)

    @property
    def dt_hours(self) -> float:
        """Step length in hours (energy_mwh = power_mw * dt_hours)."""
        return self.resolution.total_seconds() / 3600.0

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    def step_starts_s(self) -> np.ndarray:
        """Epoch seconds of each step's start (``n_steps`` values)."""
        return self.start_s + np.arange(self.n_steps) * self.resolution.total_seconds()

    def instants_s(self) -> np.ndarray:
        """Epoch seconds of each instant: start and every step end (``n_steps + 1`` values)."""
        return self.start_s + np.arange(self.n_steps + 1) * self.resolution.total_seconds()

    def time_at_step(self, i: int) -> datetime:
        return self._after(int(i) * self.resolution)

    def time_at_instant(self, k: int) -> datetime:
        """Instant k (0 = start, k = end of step k-1)."""
        return self._after(int(k) * self.resolution)

    def fmt(self, t: datetime) -> str:
        """A time as shown in messages: ISO in the grid's own offset."""
        return t.astimezone(self.start.tzinfo).isoformat(timespec="minutes")


def make_grid(
    start: str | datetime,
    resolution: str | timedelta = "PT15M",
    *,
    duration: str | timedelta | None = None,
    end: str | datetime | None = None,
) -> TimeGrid:
    """Grid from a start, a resolution and a duration (ISO 8601, DST-safe) or an end."""
    try:
        t0 = parse_datetime(start)
        res = parse_timedelta(resolution) if not isinstance(resolution, timedelta) else resolution
        if res <= timedelta(0):
            raise SchedulingError(f"resolution {resolution} must be positive")
        if end is not None:
            t1 = parse_datetime(end)
        elif duration is not None:
            t1 = add_duration(t0, duration)
        else:
            t1 = add_duration(t0, "P2D")  # FlexMeasures' default horizon
        n = n_steps(t0, t1, res)
    except FlexPipelinesError as exc:
        if isinstance(exc, SchedulingError):
            raise
        raise SchedulingError(f"time window: {exc}") from exc
    if t0.utcoffset() is None:  # pragma: no cover - parse_datetime guarantees an offset
        t0 = t0.replace(tzinfo=UTC)
    return TimeGrid(start=t0, resolution=res, n_steps=n)
