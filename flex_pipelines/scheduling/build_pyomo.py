"""The pyomo model of the problem, derived from its one description: the extension point.

:func:`build_pyomo_model` turns the blocks of :func:`~.build_highs.formulate` into a pyomo model
(one variable per column, one constraint per row, one cost term per labelled cost), so nothing is
written twice: a constraint added to the description is in this model too. On top it names what
user rules need (indices: ``d`` device position, ``t`` step 0..T-1):

- ``m.charge[d, t]``, ``m.discharge[d, t]`` (MW ≥ 0), ``m.power[d, t]`` (expression, MW,
  consumption positive), ``m.soc[d, t]`` (MWh at the *end* of step t, stock devices only,
  ``m.STOCK`` is their index set), ``m.site_power[t]`` (expression, MW);
- ``m.imp[t]``, ``m.exp[t]`` (site import/export, MW ≥ 0);
- ``m.cost_terms`` — a dict name → pyomo expression (CUR); the objective is their sum.
  Add your own term under a new name and it is reported in ``costs`` (and the total).
- ``m.problem`` — the :class:`SchedulingProblem` (numpy arrays) for your rules;
- ``m.x`` — every column of the description (``m.description`` holds the blocks).

Exactness uses the same lazy-binary method as the direct build: the binaries of
:func:`~.exact.add_binaries` at the steps where the relaxation is not physical, turned into pyomo
blocks the same way. Solved with HiGHS through pyomo's appsi interface. See
docs/extending-the-scheduler.md.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pe
from pyomo.core.expr.numeric_expr import LinearExpression

from flex_pipelines.scheduling.build_highs import Layout, formulate
from flex_pipelines.scheduling.diagnostics import InfeasibleError
from flex_pipelines.scheduling.exact import MIP_REL_GAP, add_binaries, violations
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.linear_model import LinearModel
from flex_pipelines.scheduling.problem import SchedulingProblem

__all__ = ["PyomoRun", "build_pyomo_model", "solve_pyomo"]


def _bound(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _name(text: str) -> str:
    return re.sub(r"\W+", "_", text).strip("_") or "block"


def _add_columns(blk: Any, attr: str, model: LinearModel, first: int) -> Any:
    """Variables for the columns ``first ..`` of ``model`` as ``blk.<attr>[i - first]``."""
    a = model.arrays()
    lb, ub, integer = a["lb"][first:], a["ub"][first:], a["int"][first:]

    def domain(_b: Any, i: int) -> Any:
        if not integer[i]:
            return pe.Reals
        return pe.Binary if lb[i] == 0 and ub[i] == 1 else pe.Integers

    var = pe.Var(range(lb.size), domain=domain, bounds=lambda _b, i: (_bound(lb[i]), _bound(ub[i])))
    blk.add_component(attr, var)
    return var


def _add_rows(blk: Any, model: LinearModel, first: int, column: Callable[[int], Any]) -> None:
    """One pyomo constraint per row of ``model`` from row ``first`` on (one component per
    row block, named after it)."""
    if model.n_rows <= first:
        return
    a = model.arrays()
    csr = model.to_csc().tocsr()
    for k, rb in enumerate(b for b in model.row_blocks if b.start >= first):
        rows = range(rb.start, rb.start + rb.count)

        def rule(_b: Any, r: int) -> Any:
            lo, hi = a["rlb"][r], a["rub"][r]
            s, e = csr.indptr[r], csr.indptr[r + 1]
            expr = LinearExpression(
                constant=0.0,
                linear_coefs=csr.data[s:e].tolist(),
                linear_vars=[column(int(c)) for c in csr.indices[s:e]],
            )
            if lo == hi:
                return expr == float(lo)
            if not (np.isfinite(lo) or np.isfinite(hi)):
                return pe.Constraint.Skip
            return (_bound(lo), expr, _bound(hi))

        blk.add_component(f"r{k}_{_name(rb.name)}", pe.Constraint(rows, rule=rule))


def _cost_expressions(
    model: LinearModel, parts: list, column: Callable[[int], Any]
) -> dict[str, Any]:
    """Cost term name → linear expression (currency), from the description's labelled costs."""
    grouped: dict[str, dict[int, float]] = {}
    for term, idx, vals in parts:
        acc = grouped.setdefault(term or "cost", {})
        for c, v in zip(
            np.asarray(idx).tolist(), np.asarray(vals, dtype=float).tolist(), strict=True
        ):
            if v:
                acc[c] = acc.get(c, 0.0) + v
    out = {}
    for term, coefs in grouped.items():
        out[term] = LinearExpression(
            constant=0.0,
            linear_coefs=list(coefs.values()),
            linear_vars=[column(c) for c in coefs],
        )
    return out


