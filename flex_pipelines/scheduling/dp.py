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

Which problems qualify (:func:`applicable`): devices with a stock and no operation modes; a site
with per-step terms only (no peaks, no "any"-breach terms, no soft SoC constraints, whose worst
breach is charged once); no processes; and either one device or devices that share nothing
(no binding site limit, one energy price). Everything else goes to the lazy-binary MILP
(:mod:`flex_pipelines.scheduling.exact`). The schedule is written into the LP's column vector
and checked against every row of the model before it is returned.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from flex_pipelines.scheduling.build_highs import Layout
from flex_pipelines.scheduling.linear_model import LinearModel
from flex_pipelines.scheduling.problem import Device, SchedulingProblem, loss_factor_b
from flex_pipelines.scheduling.pwl import (
    SLOPE_TOL,
    X_TOL,
    Convex,
    Pwl,
    as_convex,
    convex_argmin,
    convex_step,
    inf_convolution,
    restrict,
)

__all__ = ["DpRun", "applicable", "solve_dp"]

FEAS_TOL = 1e-7
_COLS = re.compile(r"^(charge|discharge|soc)\[.*\]$|^(import|export)$")
_ROWS = re.compile(r"^stock balance\[.*\]$|^site balance$|^commitment ")


@dataclass
class DpRun:
    x: np.ndarray  # the LP's column vector
    objective: float
    seconds: float
    breakpoints: int  # largest value function (breakpoints), a measure of the work


def applicable(base: LinearModel, lay: Layout, p: SchedulingProblem) -> str | None:
    """None when the dynamic programme solves this problem exactly, else why not."""
    if p.processes:
        return "processes"
    if lay.modes:
        return "operation modes"
    if not all(d.has_stock for d in p.devices):
        return "a device without stock"
    if any((d.storage_efficiency <= 0).any() for d in p.devices):
        return "storage-efficiency 0"
    commitments = {f"{c.name} up" for c in p.site.commitments} | {
        f"{c.name} down" for c in p.site.commitments
    }
    for name in base.cols:
        if not _COLS.match(name) and name not in commitments:
            return f"variable {name!r} couples steps"
    for blk in base.row_blocks:
        if not _ROWS.match(blk.name):
            return f"constraint {blk.name!r} couples steps"
    if len(p.devices) > 1 and (lay.imp is not None or "site balance" in {
            b.name for b in base.row_blocks}):  # fmt: skip
        return "devices share the site"
    return None


def solve_dp(base: LinearModel, lay: Layout, p: SchedulingProblem) -> DpRun | None:
    """The exact optimum, or None if the model's rows reject the schedule (never expected)."""
    t0 = time.perf_counter()
    arr = base.arrays()
    x = np.zeros(base.n_cols)
    largest = 0
    for d, dev in enumerate(p.devices):
        steps = _step_costs(arr, lay, p, base, d)
        soc_lo = arr["lb"][lay.soc[d]]
        soc_hi = arr["ub"][lay.soc[d]]
        big = abs(dev.soc_at_start_mwh) + float(np.abs(steps.x).max(axis=1).sum()) + 1.0
        plan, _, n_bp = _backward(dev, p.dt, steps, np.maximum(soc_lo, -big),
                                  np.minimum(soc_hi, big))  # fmt: skip
        largest = max(largest, n_bp)
        if plan is None:
            return None
        q = _forward(dev, p.dt, steps, plan)
        x[lay.charge[d]] = np.maximum(q, 0.0)
        x[lay.discharge[d]] = np.maximum(-q, 0.0)
        x[lay.soc[d]] = _soc(dev, p.dt, x[lay.charge[d]], x[lay.discharge[d]])
    _fill_site(x, lay, p, base)
    if not _satisfies(base, arr, x):
        return None
    obj = float(arr["cost"] @ x) + base.offset
    return DpRun(x, obj, time.perf_counter() - t0, largest)


@dataclass
class _Steps:
    """Per step: breakpoints of the device's power ``q`` (MW; columns sorted), the cost there,
    and the same breakpoints as stock changes ``x`` (MWh)."""

    q: np.ndarray  # (T, K)
    cost: np.ndarray  # (T, K)
    x: np.ndarray  # (T, K)


