"""Exact dynamic programme over the state of charge, for problems whose steps only meet in SoC.

When every cost term is per step (energy prices, per-step commitments, tie-breakers) and each
device's only link between steps is its stock, the problem with exclusive charging and
discharging is a shortest path over a one-dimensional state. The value function

    V_j(s) = min over x in X_j of  f_j(x) + V_{j+1}(eff_j * s + c_j + x)

(``x`` = the step's stock change from charging or discharging, ``f_j`` = the step's cost of it,
with the exclusivity built in: consumption ``x / (b * eta_c)`` when ``x >= 0`` and
``x * eta_d / b`` when ``x < 0``) is piecewise linear in ``s``, convex or not. It is computed
exactly, backwards, with the operations of :mod:`flex_pipelines.scheduling.pwl`; a forward pass
then picks each step's optimal ``x``. No binary variables, no branching: negative prices (where
the per-step cost is concave and the LP relaxation would charge and discharge at once) cost the
same as any other price. The result is the optimum of the mixed-integer problem, up to
floating-point rounding.

Which problems qualify: see :mod:`~flex_pipelines.scheduling.dp_model` (devices with a stock and
no operation modes; per-step site terms; one device, or devices that share nothing; soft limits
whose once-charged worst breach the programme's optimum leaves at zero). Everything else goes
to the lazy-binary MILP (:mod:`flex_pipelines.scheduling.exact`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from flex_pipelines.scheduling.build_highs import Layout
from flex_pipelines.scheduling.dp_model import (
    SocPenalty,
    Steps,
    applicable,
    fill_columns,
    soc_penalty,
    step_costs,
)
from flex_pipelines.scheduling.linear_model import LinearModel
from flex_pipelines.scheduling.problem import Device, SchedulingProblem, loss_factor_b
from flex_pipelines.scheduling.pwl import (
    SLOPE_TOL,
    X_TOL,
    Convex,
    Pwl,
    add_hinge,
    as_convex,
    convex_argmin,
    convex_step,
    inf_convolution,
    restrict,
)

__all__ = ["DpRun", "applicable", "solve_dp"]


@dataclass
class DpRun:
    x: np.ndarray  # the LP's column vector
    objective: float
    seconds: float
    breakpoints: int  # largest value function (breakpoints), a measure of the work
    rejected: str | None = None  # why x is not a certified optimum (infeasible, soft breach)


def solve_dp(base: LinearModel, lay: Layout, p: SchedulingProblem) -> DpRun:
    """The exact optimum; ``rejected`` says why not when the problem is infeasible or the
    optimum of the relaxation breaches a soft limit (the caller then uses the MILP)."""
    t0 = time.perf_counter()
    arr = base.arrays()
    x = np.zeros(base.n_cols)
    largest = 0
    for d, dev in enumerate(p.devices):
        steps = step_costs(arr, lay, p, base, d)
        pen = soc_penalty(arr, lay, d, p.n_steps)
        big = abs(dev.soc_at_start_mwh) + float(np.abs(steps.x).max(axis=1).sum()) + 1.0
        soc_lo = np.maximum(arr["lb"][lay.soc[d]], -big)
        soc_hi = np.minimum(arr["ub"][lay.soc[d]], big)
        plan, _, n_bp = _backward(dev, p.dt, steps, soc_lo, soc_hi, pen)
        largest = max(largest, n_bp)
        if plan is None:
            return DpRun(x, np.nan, time.perf_counter() - t0, largest, "infeasible")
        q = _forward(dev, p.dt, steps, plan)
        x[lay.charge[d]] = np.maximum(q, 0.0)
        x[lay.discharge[d]] = np.maximum(-q, 0.0)
        x[lay.soc[d]] = _soc(dev, p.dt, x[lay.charge[d]], x[lay.discharge[d]])
    why = fill_columns(x, arr, lay, p, base)
    obj = float(arr["cost"] @ x) + base.offset
    return DpRun(x, obj, time.perf_counter() - t0, largest, why)


def _step_pieces(st: Steps) -> tuple[list, list, list[bool]]:
    """Per step, the cost's pieces ``(slope, length)`` in ``x``, its right end, and whether it
    is convex (as Python lists for the pure-Python convex step)."""
    dx = st.x[:, 1:] - st.x[:, :-1]
    live = dx > X_TOL
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(live, (st.cost[:, 1:] - st.cost[:, :-1]) / dx, 0.0)
    convex = np.ones(dx.shape[0], dtype=bool)
    for i in range(dx.shape[1]):
        for k in range(i + 1, dx.shape[1]):
            drop = slope[:, i] > slope[:, k] + SLOPE_TOL * (1.0 + np.abs(slope[:, k]))
            convex &= ~(live[:, i] & live[:, k] & drop)
    rows = zip(slope.tolist(), dx.tolist(), live.tolist(), strict=True)
    pieces = [[(a, w) for a, w, k in zip(sl, ln, ok, strict=True) if k] for sl, ln, ok in rows]
    ends = list(zip(st.x[:, -1].tolist(), st.cost[:, -1].tolist(), strict=True))
    return pieces, ends, convex.tolist()


def _backward(
    dev: Device, dt: float, st: Steps, soc_lo: np.ndarray, soc_hi: np.ndarray, pen: SocPenalty
) -> tuple[list | None, Convex | Pwl | None, int]:
    """Backwards from ``V_T`` (the last soft-bound penalty, or 0): per step, what the forward
    pass needs to pick the step's optimum (the merge of a convex step, or ``V_{j+1}`` as
    arrays), then ``V_0``, and the largest number of pieces met. SoC bounds must be finite."""
    T = st.q.shape[0]
    eff = dev.storage_efficiency.tolist()
    shift = (loss_factor_b(dev.storage_efficiency) * dt * dev.stock_delta_mw).tolist()
    lo_l, hi_l = soc_lo.tolist(), soc_hi.tolist()
    pieces, ends, convex = _step_pieces(st)
    plan: list = [None] * T
    v: Convex | Pwl | None = Convex(
        lo_l[-1], 0.0, [(0.0, hi_l[-1] - lo_l[-1], True)] if hi_l[-1] > lo_l[-1] else []
    )
    active = (~np.isnan(pen.lo) | ~np.isnan(pen.hi)).tolist()
    if active[T - 1]:
        v = _penalize(v, pen, T - 1)
    largest = 0
    for j in range(T - 1, -1, -1):
        lo, hi = (lo_l[j - 1], hi_l[j - 1]) if j else (-np.inf, np.inf)
        if isinstance(v, Convex) and convex[j]:
            largest = max(largest, len(v.pieces) + 1)
            v, plan[j] = convex_step(v, pieces[j], ends[j], eff[j], shift[j], lo, hi)
        else:
            va = v.arrays() if isinstance(v, Convex) else v
            largest = max(largest, va[0].size)
            plan[j] = va
            u = inf_convolution(va, st.x[j], st.cost[j])
            w = restrict(((u[0] - shift[j]) / eff[j], u[1]), lo, hi)
            v = None if w is None else (as_convex(w) or w)
        if v is None:
            return None, None, largest
        if j and active[j - 1]:
            v = _penalize(v, pen, j - 1)
    return plan, v, largest


def _penalize(v: Convex | Pwl, pen: SocPenalty, col: int) -> Convex | Pwl:
    """Add the per-step price of SoC column ``col``'s soft bounds to ``v``."""
    if not np.isnan(pen.lo[col]):
        v = add_hinge(v, float(pen.lo[col]), float(pen.lo_price[col]), 0.0)
    if not np.isnan(pen.hi[col]):
        v = add_hinge(v, float(pen.hi[col]), 0.0, float(pen.hi_price[col]))
    return v


