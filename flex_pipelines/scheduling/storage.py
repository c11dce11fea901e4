"""The storage scheduler: flex-models + flex-context → problem → exact optimum → result.

Public entry points:

- :func:`build_problem` — parse flex-models (one per device) and a flex-context on a grid;
- :func:`solve` — solve a :class:`SchedulingProblem` with the direct HiGHS build (default) or the
  pyomo build (``extend`` lets you add constraints and objective terms there);
- :func:`solve_problem_json` — the stateless problem format of ``flexpipe schedule solve``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from flex_pipelines.scheduling.assembly import build_problem
from flex_pipelines.scheduling.build_highs import formulate
from flex_pipelines.scheduling.diagnostics import (
    InfeasibleError,
    check_feasibility,
    explain_infeasible,
)
from flex_pipelines.scheduling.dp import applicable, solve_dp
from flex_pipelines.scheduling.exact import solve_exact
from flex_pipelines.scheduling.fields import SensorResolver
from flex_pipelines.scheduling.flex_context import parse_risk
from flex_pipelines.scheduling.grid import SchedulingError, make_grid
from flex_pipelines.scheduling.joint import process_powers, run_starts
from flex_pipelines.scheduling.problem import SchedulingProblem
from flex_pipelines.scheduling.result import (
    DeviceSchedule,
    ScheduleResult,
    compute_costs,
    group_power,
    site_net_power,
    unmet_soft_constraints,
)
from flex_pipelines.scheduling.risk import risk_summary

__all__ = [
    "build_problem",
    "solve",
    "solve_problem_json",
    "parse_problem_json",
    "SCHEDULER_VERSION",
]

SCHEDULER_VERSION = "2"  # 2: the exact dynamic programme (dp.py) where it applies
METHODS = ("auto", "dp", "milp")
PROBLEM_KEYS = {"start", "end", "duration", "resolution", "timezone", "flex-model", "flex-context"}


def solve(
    problem: SchedulingProblem,
    backend: str = "highs",
    *,
    extend: Callable[[Any, SchedulingProblem], None] | None = None,
    check: bool = True,
    time_limit: float | None = 300.0,
    mip_rel_gap: float | None = None,
    method: str = "auto",
) -> ScheduleResult:
    """Solve to the exact optimum; raise :class:`InfeasibleError` naming field and time.

    ``extend(model, problem)`` (pyomo backend only) may add constraints and cost terms to the
    pyomo model before it is solved; see docs/extending-the-scheduler.md.

    ``method`` (highs backend): ``dp`` — the exact dynamic programme over the SoC
    (:mod:`~flex_pipelines.scheduling.dp`; only for problems whose steps meet in the stock
    alone); ``milp`` — LP first, binaries only where needed (:mod:`~.exact`); ``auto`` (default)
    — ``dp`` where it applies, else ``milp``.
    """
    if method not in METHODS:
        raise SchedulingError(f"method {method!r} is not one of {', '.join(METHODS)}")
    if backend == "pyomo" and method == "dp":
        raise SchedulingError(
            "method 'dp' runs on the highs backend; the pyomo build is the MILP "
            "(use method 'auto' or 'milp' with backend 'pyomo')"
        )
    if check:
        check_feasibility(problem)
    if backend == "highs":
        if extend is not None:
            raise SchedulingError("extend: custom constraints need backend 'pyomo'")
        t0 = time.perf_counter()
        base, lay = formulate(problem)
        t_build = time.perf_counter() - t0
        if method != "milp":
            done = _solve_dp(problem, base, lay, method, t_build)
            if done is not None:
                return done
        concave = _concave(problem)
        kw = {} if mip_rel_gap is None else {"mip_rel_gap": mip_rel_gap}
        run, stats = solve_exact(base, lay, time_limit=time_limit, concave=concave, **kw)
        t_solve = time.perf_counter() - t0 - t_build
        if run.status not in ("Optimal", "Feasible"):
            if run.status == "Infeasible":
                raise explain_infeasible(base, problem)
            raise SchedulingError(f"the solver stopped with status {run.status!r}; no schedule")
        x = run.x
        power, soc = _flows_and_stock(problem, lay, x)
        procs = process_powers(problem, lay.processes, x) if problem.processes else None
        result = _result(
            problem,
            power,
            soc,
            run.objective,
            "highs",
            {"build": t_build, "solve": t_solve},
            stats.binaries + sum(c.size for c in lay.processes),  # + process columns
            stats.iterations,
            processes=procs,
        )
        result.mip_gap = stats.gap
        result.method = "milp" if stats.binaries else "lp"
        _attach_risk(problem, lay, x, result, power, soc, procs)
        if run.status == "Feasible":
            result.status = "feasible"
            result.notes.append(
                f"time limit of {time_limit} s reached: the schedule is within "
                f"{stats.gap:.2e} (relative) of the optimum, not proven optimal"
            )
        return result
    if backend == "pyomo":
        from flex_pipelines.scheduling.build_pyomo import solve_pyomo

        run = solve_pyomo(problem, extend=extend)
        power, soc = _flows_and_stock(problem, run.layout, run.x)
        procs = process_powers(problem, run.layout.processes, run.x) if problem.processes else None
        result = _result(
            problem,
            power,
            soc,
            run.objective,
            "pyomo",
            run.timings,
            run.binaries,
            run.iterations,
            processes=procs,
        )
        _attach_risk(problem, run.layout, run.x, result, power, soc, procs)
        for name, value in run.extras.items():  # user-added cost terms count in the total
            result.costs[name] = value
            result.costs["total"] += value
        return result
    raise SchedulingError(f"backend {backend!r} is not one of highs, pyomo")


def _concave(problem: SchedulingProblem) -> np.ndarray:
    """Steps where the LP relaxation may not be physical: a negative consumption price or a
    production price above it, at the site or in any scenario."""
    s, sc = problem.site, problem.scenarios
    if sc is None:
        return (s.consumption_price < 0) | (s.production_price > s.consumption_price)
    cp, pp = sc.consumption_price, sc.production_price
    return ((cp < 0) | (pp > cp)).any(axis=0)


def _attach_risk(
    problem: SchedulingProblem,
    lay: Any,
    x: np.ndarray,
    result: ScheduleResult,
    power: list[np.ndarray],
    soc: list[np.ndarray | None],
    procs: list[np.ndarray] | None,
) -> None:
    """A risk-aware solve: the costs over the scenarios (``result.risk``), and ``costs`` their
    expectation per term."""
    if problem.scenarios is None:
        return
    proc_mw = sum(procs or [], np.zeros(problem.n_steps))
    summary, expected = risk_summary(
        problem, lay.scenarios, x, power, soc, process_mw=proc_mw, processes=procs
    )
    result.risk = summary
    result.costs = expected
    result.notes.append(
        f"risk-aware: {summary.scenarios} scenarios, expected cost {summary.expected_cost:.2f}, "
        f"CVaR({summary.cvar_alpha:g}) {summary.cvar:.2f}, worst {summary.worst_cost:.2f} "
        f"{result.currency} (risk-aversion {summary.risk_aversion:g})"
    )


def _solve_dp(
    problem: SchedulingProblem, base: Any, lay: Any, method: str, t_build: float
) -> ScheduleResult | None:
    """The dynamic programme's schedule, or None when it does not apply (method ``auto``)."""
    why = applicable(base, lay, problem)
    if why is not None:
        if method == "dp":
            raise SchedulingError(
                f"method 'dp' does not apply to this problem ({why}); use 'milp' or 'auto'"
            )
        return None
    run = solve_dp(base, lay, problem)
    if run.rejected is not None:  # infeasible, or a soft limit breached: the MILP decides
        if method == "dp":
            raise SchedulingError(
                f"method 'dp' cannot certify an optimum ({run.rejected}); use 'milp' or 'auto'"
            )
        return None
    power, soc = _flows_and_stock(problem, lay, run.x)
    result = _result(
        problem, power, soc, run.objective, "highs", {"build": t_build, "solve": run.seconds}, 0, 1
    )
    result.method = "dp"
    return result