def build_pyomo_model(p: SchedulingProblem) -> pe.ConcreteModel:
    """The problem's description (:func:`~.build_highs.formulate`, with import and export
    columns) as a pyomo model with named components; no objective yet (``m.cost_terms``)."""
    base, lay = formulate(p, split_site=True)
    T = p.n_steps
    m = pe.ConcreteModel(name="storage schedule")
    m.problem = p
    m.description = (base, lay)
    x = _add_columns(m, "x", base, 0)
    _add_rows(m, base, 0, lambda c: x[c])
    m.T = pe.RangeSet(0, T - 1)
    m.D = pe.RangeSet(0, len(p.devices) - 1)
    stock = [i for i, d in enumerate(p.devices) if d.has_stock]
    m.STOCK = pe.Set(initialize=stock)
    m.charge = pe.Reference(
        {(d, t): x[int(c)] for d, cs in enumerate(lay.charge) for t, c in enumerate(cs)}
    )
    m.discharge = pe.Reference(
        {(d, t): x[int(c)] for d, cs in enumerate(lay.discharge) for t, c in enumerate(cs)}
    )
    m.soc = pe.Reference({(d, t): x[int(c)] for d in stock for t, c in enumerate(lay.soc[d])})
    m.power = pe.Expression(m.D, m.T, rule=lambda m, d, t: m.charge[d, t] - m.discharge[d, t])
    assert lay.imp is not None and lay.exp is not None
    m.imp = pe.Reference({t: x[int(c)] for t, c in enumerate(lay.imp)})
    m.exp = pe.Reference({t: x[int(c)] for t, c in enumerate(lay.exp)})
    m.site_power = pe.Expression(m.T, rule=lambda m, t: m.imp[t] - m.exp[t])
    terms = _cost_expressions(base, base.cost_parts, lambda c: x[c])
    for term, value in base.offset_terms.items():
        terms[term or "cost"] = terms.get(term or "cost", 0.0) + value
    rest = base.offset - sum(base.offset_terms.values())
    if abs(rest) > 0:
        terms["constant"] = rest
    m.cost_terms = terms
    m._standard_terms = set(terms)
    return m


def _add_binaries(
    m: pe.ConcreteModel,
    it: int,
    pair_steps: dict[int, np.ndarray],
    mode_steps: dict[int, np.ndarray],
) -> int:
    """The binaries :func:`~.exact.add_binaries` adds at these steps, as a pyomo block; returns
    how many."""
    base, lay = m.description
    full = add_binaries(base, lay, pair_steps, mode_steps)
    if full.n_cols == base.n_cols:
        return 0
    blk = pe.Block()
    m.add_component(f"binaries_{it}", blk)
    z = _add_columns(blk, "z", full, base.n_cols)

    def column(c: int) -> Any:
        return m.x[c] if c < base.n_cols else z[c - base.n_cols]

    _add_rows(blk, full, base.n_rows, column)
    for term, expr in _cost_expressions(
        full, full.cost_parts[len(base.cost_parts) :], column
    ).items():
        m.cost_terms[term] = m.cost_terms.get(term, 0.0) + expr
    return full.n_cols - base.n_cols


@dataclass
class PyomoRun:
    """A solved pyomo model: the description's column vector, objective, timings, binaries,
    iterations, and the values of the cost terms user rules added."""

    x: np.ndarray
    layout: Layout
    objective: float
    timings: dict[str, float]
    binaries: int
    iterations: int
    extras: dict[str, float]


def solve_pyomo(
    p: SchedulingProblem,
    extend: Callable[[pe.ConcreteModel, SchedulingProblem], None] | None = None,
    max_iterations: int = 12,
) -> PyomoRun:
    """Build, extend, solve exactly with HiGHS (appsi)."""
    from pyomo.contrib.appsi.base import TerminationCondition
    from pyomo.contrib.appsi.solvers import Highs

    t0 = time.perf_counter()
    m = build_pyomo_model(p)
    base, lay = m.description
    T = p.n_steps
    ones = np.ones(T, dtype=bool)
    mode_steps = {d: ones for d, bands in lay.modes.items() if any(b[2] for b in bands)}
    pair_steps: dict[int, np.ndarray] = {}
    if extend is not None:
        extend(m, p)
    n_bin = _add_binaries(m, 0, {}, mode_steps) if mode_steps else 0
    m.objective = pe.Objective(expr=sum(m.cost_terms.values()))
    t_build = time.perf_counter() - t0
    opt = Highs()
    opt.config.mip_gap = MIP_REL_GAP
    opt.config.load_solution = False
    it, x = 0, np.zeros(base.n_cols)
    for it in range(1, max_iterations + 1):
        res = opt.solve(m)
        if res.termination_condition != TerminationCondition.optimal:
            if res.termination_condition in (
                TerminationCondition.infeasible,
                TerminationCondition.infeasibleOrUnbounded,
            ):
                raise InfeasibleError(
                    "infeasible (pyomo build): the hard constraints cannot all "
                    "hold; solve with backend 'highs' for the field and time"
                )
            raise SchedulingError(f"pyomo/HiGHS stopped with {res.termination_condition}")
        res.solution_loader.load_vars()
        x = np.array([pe.value(m.x[i]) or 0.0 for i in range(base.n_cols)])
        bad_pairs, bad_modes = violations(x, lay)
        if not bad_pairs and not bad_modes:
            break
        last = it == max_iterations - 1
        new_p = {i: (ones if last else s) & ~pair_steps.get(i, ~ones) for i, s in bad_pairs.items()}
        new_m = {d: (ones if last else s) & ~mode_steps.get(d, ~ones) for d, s in bad_modes.items()}
        for i, s in new_p.items():
            pair_steps[i] = pair_steps.get(i, ~ones) | s
        for d, s in new_m.items():
            mode_steps[d] = mode_steps.get(d, ~ones) | s
        n_bin += _add_binaries(m, it, new_p, new_m)
        m.del_component(m.objective)
        m.objective = pe.Objective(expr=sum(m.cost_terms.values()))
    t_solve = time.perf_counter() - t0 - t_build
    extras = {
        k: float(pe.value(v))
        for k, v in m.cost_terms.items()
        if k not in m._standard_terms and not k.startswith("operation modes")
    }
    obj = float(pe.value(m.objective))
    return PyomoRun(x, lay, obj, {"build": t_build, "solve": t_solve}, n_bin, it, extras)
