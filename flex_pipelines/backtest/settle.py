"""Settling a backtest day at realised prices and loads with the scheduler's own cost formula.

The settlement problem of a day is the scheduling problem built from the realised inputs (the
perfect-foresight problem: realised prices, inflexible loads and PV), and a schedule's realised
cost is :func:`flex_pipelines.scheduling.result.compute_costs` of that problem at the schedule's
device powers and states of charge (``total``: energy bought minus energy sold at the site's
consumption and production prices, plus any breach, peak and commitment costs the site's
flex-context prices). So the perfect-foresight schedule's realised cost is its optimum, every
other schedule costs at least as much, and the no-battery baseline is the same formula with
every device at zero power. Per step, with the site's net power ``net`` in MW (consumption
positive) and the step length ``dt`` in hours::

    cost = dt * (consumption_price * max(net, 0) - production_price * max(-net, 0))

A schedule made on forecasts can push the realised net power over the site's hard connection
limits (a limit it kept at the forecast load); the settlement does not price that (the limit is
hard, it has no breach price) but :func:`over_limit_mwh` measures it, so a variant that
"beats" perfect foresight by overdrawing the connection is visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from flex_pipelines.backtest.variants import BacktestError
from flex_pipelines.scheduling.problem import SchedulingProblem
from flex_pipelines.scheduling.result import ScheduleResult, compute_costs
from flex_pipelines.sites import Scope

__all__ = ["baseline_cost", "over_limit_mwh", "realised_cost", "settlement_problem"]

#: bare SoC numbers are in the power sensor's unit with "h" (the storage scheduler's rule)
_SOC_UNIT = {"kW": "kWh", "MW": "MWh", "kWh": "kWh", "MWh": "MWh"}


def settlement_problem(
    view: Any,
    scope: Scope,
    start: datetime,
    end: datetime,
    soc_at_start: Mapping[int, str] | None = None,
) -> SchedulingProblem:
    """The day's scheduling problem on realised inputs.

    Parameters
    ----------
    view
        A store (or :class:`~flex_pipelines.backtest.inputs.InputView`) answering the site's
        input reads with realised values.
    scope
        The site's devices and merged flex-context (storage devices only).
    start, end
        The day (tz-aware).
    soc_at_start
        Power sensor id → state of charge at ``start`` (e.g. ``"0.2 MWh"``).
    """
    from flex_pipelines.scheduling.grid import make_grid
    from flex_pipelines.scheduling.storage import build_problem
    from flex_pipelines.scheduling.storage_store import store_resolver

    fms = [dict(f) for f in scope.of_kind("storage")]
    if not fms:
        raise BacktestError("settlement: the site has no storage device")
    sensors = {int(f["sensor"]): view.get_sensor(int(f["sensor"])) for f in fms}
    for f in fms:
        sid = int(f["sensor"])
        if soc_at_start and sid in soc_at_start:
            f["soc-at-start"] = soc_at_start[sid]
        f.setdefault("soc-at-start", f.get("soc-min", 0.0))
    resolution = sensors[int(fms[0]["sensor"])].event_resolution
    grid = make_grid(start, resolution, end=end)
    soc_units = {i: _SOC_UNIT[s.unit] for i, s in sensors.items() if s.unit in _SOC_UNIT}
    return build_problem(grid, fms, scope.flex_context, store_resolver(view, None), soc_units)


def _powers(problem: SchedulingProblem, result: ScheduleResult) -> tuple[list, list]:
    by_name = {d.name: d for d in result.devices}
    power, soc = [], []
    for d in problem.devices:
        sched = by_name.get(d.name)
        if sched is None or len(sched.power_mw) != problem.n_steps:
            raise BacktestError(
                f"settlement: no schedule of {problem.n_steps} steps for device {d.name!r}"
            )
        power.append(np.asarray(sched.power_mw, dtype=float))
        soc.append(sched.soc_mwh)
    return power, soc


def realised_cost(problem: SchedulingProblem, result: ScheduleResult) -> float:
    """What ``result``'s device schedules cost at the realised inputs of ``problem``
    (in the site's currency; see the module docstring)."""
    power, soc = _powers(problem, result)
    return float(compute_costs(problem, power, soc)["total"])


def baseline_cost(problem: SchedulingProblem) -> float:
    """What the site costs at realised inputs without its flexible devices (zero power)."""
    zeros = [np.zeros(problem.n_steps) for _ in problem.devices]
    return float(compute_costs(problem, zeros, [None] * len(zeros))["total"])


def _excess(problem: SchedulingProblem, device_mw: np.ndarray) -> float:
    s = problem.site
    net = s.inflexible_mw + device_mw
    over = np.maximum(net - s.consumption_hard_mw, 0.0) + np.maximum(
        -net - s.production_hard_mw, 0.0
    )
    return float(problem.dt * np.sum(over))


def over_limit_mwh(problem: SchedulingProblem, result: ScheduleResult) -> float:
    """Energy (MWh) by which the realised net site power exceeds the site's hard consumption or
    production capacity with ``result``'s devices, beyond what the site exceeds without them."""
    power, _ = _powers(problem, result)
    total = np.sum(power, axis=0) if power else np.zeros(problem.n_steps)
    return max(0.0, _excess(problem, total) - _excess(problem, np.zeros(problem.n_steps)))
