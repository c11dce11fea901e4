"""Standalone process scheduling: when should a fixed-power, fixed-duration load run?

An exact search, vectorised with numpy (no solver needed for one process):

- ``INFLEXIBLE``: the block starts at the first step from which it can run ``duration`` without
  touching a time restriction (the price plays no part; the cost is reported).
- ``SHIFTABLE``: one contiguous block of ``duration``; every allowed start is scored with a
  rolling-window sum of prices (one ``cumsum``), the best wins, ties go to the earliest start.
- ``BREAKABLE``: the ``duration / resolution`` best single steps outside the restrictions
  (``argpartition``, O(n)); ties go to the earliest steps.

"Best" is the lowest cost for ``optimization-sense`` MIN and the highest for MAX; the cost of a
step is ``power_mw × price_eur_per_mwh × step_hours`` (EUR). The rules follow FlexMeasures'
``ProcessScheduler`` (FlexMeasures/flexmeasures, ``data/models/planning/process.py``), whose
published results are reproduced in ``tests/unit/test_process_scheduler.py``.

Choices (documented here and in the result's ``notes``):

- A duration that is not a whole number of steps is rounded **up** to whole steps, as FlexMeasures
  does (``duration_rounding="up"``); ``duration_rounding="refuse"`` raises instead.
- A step is blocked when it overlaps a time restriction at all (a restriction that ends at 15:10
  blocks the whole 15:00–15:15 step).
- A duration at least as long as the window runs in every step (FlexMeasures' rule), which is
  refused when there are time restrictions inside the window (both cannot hold).
- Times are absolute (UTC steps from ``start``), so a 23-hour DST day simply has 92 quarter hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from flex_pipelines.scheduling.process_model import (
    OptimizationSense,
    ProcessFlexModel,
    ProcessFlexModelError,
    ProcessInfeasibleError,
    ProcessType,
    TimeRestriction,
    parse_process_flex_model,
)
from flex_pipelines.time import TimeError, format_duration

__all__ = [
    "ProcessSchedule",
    "schedule_process",
    "place_process",
    "feasible_block_starts",
    "restriction_mask",
    "n_process_steps",
]

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class ProcessSchedule:
    """The result of scheduling one process over a window.

    ``power_mw[i]`` is the power (MW, consumption positive) during step
    ``[start + i·resolution, start + (i+1)·resolution)``.
    """

    start: datetime
    resolution: timedelta
    power_mw: np.ndarray
    process_type: ProcessType
    optimization_sense: OptimizationSense
    block_starts: tuple[datetime, ...]  # start of each contiguous run of the process
    cost_eur: float
    energy_mwh: float
    n_steps_on: int
    status: str = "optimal"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_steps(self) -> int:
        return int(self.power_mw.shape[0])

    @property
    def end(self) -> datetime:
        return _step_time(self.start, self.resolution, self.n_steps)

    @property
    def first_start(self) -> datetime:
        return self.block_starts[0]

    def event_starts(self) -> list[datetime]:
        """The start of every step, in the timezone of ``start``."""
        return [_step_time(self.start, self.resolution, i) for i in range(self.n_steps)]

    def to_record(self) -> dict[str, Any]:
        """The result record (JSON-ready except for datetimes): status, cost, chosen start(s)."""
        return {
            "status": self.status,
            "process_type": self.process_type.value,
            "optimization_sense": self.optimization_sense.value,
            "start": self.start,
            "end": self.end,
            "resolution": format_duration(self.resolution),
            "block_starts": list(self.block_starts),
            "n_steps_on": self.n_steps_on,
            "energy_mwh": self.energy_mwh,
            "cost_eur": self.cost_eur,
            "notes": list(self.notes),
        }


def n_process_steps(duration: timedelta, resolution: timedelta, rounding: str = "up") -> int:
    """Whole steps the process runs: ``duration / resolution``, rounded up (or refused)."""
    ratio = duration / resolution
    nearest = round(ratio)
    if abs(ratio - nearest) < 1e-9:
        return max(int(nearest), 1)
    if rounding == "refuse":
        raise ProcessFlexModelError(
            f"process flex-model field 'duration' = {format_duration(duration)!r}: not a whole "
            f"number of {format_duration(resolution)} steps ({ratio:.4g}); give a multiple of "
            f"{format_duration(resolution)}"
        )
    if rounding != "up":
        raise ValueError(f"duration_rounding must be 'up' or 'refuse', not {rounding!r}")
    return int(math.ceil(ratio))


def restriction_mask(
    restrictions: tuple[TimeRestriction, ...], start: datetime, resolution: timedelta, n: int
) -> np.ndarray:
    """Boolean mask of the ``n`` steps from ``start``: True where a restriction overlaps a step."""
    mask = np.zeros(n, dtype=bool)
    step_s = resolution.total_seconds()
    for r in restrictions:
        a = (r.start.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / step_s
        b = (r.end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / step_s
        i0 = max(int(math.floor(a + 1e-9)), 0)
        i1 = min(int(math.ceil(b - 1e-9)), n)
        if i1 > i0:
            mask[i0:i1] = True
    return mask


def _step_time(start: datetime, resolution: timedelta, i: int) -> datetime:
    """Start of step ``i``: absolute (UTC) arithmetic, shown in the timezone of ``start``.

    (Python adds a timedelta to an aware datetime on the wall clock, which is wrong across DST.)
    """
    return (start.astimezone(UTC) + i * resolution).astimezone(start.tzinfo)


def _t(start: datetime, resolution: timedelta, i: int) -> str:
    return _step_time(start, resolution, i).isoformat()


def _window(start: datetime, resolution: timedelta, n: int) -> str:
    return f"{start.isoformat()}–{_t(start, resolution, n)}"


def _longest_free_run(blocked: np.ndarray) -> tuple[int, int]:
    """(start index, length) of the longest run of unblocked steps (length 0 when none)."""
    free = np.concatenate(([0], (~blocked).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(free))
    if edges.size == 0:
        return 0, 0
    starts, ends = edges[::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k] - starts[k])


def _runs(on: np.ndarray) -> np.ndarray:
    """Indices where a run of ``True`` begins."""
    padded = np.concatenate(([False], on))
    return np.flatnonzero(on & ~padded[:-1])


def _check_prices(prices: Any, start: datetime, resolution: timedelta) -> np.ndarray:
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ProcessFlexModelError(
            f"consumption-price: expected a non-empty 1-D price series from {start.isoformat()}, "
            f"got shape {p.shape}"
        )
    bad = ~np.isfinite(p)
    if bad.any():
        i = int(np.argmax(bad))
        raise ProcessFlexModelError(
            f"consumption-price is missing ({p[i]}) at {_t(start, resolution, i)} "
            f"({int(bad.sum())} of {p.size} steps without a price)"
        )
    return p


def schedule_process(
    prices_eur_per_mwh: np.ndarray | list[float],
    start: datetime,
    resolution: timedelta,
    flex_model: Mapping[str, Any] | ProcessFlexModel,
    *,
    timezone: str | None = None,
    duration_rounding: str = "up",
    allow_production: bool = False,
) -> ProcessSchedule:
    """Schedule one process against a price series (a pure function).

    :param prices_eur_per_mwh: consumption price per step (EUR/MWh), one value per step; the
        window is ``[start, start + len(prices) · resolution)``.
    :param start: tz-aware start of the first step.
    :param resolution: step length (the process sensor's resolution).
    :param flex_model: a process flex-model (see :mod:`.process_model`) or a parsed one.
    :param timezone: localises naive timestamps in ``time-restrictions``.
    :param duration_rounding: ``"up"`` (default) or ``"refuse"`` for durations that are not a
        whole number of steps.
    :param allow_production: accept a negative ``power`` (the process then produces, and MIN
        picks the highest prices: it minimises the cost, i.e. maximises the revenue).
    :returns: power per step (MW, consumption positive), block start(s), cost (EUR), status.
    :raises ProcessFlexModelError: bad field values, missing prices (naming field, value, time).
    :raises ProcessInfeasibleError: no allowed placement (naming the window and restrictions).
    """
    if start.tzinfo is None:
        raise TimeError(f"start {start.isoformat()} has no UTC offset or timezone")
    if resolution <= timedelta(0):
        raise TimeError(f"resolution {resolution} must be positive")
    fm = parse_process_flex_model(flex_model, timezone=timezone, allow_production=allow_production)
    prices = _check_prices(prices_eur_per_mwh, start, resolution)
    n = prices.size
    hours = resolution.total_seconds() / 3600.0
    k = n_process_steps(fm.duration, resolution, duration_rounding)
    notes: list[str] = []
    if abs(fm.duration / resolution - k) > 1e-9:
        notes.append(
            f"duration {format_duration(fm.duration)} rounded up to {k} × "
            f"{format_duration(resolution)} = {format_duration(k * resolution)}"
        )
    blocked = restriction_mask(fm.time_restrictions, start, resolution, n)

    if k > n:
        notes.append(
            f"duration {format_duration(fm.duration)} is longer than the window "
            f"({format_duration(n * resolution)}): the process runs in every step"
        )
    on = place_process(prices, blocked, k, fm, start, resolution)

    power = np.where(on, fm.power_mw, 0.0)
    n_on = int(on.sum())
    return ProcessSchedule(
        start=start,
        resolution=resolution,
        power_mw=power,
        process_type=fm.process_type,
        optimization_sense=fm.optimization_sense,
        block_starts=tuple(_step_time(start, resolution, int(i)) for i in _runs(on)),
        cost_eur=float(fm.power_mw * hours * math.fsum(prices[on].tolist())),
        energy_mwh=fm.power_mw * hours * n_on,
        n_steps_on=n_on,
        status="optimal",
        notes=tuple(notes),
    )


def _direction(fm: ProcessFlexModel) -> float:
    """+1 when lower prices are better (MIN and consuming), -1 otherwise."""
    sense = 1.0 if fm.optimization_sense is OptimizationSense.MIN else -1.0
    return sense * (1.0 if fm.power_mw > 0 else -1.0)


def feasible_block_starts(blocked: np.ndarray, k: int) -> np.ndarray:
    """Bool per start 0..n-k: whether a block of ``k`` steps from there avoids every blocked step."""
    n = blocked.size
    if k > n:
        return np.zeros(0, dtype=bool)
    n_blocked = np.concatenate(([0], np.cumsum(blocked, dtype=np.int64)))
    return (n_blocked[k:] - n_blocked[: n - k + 1]) == 0


def place_process(
    prices: np.ndarray,
    blocked: np.ndarray,
    k: int,
    fm: ProcessFlexModel,
    start: datetime,
    resolution: timedelta,
    why: str = "process flex-model field 'time-restrictions'",
) -> np.ndarray:
    """The steps (bool mask) in which the process runs, by its type; the exact search.

    ``blocked`` marks the steps it may not use; ``why`` says in error messages what blocked them.
    A process of at least the window's length runs everywhere (an error if a step is blocked).
    """
    n = prices.size
    if k >= n:
        if blocked.any():
            i = int(np.argmax(blocked))
            raise ProcessInfeasibleError(
                f"process flex-model field 'duration' = {format_duration(fm.duration)!r} fills "
                f"the whole window {_window(start, resolution, n)}, but running at "
                f"{_t(start, resolution, i)} is forbidden by {why}"
            )
        return np.ones(n, dtype=bool)
    if fm.process_type is ProcessType.BREAKABLE:
        return _breakable(prices, blocked, k, _direction(fm), fm, start, resolution, why)
    s = _contiguous_start(prices, blocked, k, _direction(fm), fm, start, resolution, why)
    on = np.zeros(n, dtype=bool)
    on[s : s + k] = True
    return on


def _contiguous_start(
    prices: np.ndarray,
    blocked: np.ndarray,
    k: int,
    direction: float,
    fm: ProcessFlexModel,
    start: datetime,
    resolution: timedelta,
    why: str,
) -> int:
    """Index of the block start for INFLEXIBLE (first allowed) or SHIFTABLE (best, earliest)."""
    n = prices.size
    feasible = feasible_block_starts(blocked, k)
    if not feasible.any():
        run_start, run_len = _longest_free_run(blocked)
        longest = (
            f"the longest allowed stretch is {format_duration(run_len * resolution)} "
            f"from {_t(start, resolution, run_start)}"
            if run_len
            else "no step is allowed"
        )
        raise ProcessInfeasibleError(
            f"{why}: no start left for a "
            f"{format_duration(k * resolution)} {fm.process_type.value} block in the window "
            f"{_window(start, resolution, n)}: {longest} "
            f"(restrictions: {', '.join(str(r) for r in fm.time_restrictions) or 'none'})"
        )
    if fm.process_type is ProcessType.INFLEXIBLE:
        return int(np.argmax(feasible))
    cum = np.concatenate(([0.0], np.cumsum(prices)))
    score = direction * (cum[k:] - cum[: n - k + 1])  # lower is better
    score[~feasible] = np.inf
    best = float(score.min())
    # cumsum differences carry rounding errors of about k·eps·max|cum|: treat those as ties.
    tol = 4.0 * (k + 1) * _EPS * max(float(np.abs(cum).max()), 1.0)
    return int(np.argmax(score <= best + tol))


def _breakable(
    prices: np.ndarray,
    blocked: np.ndarray,
    k: int,
    direction: float,
    fm: ProcessFlexModel,
    start: datetime,
    resolution: timedelta,
    why: str,
) -> np.ndarray:
    """The ``k`` best allowed steps (ties → earliest), in O(n) via ``argpartition``."""
    n = prices.size
    n_free = int(n - blocked.sum())
    if n_free < k:
        raise ProcessInfeasibleError(
            f"{why}: only {format_duration(n_free * resolution)} "
            f"free in the window {_window(start, resolution, n)}, less than the "
            f"{format_duration(k * resolution)} the BREAKABLE process needs "
            f"(restrictions: {', '.join(str(r) for r in fm.time_restrictions) or 'none'})"
        )
    key = direction * prices  # exact: a sign flip
    key[blocked] = np.inf
    kth = float(np.partition(key, k - 1)[k - 1])
    on = key < kth
    missing = k - int(on.sum())
    if missing > 0:
        on[np.flatnonzero(key == kth)[:missing]] = True
    return on
