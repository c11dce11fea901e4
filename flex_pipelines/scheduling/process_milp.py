"""Processes as MILP devices: binary start (or slot) variables and their power on a shared grid.

A process of power ``P`` (MW) running ``k`` steps becomes, on a grid of ``n`` steps:

- ``SHIFTABLE``: a binary ``s[j]`` per allowed block start ``j`` (``Σ s = 1``); it is on at step
  ``t`` when a start lies in the ``k`` steps up to ``t``: ``on[t] = Σ_{t-k < j ≤ t} s[j]``, so
  its power is ``P · on[t]``. The energy cost of a start is its block's rolling price sum
  ``P · dt · Σ_{t=j}^{j+k-1} price[t]``, so the price term needs no ``on`` variables at all.
- ``BREAKABLE``: a binary ``on[t]`` per allowed step, ``Σ on = k``.
- ``INFLEXIBLE``: no variables; a fixed profile from the first allowed start (FlexMeasures' rule).

:class:`ProcessDevice` holds exactly that (index arrays, costs and triplets), so a joint build
(storage + processes under one site limit) adds one block of columns per process and the
``(step, column, coefficient)`` triplets to its site-power rows. :func:`solve_processes` is a
small self-contained HiGHS build of several processes under a site consumption limit, and
:func:`schedule_processes_sequentially` the greedy baseline (each process on its own, in order,
in the capacity the earlier ones left), used to measure what joint scheduling gains.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from flex_pipelines.scheduling.process import (
    feasible_block_starts,
    n_process_steps,
    place_process,
    restriction_mask,
)
from flex_pipelines.scheduling.process_model import (
    OptimizationSense,
    ProcessFlexModel,
    ProcessInfeasibleError,
    ProcessType,
    parse_process_flex_model,
)
from flex_pipelines.time import format_duration

__all__ = [
    "ProcessDevice",
    "process_device",
    "JointProcessResult",
    "solve_processes",
    "schedule_processes_sequentially",
]


@dataclass(frozen=True)
class ProcessDevice:
    """One process on a grid of ``n`` steps, ready to become MILP columns."""

    name: str
    flex_model: ProcessFlexModel
    n: int
    n_on: int  # k: steps the process runs
    blocked: np.ndarray  # bool per step: may not run (restrictions, earliest start, latest end)
    power_sensor: int | None = None

    @property
    def power_mw(self) -> float:
        return self.flex_model.power_mw

    @property
    def process_type(self) -> ProcessType:
        return self.flex_model.process_type

    @property
    def runs_everywhere(self) -> bool:
        return self.n_on >= self.n

    @property
    def is_fixed(self) -> bool:
        """No decision left: INFLEXIBLE, or a duration that fills the window."""
        return self.process_type is ProcessType.INFLEXIBLE or self.runs_everywhere

    def candidates(self) -> np.ndarray:
        """Step indices of the binary columns: block starts (SHIFTABLE) or slots (BREAKABLE)."""
        if self.is_fixed:
            return np.zeros(0, dtype=np.int64)
        if self.process_type is ProcessType.BREAKABLE:
            return np.flatnonzero(~self.blocked)
        return np.flatnonzero(feasible_block_starts(self.blocked, self.n_on))

    def link_rhs(self) -> int:
        """Right-hand side of the one linking row ``Σ x = rhs`` (1 start, or k slots)."""
        return self.n_on if self.process_type is ProcessType.BREAKABLE else 1

    def power_triplets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(step, local column, MW)``: the process power at each step as a sum over columns."""
        cand = self.candidates()
        if self.process_type is ProcessType.BREAKABLE:
            return cand, np.arange(cand.size), np.full(cand.size, self.power_mw)
        k = self.n_on
        steps = (cand[:, None] + np.arange(k)[None, :]).ravel()
        cols = np.repeat(np.arange(cand.size), k)
        return steps, cols, np.full(steps.size, self.power_mw)

    def column_costs(self, prices_eur_per_mwh: np.ndarray, dt_hours: float) -> np.ndarray:
        """Energy cost (EUR) of each column: the block's (or slot's) price sum × P × dt."""
        cand = self.candidates()
        p = np.asarray(prices_eur_per_mwh, dtype=float)
        if self.process_type is ProcessType.BREAKABLE:
            sums = p[cand]
        else:
            cum = np.concatenate(([0.0], np.cumsum(p)))
            sums = cum[cand + self.n_on] - cum[cand]
        sense = 1.0 if self.flex_model.optimization_sense is OptimizationSense.MIN else -1.0
        return sense * self.power_mw * dt_hours * sums

    def fixed_power_mw(self, start: datetime, resolution: timedelta) -> np.ndarray:
        """The profile of a fixed process (zeros for one with decisions left)."""
        if not self.is_fixed:
            return np.zeros(self.n)
        prices = np.zeros(self.n)  # the first allowed start does not depend on prices
        on = place_process(prices, self.blocked, self.n_on, self.flex_model, start, resolution)
        return np.where(on, self.power_mw, 0.0)

    def power_from_columns(self, x: np.ndarray) -> np.ndarray:
        steps, cols, coef = self.power_triplets()
        out = np.zeros(self.n)
        np.add.at(out, steps, coef * x[cols])
        return out


