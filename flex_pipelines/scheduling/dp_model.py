"""What the dynamic programme (:mod:`~flex_pipelines.scheduling.dp`) reads from and writes to the
LP of :mod:`~flex_pipelines.scheduling.build_highs`.

Costs and bounds are taken from the model's own arrays (so the objective is the model's, term
for term), and the schedule is written back into the model's column vector and checked against
every row. Terms of two kinds:

- *per step* — energy prices, commitments, tie-breakers, hard limits: exact in the programme;
- *soft limits with a worst-breach term* (soft SoC minima/maxima/targets, soft site capacities):
  the programme keeps their per-step price and drops the once-charged worst breach, which makes
  it a relaxation. When its optimum breaches nothing, the dropped term is zero there, so it is
  the optimum of the full problem (certified in :func:`fill_columns`); otherwise the caller
  falls back to the MILP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flex_pipelines.scheduling.build_highs import Layout
from flex_pipelines.scheduling.linear_model import DEVICES, LinearModel
from flex_pipelines.scheduling.problem import SchedulingProblem, loss_factor_b

__all__ = ["Steps", "SocPenalty", "applicable", "fill_columns", "soc_penalty", "step_costs"]

BREACH_TOL = 1e-9  # MWh or MW: a breach below this counts as none (certificate)
#: the row kinds the programme models (its step costs, its state, its certificate)
DP_ROWS = frozenset(
    {
        "stock balance",
        "site balance",
        "commitment",
        "soc-minima",
        "soc-maxima",
        "worst breach",
        "site-consumption-capacity",
        "site-production-capacity",
    }
)
#: the column kinds it fills in
DP_COLS = frozenset(
    {"charge", "discharge", "soc", "import", "export", "deviation", "gap", "worst gap"}
)


def applicable(base: LinearModel, lay: Layout, p: SchedulingProblem) -> str | None:
    """None when the dynamic programme applies to this problem, else why not (read from the
    description: the kinds of its blocks and what they couple)."""
    if p.scenarios is not None:
        return "scenarios (one schedule for several price and load paths)"
    if p.processes:
        return "processes"
    if lay.modes:
        return "operation modes"
    if not all(d.has_stock for d in p.devices):
        return "a device without stock"
    if any((d.storage_efficiency <= 0).any() for d in p.devices):
        return "storage-efficiency 0"
    for blk in base.row_blocks:
        if blk.kind not in DP_ROWS:
            what = (
                " and ".join(sorted(blk.couples)) or "a step in a way the programme does not model"
            )
            return f"constraint {blk.name!r} ({blk.field}) couples {what}"
    for col in base.col_blocks:
        if col.kind not in DP_COLS:
            return f"variable {col.name!r} ({col.kind}) couples steps"
    if len(p.devices) > 1 and any(DEVICES in b.couples for b in base.row_blocks):
        return "devices share the site"
    return None


@dataclass
class Steps:
    """Per step: breakpoints of the device's power ``q`` (MW; columns sorted), the cost there,
    and the same breakpoints as stock changes ``x`` (MWh)."""

    q: np.ndarray  # (T, K)
    cost: np.ndarray  # (T, K)
    x: np.ndarray  # (T, K)


def step_costs(arr: dict, lay: Layout, p: SchedulingProblem, base: LinearModel, d: int) -> Steps:
    """The per-step cost of device ``d``'s power as a piecewise-linear function."""
    T = p.n_steps
    dev = p.devices[d]
    ch, dis = lay.charge[d], lay.discharge[d]
    q_lo, q_hi = -arr["ub"][dis], arr["ub"][ch]
    inflex = p.site.inflexible_mw
    # (kink in net site power, cost per MW above it, cost per MW below it)
    terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    on_site = dev.commodity == p.site.commodity  # another commodity's site adds no rows here
    if on_site and lay.imp is None and lay.balance is not None:  # one price: a site limit
        q_lo = np.maximum(q_lo, arr["rlb"][lay.balance])
        q_hi = np.minimum(q_hi, arr["rub"][lay.balance])
    if on_site and lay.imp is not None:  # import/export split: net = inflexible + q
        q_lo = np.maximum(q_lo, -arr["ub"][lay.exp] - inflex)
        q_hi = np.minimum(q_hi, arr["ub"][lay.imp] - inflex)
        terms.append((np.zeros(T), arr["cost"][lay.imp], arr["cost"][lay.exp]))
        for c, (up, dn) in zip(p.site.commitments, lay.commitments, strict=True):
            terms.append((c.baseline_mw, arr["cost"][up], arr["cost"][dn]))
        for side, sign in (("consumption", 1.0), ("production", -1.0)):
            soft = lay.site_soft.get(side)
            if soft is not None:  # breach = max(sign * net - cap, 0), priced per step
                price = arr["cost"][soft.gap]
                cap = sign * arr["rub"][soft.rows]
                zero = np.zeros(T)
                terms.append((cap, price, zero) if sign > 0 else (cap, zero, price))
    q = np.column_stack([q_lo, np.zeros(T), *(k - inflex for k, _, _ in terms), q_hi])
    q = np.sort(np.clip(q, q_lo[:, None], q_hi[:, None]), axis=1)
    cost = arr["cost"][ch][:, None] * np.maximum(q, 0.0)
    cost += arr["cost"][dis][:, None] * np.maximum(-q, 0.0)
    for kink, c_up, c_dn in terms:
        over = inflex[:, None] + q - kink[:, None]
        cost += c_up[:, None] * np.maximum(over, 0.0) + c_dn[:, None] * np.maximum(-over, 0.0)
    b = (loss_factor_b(dev.storage_efficiency) * p.dt)[:, None]
    xs = np.where(
        q >= 0,
        q * b * dev.charging_efficiency[:, None],
        q * b / dev.discharging_efficiency[:, None],
    )
    return Steps(q, cost, xs)