def _flows_and_stock(
    problem: SchedulingProblem, lay: Any, x: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Power per device (MW) and SoC per instant (MWh, None without stock) from the LP's
    column vector."""
    power = [x[c] - x[d] for c, d in zip(lay.charge, lay.discharge, strict=True)]
    soc = [
        None if s is None else np.concatenate([[dev.soc_at_start_mwh], x[s]])
        for s, dev in zip(lay.soc, problem.devices, strict=True)
    ]
    return power, soc


def _result(
    p: SchedulingProblem,
    power: list[np.ndarray],
    soc: list[np.ndarray | None],
    objective: float,
    backend: str,
    timings: dict[str, float],
    binaries: int,
    iterations: int,
    processes: list[np.ndarray] | None = None,
) -> ScheduleResult:
    power = [np.where(np.abs(x) < 1e-9, 0.0, x) for x in power]
    proc_mw = sum(processes or [], np.zeros(p.n_steps))
    costs = compute_costs(p, power, soc, process_mw=proc_mw, processes=processes)
    nets = site_net_power(p, power, proc_mw)
    site = nets.pop(p.site.commodity)
    devices = [
        DeviceSchedule(d.name, pw, st, d.power_sensor, d.state_of_charge_sensor)
        for d, pw, st in zip(p.devices, power, soc, strict=True)
    ]
    # jointly scheduled processes follow the storage devices (power, no SoC, chosen starts)
    devices += [
        DeviceSchedule(pd.name, pw, None, pd.power_sensor, starts=run_starts(pw, p.grid))
        for pd, pw in zip(p.processes, processes or [], strict=True)
    ]
    return ScheduleResult(
        status="optimal",
        objective=float(objective),
        costs=costs,
        unmet=unmet_soft_constraints(p, soc),
        timings=dict(timings),
        devices=devices,
        site_power_mw=site,
        grid=p.grid,
        currency=p.site.currency,
        backend=backend,
        binaries=binaries,
        iterations=iterations,
        notes=list(p.notes),
        commodity_power_mw=nets,
        group_power_mw=group_power(p, power),
    )


def parse_problem_json(
    data: Mapping[str, Any], resolver: SensorResolver | None = None
) -> SchedulingProblem:
    """The stateless problem: start, duration|end, resolution, flex-model list, flex-context."""
    if not isinstance(data, Mapping):
        raise SchedulingError("problem: expected a JSON object")
    unknown = sorted(set(data) - PROBLEM_KEYS)
    if unknown:
        raise SchedulingError(
            f"problem: unknown field {unknown[0]!r}; known: {', '.join(sorted(PROBLEM_KEYS))}"
        )
    if "start" not in data:
        raise SchedulingError("problem: 'start' missing (ISO 8601 with offset)")
    if data.get("duration") is not None and data.get("end") is not None:
        raise SchedulingError("problem: give 'duration' or 'end', not both")
    start = data["start"]
    if data.get("timezone"):  # calendar durations (P1D) then follow that zone's DST
        from flex_pipelines.time import get_zone, parse_datetime

        start = parse_datetime(start, str(data["timezone"])).astimezone(get_zone(data["timezone"]))
    grid = make_grid(
        start, data.get("resolution", "PT15M"), duration=data.get("duration"), end=data.get("end")
    )
    fms = data.get("flex-model")
    if isinstance(fms, Mapping):
        fms = [fms]
    if not isinstance(fms, list):
        raise SchedulingError("problem: 'flex-model' must be a list of device flex-models")
    fc = data.get("flex-context") or {}
    if parse_risk(fc) is not None:
        raise SchedulingError(
            "flex-context fields risk-aversion, cvar-alpha, scenarios, scenario-seed: a "
            "risk-aware schedule reads quantile forecasts from the belief store; a stateless "
            "problem has none (schedule through the store, or leave these fields out)"
        )
    return build_problem(grid, fms, fc, resolver)


def solve_problem_json(
    data: Mapping[str, Any],
    backend: str = "highs",
    resolver: SensorResolver | None = None,
    method: str = "auto",
) -> ScheduleResult:
    """Parse, check, build and solve a stateless problem; timings include parsing."""
    t0 = time.perf_counter()
    problem = parse_problem_json(data, resolver)
    t_parse = time.perf_counter() - t0
    result = solve(problem, backend, method=method)
    result.timings = {"parse": t_parse, **result.timings}
    result.timings["total"] = time.perf_counter() - t0
    return result


__all__ += ["InfeasibleError"]