def _step_costs(arr: dict, lay: Layout, p: SchedulingProblem, base: LinearModel, d: int) -> _Steps:
    """The per-step cost of device ``d``'s power as a piecewise-linear function, from the
    model's own cost vector and bounds (so the objective is the model's, term for term)."""
    T = p.n_steps
    dev = p.devices[d]
    ch, dis = lay.charge[d], lay.discharge[d]
    q_lo, q_hi = -arr["ub"][dis], arr["ub"][ch]
    c_ch, c_dis = arr["cost"][ch], arr["cost"][dis]
    inflex = p.site.inflexible_mw
    kinks = [np.zeros(T)]
    site_terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (kink in net, up, down)
    for blk in base.row_blocks:
        if blk.name == "site balance" and lay.imp is None:  # linear site: bounds on the flows
            rows = np.arange(blk.start, blk.start + blk.count)
            q_lo = np.maximum(q_lo, arr["rlb"][rows])
            q_hi = np.minimum(q_hi, arr["rub"][rows])
    if lay.imp is not None:  # import/export split: net = inflexible + q
        q_lo = np.maximum(q_lo, -arr["ub"][lay.exp] - inflex)
        q_hi = np.minimum(q_hi, arr["ub"][lay.imp] - inflex)
        site_terms.append((np.zeros(T), arr["cost"][lay.imp], arr["cost"][lay.exp]))
        for c in p.site.commitments:
            up, dn = base.cols[f"{c.name} up"], base.cols[f"{c.name} down"]
            site_terms.append((c.baseline_mw, arr["cost"][up], arr["cost"][dn]))
    for kink, _, _ in site_terms:
        kinks.append(kink - inflex)
    q = np.column_stack([q_lo, *kinks, q_hi])
    q = np.sort(np.clip(q, q_lo[:, None], q_hi[:, None]), axis=1)
    cost = c_ch[:, None] * np.maximum(q, 0.0) + c_dis[:, None] * np.maximum(-q, 0.0)
    for kink, c_up, c_dn in site_terms:
        dev_net = inflex[:, None] + q - kink[:, None]
        cost += c_up[:, None] * np.maximum(dev_net, 0.0) + c_dn[:, None] * np.maximum(-dev_net, 0.0)
    b = (loss_factor_b(dev.storage_efficiency) * p.dt)[:, None]
    xs = np.where(q >= 0, q * b * dev.charging_efficiency[:, None],
                  q * b / dev.discharging_efficiency[:, None])  # fmt: skip
    return _Steps(q, cost, xs)


def _step_pieces(st: _Steps) -> tuple[list, list, list[bool]]:
    """Per step, the cost's pieces ``(slope, length)`` in ``x``, its right end, and whether it
    is convex (as Python lists for the pure-Python convex step)."""
    dx = st.x[:, 1:] - st.x[:, :-1]
    live = dx > X_TOL
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(live, (st.cost[:, 1:] - st.cost[:, :-1]) / dx, 0.0)
    pieces, convex = [], []
    for sl, ln, ok in zip(slope.tolist(), dx.tolist(), live.tolist(), strict=True):
        pcs = [(s, w) for s, w, k in zip(sl, ln, ok, strict=True) if k]
        pieces.append(pcs)
        convex.append(all(a[0] <= b[0] + SLOPE_TOL * (1.0 + abs(b[0]))
                          for a, b in zip(pcs, pcs[1:], strict=False)))  # fmt: skip
    ends = list(zip(st.x[:, -1].tolist(), st.cost[:, -1].tolist(), strict=True))
    return pieces, ends, convex


def _backward(
    dev: Device, dt: float, st: _Steps, soc_lo: np.ndarray, soc_hi: np.ndarray
) -> tuple[list | None, Convex | Pwl | None, int]:
    """Backwards from ``V_T = 0``: per step, what the forward pass needs to pick the step's
    optimum (the merge of a convex step, or ``V_{j+1}`` as arrays), then ``V_0``, and the
    largest number of pieces met. SoC bounds must be finite."""
    T = st.q.shape[0]
    eff = dev.storage_efficiency.tolist()
    shift = (loss_factor_b(dev.storage_efficiency) * dt * dev.stock_delta_mw).tolist()
    lo_l, hi_l = soc_lo.tolist(), soc_hi.tolist()
    pieces, ends, convex = _step_pieces(st)
    plan: list = [None] * T
    v: Convex | Pwl | None = Convex(lo_l[-1], 0.0, [(0.0, hi_l[-1] - lo_l[-1])]
                                    if hi_l[-1] > lo_l[-1] else [])  # fmt: skip
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
    return plan, v, largest


def _forward(dev: Device, dt: float, st: _Steps, plan: list) -> np.ndarray:
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


def _fill_site(x: np.ndarray, lay: Layout, p: SchedulingProblem, base: LinearModel) -> None:
    if lay.imp is None:
        return
    net = p.site.inflexible_mw + sum(
        (x[c] - x[d] for c, d in zip(lay.charge, lay.discharge, strict=True)), np.zeros(p.n_steps)
    )
    x[lay.imp] = np.maximum(net, 0.0)
    x[lay.exp] = np.maximum(-net, 0.0)
    for c in p.site.commitments:
        x[base.cols[f"{c.name} up"]] = np.maximum(net - c.baseline_mw, 0.0)
        x[base.cols[f"{c.name} down"]] = np.maximum(c.baseline_mw - net, 0.0)


def _satisfies(base: LinearModel, arr: dict, x: np.ndarray) -> bool:
    if (x < arr["lb"] - FEAS_TOL).any() or (x > arr["ub"] + FEAS_TOL).any():
        return False
    r = base.to_csc() @ x
    return bool(((r >= arr["rlb"] - FEAS_TOL) & (r <= arr["rub"] + FEAS_TOL)).all())
