"""The pyomo build of the same problem: the extension point for custom constraints and costs.

Named components (indices: ``d`` device position, ``t`` step 0..T-1):

- ``m.charge[d, t]``, ``m.discharge[d, t]`` (MW ≥ 0), ``m.power[d, t]`` (expression, MW,
  consumption positive), ``m.soc[d, t]`` (MWh at the *end* of step t, stock devices only,
  ``m.STOCK`` is their index set), ``m.site_power[t]`` (expression, MW);
- ``m.imp[t]``, ``m.exp[t]`` (site import/export, MW ≥ 0);
- ``m.cost_terms`` — a dict name → pyomo expression (CUR); the objective is their sum.
  Add your own term under a new name and it is reported in ``costs`` (and the total).
- ``m.problem`` — the :class:`SchedulingProblem` (numpy arrays) for your rules.

Exactness uses the same lazy-binary method as the direct build (binaries added as blocks at
the steps where the relaxation charges and discharges at once, and so on). Solved with HiGHS
through pyomo's appsi interface. See docs/extending-the-scheduler.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyomo.environ as pe

from flex_pipelines.scheduling.build_highs import _finite_cap, _net_bounds, _soc_bounds
from flex_pipelines.scheduling.diagnostics import InfeasibleError
from flex_pipelines.scheduling.exact import MIP_REL_GAP, TOL
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.problem import SchedulingProblem, loss_factor_b

__all__ = ["build_pyomo_model", "solve_pyomo"]


def _pairs(m: pe.ConcreteModel) -> list[tuple[str, Any, Any, np.ndarray, np.ndarray]]:
    return m._pairs


def build_pyomo_model(p: SchedulingProblem) -> pe.ConcreteModel:
    """The LP relaxation as a pyomo model with named components (no objective yet)."""
    T, dt, s = p.n_steps, p.dt, p.site
    w = p.tie_break_weights()
    m = pe.ConcreteModel(name="storage schedule")
    m.problem = p
    m.T = pe.RangeSet(0, T - 1)
    m.D = pe.RangeSet(0, len(p.devices) - 1)
    stock = [i for i, d in enumerate(p.devices) if d.has_stock]
    m.STOCK = pe.Set(initialize=stock)
    ch_ub, dis_ub = {}, {}
    for i, d in enumerate(p.devices):
        cu = _finite_cap(d.consumption_capacity_mw, d.consumption_breach_price)
        du = _finite_cap(d.production_capacity_mw, d.production_breach_price)
        if d.operation_modes:
            cu = np.minimum(cu, max(max(b[1] for b in d.operation_modes), 0.0))
            du = np.minimum(du, max(-min(b[0] for b in d.operation_modes), 0.0))
        ch_ub[i], dis_ub[i] = cu, du
    m.charge = pe.Var(m.D, m.T, bounds=lambda m, i, t: (0.0, float(ch_ub[i][t])))
    m.discharge = pe.Var(m.D, m.T, bounds=lambda m, i, t: (0.0, float(dis_ub[i][t])))
    m.power = pe.Expression(m.D, m.T, rule=lambda m, i, t: m.charge[i, t] - m.discharge[i, t])
    bounds = {i: _soc_bounds(p.devices[i]) for i in stock}

    def soc_bounds(m, i, t):
        lo, hi = bounds[i][0][t], bounds[i][1][t]
        return (
            None if not np.isfinite(lo) else float(lo),
            None if not np.isfinite(hi) else float(hi),
        )

    m.soc = pe.Var(m.STOCK, m.T, bounds=soc_bounds)
    eff = {i: p.devices[i].storage_efficiency for i in stock}
    bfac = {i: loss_factor_b(eff[i]) * dt for i in stock}

    def balance(m, i, t):
        d = p.devices[i]
        prev = d.soc_at_start_mwh if t == 0 else m.soc[i, t - 1]
        b = float(bfac[i][t])
        return m.soc[i, t] == float(eff[i][t]) * prev + b * (
            float(d.charging_efficiency[t]) * m.charge[i, t]
            - m.discharge[i, t] / float(d.discharging_efficiency[t])
            + float(d.stock_delta_mw[t])
        )

    m.stock_balance = pe.Constraint(m.STOCK, m.T, rule=balance)
    lo, hi = _net_bounds(p)
    m.imp = pe.Var(m.T, bounds=lambda m, t: (0.0, float(max(hi[t], 0.0))))
    m.exp = pe.Var(m.T, bounds=lambda m, t: (0.0, float(max(-lo[t], 0.0))))
    m.site_power = pe.Expression(
        m.T, rule=lambda m, t: float(s.inflexible_mw[t]) + sum(m.power[i, t] for i in m.D)
    )
    m.site_balance = pe.Constraint(m.T, rule=lambda m, t: m.imp[t] - m.exp[t] == m.site_power[t])
    terms: dict[str, Any] = {}
    terms["electricity"] = dt * sum(
        float(s.consumption_price[t]) * m.imp[t] - float(s.production_price[t]) * m.exp[t]
        for t in m.T
    )
    m._pairs = [("import/export", m.imp, m.exp, np.maximum(hi, 0), np.maximum(-lo, 0))]
    for i, d in enumerate(p.devices):
        m._pairs.append((f"charge/discharge[{d.name}]", _dev(m.charge, i), _dev(m.discharge, i),
                         ch_ub[i], dis_ub[i]))  # fmt: skip
        for flow, cap, price, label in (
            (m.charge, d.consumption_capacity_mw, d.consumption_breach_price, "consumption breach"),
            (m.discharge, d.production_capacity_mw, d.production_breach_price, "production breach"),
        ):
            if price is not None:
                _soft(m, f"{label}[{d.name}]", _dev(flow, i), cap, price, dt, terms)
        if not d.has_stock and d.prefer_curtailing_later:
            terms[f"prefer curtailing later[{d.name}]"] = -sum(
                float(w[t]) * m.discharge[i, t] for t in m.T
            )
    for i in stock:
        d = p.devices[i]
        _, _, soft_lo, soft_hi = bounds[i]
        for arr, price, label, sign in (
            (soft_lo, s.soc_minima_breach_price, "soc minima breach", 1),
            (soft_hi, s.soc_maxima_breach_price, "soc maxima breach", -1),
        ):
            k = [int(t) for t in np.flatnonzero(~np.isnan(arr))]
            if not k:
                continue
            blk = pe.Block()
            m.add_component(f"{label} [{d.name}]".replace(" ", "_"), blk)
            blk.K = pe.Set(initialize=k)
            blk.gap = pe.Var(blk.K, domain=pe.NonNegativeReals)
            blk.worst = pe.Var(domain=pe.NonNegativeReals)
            if sign == 1:
                blk.c = pe.Constraint(
                    blk.K, rule=lambda b, t, i=i, a=arr: m.soc[i, t] + b.gap[t] >= float(a[t])
                )
            else:
                blk.c = pe.Constraint(
                    blk.K, rule=lambda b, t, i=i, a=arr: m.soc[i, t] - b.gap[t] <= float(a[t])
                )
            blk.any = pe.Constraint(blk.K, rule=lambda b, t: b.worst >= b.gap[t])
            pr = float(price or 0.0)
            terms[f"{label}[{d.name}]"] = pr * blk.worst + pr * dt * sum(blk.gap[t] for t in blk.K)
        if d.prefer_charging_sooner and np.isfinite(d.soc_max_mwh):
            terms[f"prefer charging sooner[{d.name}]"] = sum(
                float(w[t]) * (d.soc_max_mwh - m.soc[i, t]) for t in m.T
            )
    if s.consumption_soft_mw is not None and s.consumption_breach_price is not None:
        _soft(m, "site consumption breach", m.imp, s.consumption_soft_mw,
              s.consumption_breach_price, dt, terms)  # fmt: skip
    if s.production_soft_mw is not None and s.production_breach_price is not None:
        _soft(m, "site production breach", m.exp, s.production_soft_mw,
              s.production_breach_price, dt, terms)  # fmt: skip
    for flow, peak, price, label in (
        (m.imp, s.peak_consumption_mw, s.peak_consumption_price, "site peak consumption"),
        (m.exp, s.peak_production_mw, s.peak_production_price, "site peak production"),
    ):
        if price is not None and peak is not None:
            blk = pe.Block()
            m.add_component(label.replace(" ", "_"), blk)
            blk.excess = pe.Var(domain=pe.NonNegativeReals)
            blk.c = pe.Constraint(
                m.T, rule=lambda b, t, f=flow, pk=peak: b.excess >= f[t] - float(pk[t])
            )
            terms[label] = float(np.max(price)) * blk.excess
    for j, c in enumerate(s.commitments):
        blk = pe.Block()
        m.add_component(f"commitment_{j}", blk)
        up_ub, dn_ub = np.maximum(hi - c.baseline_mw, 0), np.maximum(c.baseline_mw - lo, 0)
        blk.up = pe.Var(m.T, bounds=lambda b, t, u=up_ub: (0.0, float(u[t])))
        blk.down = pe.Var(m.T, bounds=lambda b, t, u=dn_ub: (0.0, float(u[t])))
        blk.c = pe.Constraint(m.T, rule=lambda b, t, c=c: m.imp[t] - m.exp[t] - b.up[t] + b.down[t]
                              == float(c.baseline_mw[t]))  # fmt: skip
        terms[c.name] = dt * sum(float(c.up_price[t]) * blk.up[t]
                                 - float(c.down_price[t]) * blk.down[t] for t in m.T)  # fmt: skip
        m._pairs.append((f"commitment {c.name}", blk.up, blk.down, up_ub, dn_ub))
    m.cost_terms = terms
    m._standard_terms = set(terms)
    return m


class _DeviceView:
    """``view[t]`` is ``var[i, t]``: lets device variables be handled like site ones."""

    def __init__(self, var: Any, i: int) -> None:
        self.var, self.i = var, i

    def __getitem__(self, t: int) -> Any:
        return self.var[self.i, t]


def _dev(var: Any, i: int) -> _DeviceView:
    return _DeviceView(var, i)


def _soft(m, name, flow, cap, price, dt, terms) -> None:
    blk = pe.Block()
    m.add_component(name.replace(" ", "_").replace("[", "_").replace("]", ""), blk)
    blk.breach = pe.Var(m.T, domain=pe.NonNegativeReals)
    blk.worst = pe.Var(domain=pe.NonNegativeReals)
    blk.c = pe.Constraint(m.T, rule=lambda b, t: flow[t] - b.breach[t] <= float(cap[t]))
    blk.any = pe.Constraint(m.T, rule=lambda b, t: b.worst >= b.breach[t])
    terms[name + " (each step)"] = dt * sum(float(price[t]) * blk.breach[t] for t in m.T)
    terms[name + " (worst)"] = float(np.max(price)) * blk.worst


def _add_binaries(m, it: int, pair_steps: dict[int, set[int]], mode_steps: dict[int, set[int]]):
    blk = pe.Block()
    m.add_component(f"binaries_{it}", blk)
    pairs = _pairs(m)
    for j, steps in pair_steps.items():
        if not steps:
            continue
        _, a, b, am, bm = pairs[j]
        K = sorted(steps)
        z = pe.Var(K, domain=pe.Binary)
        blk.add_component(f"z{j}", z)
        blk.add_component(
            f"a{j}",
            pe.Constraint(K, rule=lambda _, t, a=a, am=am, z=z: a[t] <= float(am[t]) * z[t]),
        )
        blk.add_component(
            f"b{j}",
            pe.Constraint(K, rule=lambda _, t, b=b, bm=bm, z=z: b[t] <= float(bm[t]) * (1 - z[t])),
        )
    p: SchedulingProblem = m.problem
    for i, steps in mode_steps.items():
        if not steps:
            continue
        bands = p.devices[i].operation_modes or []
        K = sorted(steps)
        B = range(len(bands))
        z = pe.Var(K, B, domain=pe.Binary)
        blk.add_component(f"mode{i}", z)
        blk.add_component(
            f"one{i}", pe.Constraint(K, rule=lambda _, t, z=z, B=B: sum(z[t, k] for k in B) == 1)
        )
        blk.add_component(
            f"lo{i}",
            pe.Constraint(
                K,
                rule=lambda _, t, z=z, B=B, i=i, bands=bands: (
                    m.power[i, t] >= sum(bands[k][0] * z[t, k] for k in B)
                ),
            ),
        )
        blk.add_component(
            f"hi{i}",
            pe.Constraint(
                K,
                rule=lambda _, t, z=z, B=B, i=i, bands=bands: (
                    m.power[i, t] <= sum(bands[k][1] * z[t, k] for k in B)
                ),
            ),
        )
        fixed = sum(bands[k][2] * z[t, k] for t in K for k in B if bands[k][2])
        if not isinstance(fixed, int):
            m.cost_terms[f"operation modes[{p.devices[i].name}]"] = fixed + m.cost_terms.get(
                f"operation modes[{p.devices[i].name}]", 0
            )


def _violations(m) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    T = len(m.T)
    bad_pairs: dict[int, set[int]] = {}
    for j, (_, a, b, _, _) in enumerate(_pairs(m)):
        av = np.array([pe.value(a[t]) or 0.0 for t in range(T)])
        bv = np.array([pe.value(b[t]) or 0.0 for t in range(T)])
        bad = np.flatnonzero((av > TOL) & (bv > TOL))
        if bad.size:
            bad_pairs[j] = set(bad.tolist())
    bad_modes: dict[int, set[int]] = {}
    p: SchedulingProblem = m.problem
    for i, d in enumerate(p.devices):
        if not d.operation_modes:
            continue
        pw = np.array([pe.value(m.power[i, t]) for t in range(T)])
        ok = np.zeros(T, dtype=bool)
        for lo, hi, _ in d.operation_modes:
            ok |= (pw >= lo - TOL) & (pw <= hi + TOL)
        if (~ok).any():
            bad_modes[i] = set(np.flatnonzero(~ok).tolist())
    return bad_pairs, bad_modes


def solve_pyomo(
    p: SchedulingProblem,
    extend: Callable[[pe.ConcreteModel, SchedulingProblem], None] | None = None,
    max_iterations: int = 12,
) -> tuple[
    list[np.ndarray], list[np.ndarray | None], float, dict[str, float], int, int, dict[str, float]
]:
    """Build, extend, solve exactly with HiGHS (appsi). Returns power, soc, objective, timings,
    number of binaries, iterations and the values of user-added cost terms."""
    from pyomo.contrib.appsi.base import TerminationCondition
    from pyomo.contrib.appsi.solvers import Highs

    t0 = time.perf_counter()
    m = build_pyomo_model(p)
    T = p.n_steps
    mode_steps = {i: set(range(T)) for i, d in enumerate(p.devices)
                  if d.operation_modes and any(b[2] for b in d.operation_modes)}  # fmt: skip
    if extend is not None:
        extend(m, p)
    if mode_steps:
        _add_binaries(m, 0, {}, mode_steps)
    m.objective = pe.Objective(expr=sum(m.cost_terms.values()))
    t_build = time.perf_counter() - t0
    opt = Highs()
    opt.config.mip_gap = MIP_REL_GAP
    opt.config.load_solution = False
    pair_steps: dict[int, set[int]] = {}
    n_bin = sum(len(v) * len(p.devices[i].operation_modes or []) for i, v in mode_steps.items())
    it = 0
    for it in range(1, max_iterations + 1):
        res = opt.solve(m)
        if res.termination_condition != TerminationCondition.optimal:
            if res.termination_condition in (TerminationCondition.infeasible,
                                             TerminationCondition.infeasibleOrUnbounded):  # fmt: skip
                raise InfeasibleError("infeasible (pyomo build): the hard constraints cannot all "
                                      "hold; solve with backend 'highs' for the field and time")  # fmt: skip
            raise SchedulingError(f"pyomo/HiGHS stopped with {res.termination_condition}")
        res.solution_loader.load_vars()
        bad_pairs, bad_modes = _violations(m)
        if not bad_pairs and not bad_modes:
            break
        new_p = {j: s - pair_steps.get(j, set()) for j, s in bad_pairs.items()}
        new_m = {i: s - mode_steps.get(i, set()) for i, s in bad_modes.items()}
        for j, s in new_p.items():
            pair_steps.setdefault(j, set()).update(s)
            n_bin += len(s)
        for i, s in new_m.items():
            mode_steps.setdefault(i, set()).update(s)
            n_bin += len(s) * len(p.devices[i].operation_modes or [])
        m.del_component(m.objective)
        _add_binaries(m, it, new_p, new_m)
        m.objective = pe.Objective(expr=sum(m.cost_terms.values()))
    t_solve = time.perf_counter() - t0 - t_build
    power = [np.array([pe.value(m.power[i, t]) for t in range(T)]) for i in range(len(p.devices))]
    soc: list[np.ndarray | None] = []
    for i, d in enumerate(p.devices):
        if d.has_stock:
            soc.append(
                np.concatenate([[d.soc_at_start_mwh], [pe.value(m.soc[i, t]) for t in range(T)]])
            )
        else:
            soc.append(None)
    extras = {k: float(pe.value(v)) for k, v in m.cost_terms.items() if k not in m._standard_terms
              and not k.startswith("operation modes")}  # fmt: skip
    obj = float(pe.value(m.objective))
    return power, soc, obj, {"build": t_build, "solve": t_solve}, n_bin, it, extras