def process_device(
    flex_model: Mapping[str, Any] | ProcessFlexModel,
    start: datetime,
    resolution: timedelta,
    n: int,
    *,
    name: str = "process",
    earliest_start: datetime | None = None,
    latest_end: datetime | None = None,
    timezone: str | None = None,
    power_sensor: int | None = None,
    duration_rounding: str = "up",
) -> ProcessDevice:
    """A process flex-model on a grid, with an optional earliest start and latest end.

    Steps before ``earliest_start`` or ending after ``latest_end`` are blocked like time
    restrictions. A restriction pattern that leaves no placement raises
    :class:`ProcessInfeasibleError` naming the window (as the standalone scheduler does).
    """
    fm = parse_process_flex_model(flex_model, timezone=timezone)
    k = n_process_steps(fm.duration, resolution, duration_rounding)
    blocked = restriction_mask(fm.time_restrictions, start, resolution, n)
    t0 = start.astimezone(UTC)
    step_s = resolution.total_seconds()
    if earliest_start is not None:
        first = int(np.ceil((earliest_start.astimezone(UTC) - t0).total_seconds() / step_s - 1e-9))
        blocked[: max(min(first, n), 0)] = True
    if latest_end is not None:
        last = int(np.floor((latest_end.astimezone(UTC) - t0).total_seconds() / step_s + 1e-9))
        blocked[max(min(last, n), 0) :] = True
    device = ProcessDevice(name, fm, n, k, blocked, power_sensor)
    # the same checks (and messages) as the standalone scheduler
    window = "process flex-model field 'time-restrictions' (with earliest start / latest end)"
    place_process(np.zeros(n), blocked, k, fm, start, resolution, why=window)
    return device


@dataclass(frozen=True)
class JointProcessResult:
    """Power per process (MW per step), their total cost (EUR) and how the solve went."""

    power_mw: dict[str, np.ndarray]
    cost_eur: float
    status: str
    solve_seconds: float

    def site_power_mw(self) -> np.ndarray:
        return np.sum(list(self.power_mw.values()), axis=0)


def _energy_cost(power_mw: np.ndarray, prices: np.ndarray, dt: float) -> float:
    return float(np.dot(power_mw, prices) * dt)