def _forward(dev: Device, dt: float, st: Steps, plan: list) -> np.ndarray:
    """Each step's optimal power (MW), following the plan from the stock at the start."""
    T = st.q.shape[0]
    eff = dev.storage_efficiency.tolist()
    b = loss_factor_b(dev.storage_efficiency) * dt
    shift = (b * dev.stock_delta_mw).tolist()
    to_q_up = (1.0 / (b * dev.charging_efficiency)).tolist()
    to_q_dn = (dev.discharging_efficiency / b).tolist()
    x_lo, x_hi = st.x[:, 0].tolist(), st.x[:, -1].tolist()
    s = float(dev.soc_at_start_mwh)
    q = [0.0] * T
    for j in range(T):
        u = eff[j] * s + shift[j]
        rec = plan[j]
        if isinstance(rec[1], float):  # a convex step's merge
            x = convex_argmin(rec, u)
        else:
            x = _best_x(rec, st.x[j], st.cost[j], u)
        x = min(max(x, x_lo[j]), x_hi[j])
        q[j] = x * (to_q_up[j] if x >= 0 else to_q_dn[j])
        s = u + x
    return np.array(q)


def _best_x(v: Pwl, xs: np.ndarray, cs: np.ndarray, u: float) -> float:
    """argmin over ``x`` of ``c(x) + v(u + x)``: at a breakpoint of either."""
    vx, vy = v
    lo, hi = max(xs[0], vx[0] - u), min(xs[-1], vx[-1] - u)
    if lo > hi:  # rounding at a pinned stock: take the nearest reachable point
        lo = hi = min(max(vx[0] - u, xs[0]), xs[-1])
    cand = np.concatenate([xs, vx - u])
    cand = np.concatenate([[lo, hi], cand[(cand >= lo) & (cand <= hi)]])
    total = np.interp(cand, xs, cs) + np.interp(u + cand, vx, vy)
    return float(cand[int(np.argmin(total))])


def _soc(dev: Device, dt: float, ch: np.ndarray, dis: np.ndarray) -> np.ndarray:
    """The stock at each step's end, by the model's own recursion."""
    eff = dev.storage_efficiency
    b = loss_factor_b(eff) * dt
    add = b * (dev.charging_efficiency * ch - dis / dev.discharging_efficiency + dev.stock_delta_mw)
    out = np.empty(ch.size)
    s = dev.soc_at_start_mwh
    for j in range(ch.size):
        s = eff[j] * s + add[j]
        out[j] = s
    return out