@dataclass
class SocPenalty:
    """Soft SoC bounds per SoC column (stock at each step's end; NaN = none) and their price
    per MWh of shortfall or surplus (the model's per-step cost)."""

    lo: np.ndarray
    lo_price: np.ndarray
    hi: np.ndarray
    hi_price: np.ndarray


def soc_penalty(arr: dict, lay: Layout, d: int, T: int) -> SocPenalty:
    """Device ``d``'s soft SoC bounds and their per-step prices, from the description."""
    pen = SocPenalty(np.full(T, np.nan), np.zeros(T), np.full(T, np.nan), np.zeros(T))
    for key, bound, price, side in (
        ("minima", pen.lo, pen.lo_price, "rlb"),
        ("maxima", pen.hi, pen.hi_price, "rub"),
    ):
        soft = lay.soc_soft[d].get(key)
        if soft is not None:
            bound[soft.at] = arr[side][soft.rows]
            price[soft.at] = arr["cost"][soft.gap]
    return pen


def fill_columns(
    x: np.ndarray, arr: dict, lay: Layout, p: SchedulingProblem, base: LinearModel
) -> str | None:
    """Write the site, commitment and breach columns for the devices' flows and SoC already in
    ``x``; then check every bound and row. None when the point is feasible and breaches no soft
    limit (so the dropped worst-breach terms are zero), else what is wrong."""
    for d, (dev, soc) in enumerate(zip(p.devices, lay.soc, strict=True)):
        for key, bound in (("minima", "rlb"), ("maxima", "rub")):
            soft = lay.soc_soft[d].get(key)
            if soft is None:
                continue
            gap = np.maximum(soft.sign * (arr[bound][soft.rows] - x[soc[soft.at]]), 0.0)
            if gap.max(initial=0.0) > BREACH_TOL:
                return f"soft SoC bound of {dev.name!r} not met"
            x[soft.gap] = gap
            x[soft.worst] = gap.max(initial=0.0)
    if lay.imp is not None:
        net = p.site.inflexible_mw + sum(
            (
                x[c] - x[d]
                for c, d, dev in zip(lay.charge, lay.discharge, p.devices, strict=True)
                if dev.commodity == p.site.commodity
            ),
            np.zeros(p.n_steps),
        )
        x[lay.imp] = np.maximum(net, 0.0)
        x[lay.exp] = np.maximum(-net, 0.0)
        for c, (up, dn) in zip(p.site.commitments, lay.commitments, strict=True):
            x[up] = np.maximum(net - c.baseline_mw, 0.0)
            x[dn] = np.maximum(c.baseline_mw - net, 0.0)
        for side, flow in (("consumption", lay.imp), ("production", lay.exp)):
            soft = lay.site_soft.get(side)
            if soft is None:
                continue
            over = np.maximum(x[flow] - arr["rub"][soft.rows], 0.0)
            if over.max(initial=0.0) > BREACH_TOL:
                return f"soft site-{side}-capacity breached"
            x[soft.gap] = over
            x[soft.worst] = over.max(initial=0.0)
    return base.violation(x, arr)