def solve_processes(
    prices_eur_per_mwh: np.ndarray,
    start: datetime,
    resolution: timedelta,
    devices: Sequence[ProcessDevice],
    *,
    site_consumption_capacity_mw: float | np.ndarray = np.inf,
    inflexible_mw: np.ndarray | None = None,
    time_limit_s: float = 60.0,
) -> JointProcessResult:
    """Schedule several processes together under a site consumption limit (HiGHS MILP).

    Minimises the summed energy cost (MAX-sense processes count with the opposite sign).
    Equal-cost placements go to the earliest starts / slots (exactly as the standalone search
    for one process; best effort between several).
    """
    import highspy
    import scipy.sparse as sp

    prices = np.asarray(prices_eur_per_mwh, dtype=float)
    n = prices.size
    dt = resolution.total_seconds() / 3600.0
    base = np.zeros(n) if inflexible_mw is None else np.asarray(inflexible_mw, dtype=float)
    cap = np.broadcast_to(np.asarray(site_consumption_capacity_mw, dtype=float), (n,))
    fixed = sum((d.fixed_power_mw(start, resolution) for d in devices), np.zeros(n))
    room = cap - base - fixed
    if (room < -1e-9).any():
        i = int(np.argmax(room < -1e-9))
        t = (start.astimezone(UTC) + i * resolution).astimezone(start.tzinfo)
        raise ProcessInfeasibleError(
            f"site-consumption-capacity {cap[i]:g} MW is exceeded at {t.isoformat()} by the "
            f"inflexible load and INFLEXIBLE processes ({base[i] + fixed[i]:g} MW)"
        )
    costs, ties, rows, cols, vals, rlb, rub = [], [], [], [], [], [], []
    col0, offsets = 0, []
    # rows 0..n-1: site power per step; then one linking row per device with decisions
    for d in devices:
        offsets.append(col0)
        if d.is_fixed:
            continue
        cand = d.candidates()
        costs.append(d.column_costs(prices, dt))
        ties.append(cand / max(n, 1))  # prefer earlier starts / slots among equal costs
        steps, lc, coef = d.power_triplets()
        rows += [steps, np.full(cand.size, n + len(rlb))]
        cols += [col0 + lc, col0 + np.arange(cand.size)]
        vals += [coef, np.ones(cand.size)]
        rlb.append(d.link_rhs())
        rub.append(d.link_rhs())
        col0 += cand.size
    n_cols = col0
    if n_cols == 0:
        power = {d.name: d.fixed_power_mw(start, resolution) for d in devices}
        total = sum(_energy_cost(p, prices, dt) for p in power.values())
        return JointProcessResult(power, total, "optimal", 0.0)
    n_rows = n + len(rlb)
    a = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cols),
    )
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    # Scale costs so that distinct column costs differ by at least 1; the tie-breaker then adds
    # less than 0.5 in total, well above the solver's tolerances (exact for one process).
    cost = np.concatenate(costs)
    gaps = np.diff(np.unique(np.round(cost, 9)))
    scale = 1.0 / max(float(gaps.min()) if gaps.size else 1.0, 1e-9)
    scale = min(scale, 1e7 / max(float(np.abs(cost).max()), 1e-9))  # keep HiGHS well scaled
    lp.col_cost_ = cost * scale + 0.5 * np.concatenate(ties)
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = np.concatenate([np.full(n, -np.inf), np.asarray(rlb, dtype=float)])
    lp.row_upper_ = np.concatenate([np.where(np.isfinite(room), room, np.inf), rub])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cols
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-9)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.passModel(lp)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise ProcessInfeasibleError(
            f"site-consumption-capacity: the processes {', '.join(d.name for d in devices)} "
            f"cannot all run in the window from {start.isoformat()} "
            f"({format_duration(n * resolution)}) under the site limit ({h.modelStatusToString(status)})"
        )
    x = np.round(np.asarray(h.getSolution().col_value))
    power = {}
    for d, off in zip(devices, offsets, strict=True):
        if d.is_fixed:
            power[d.name] = d.fixed_power_mw(start, resolution)
        else:
            power[d.name] = d.power_from_columns(x[off : off + d.candidates().size])
    total = sum(_energy_cost(p, prices, dt) for p in power.values())
    return JointProcessResult(power, total, "optimal", seconds)


def schedule_processes_sequentially(
    prices_eur_per_mwh: np.ndarray,
    start: datetime,
    resolution: timedelta,
    devices: Sequence[ProcessDevice],
    *,
    site_consumption_capacity_mw: float | np.ndarray = np.inf,
    inflexible_mw: np.ndarray | None = None,
) -> JointProcessResult:
    """The greedy baseline: each process by the exact search, in order, in the room left."""
    prices = np.asarray(prices_eur_per_mwh, dtype=float)
    n = prices.size
    dt = resolution.total_seconds() / 3600.0
    base = np.zeros(n) if inflexible_mw is None else np.asarray(inflexible_mw, dtype=float)
    room = np.broadcast_to(np.asarray(site_consumption_capacity_mw, dtype=float), (n,)) - base
    power: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    for d in devices:
        too_full = room < d.power_mw - 1e-9
        on = place_process(
            prices,
            d.blocked | too_full,
            d.n_on,
            d.flex_model,
            start,
            resolution,
            why=f"the room left under the site limit for process {d.name!r}",
        )
        power[d.name] = np.where(on, d.power_mw, 0.0)
        room = room - power[d.name]
    total = sum(_energy_cost(p, prices, dt) for p in power.values())
    return JointProcessResult(power, total, "optimal", time.perf_counter() - t0)
