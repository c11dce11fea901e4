"""Explaining infeasible problems: which field, which value, and the first time it cannot hold.

Before solving, :func:`check_feasibility` propagates each device's reachable stock interval
forward in time (at full charging and full discharging power, limited by the site's hard limits
and inflexible load) and intersects it with the hard SoC constraints; the first empty
intersection is reported ("soc-targets 400 kWh at 10:00 unreachable: at most 325 kWh by then at
500 kW"). For a single device that pass is exact. What it cannot see (devices competing for a
shared limit) falls back to HiGHS: :func:`explain_infeasible` solves HiGHS' feasibility
relaxation and names the first relaxed row.
"""

from __future__ import annotations

import numpy as np

from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.linear_model import LinearModel
from flex_pipelines.scheduling.problem import Device, SchedulingProblem, loss_factor_b

__all__ = ["InfeasibleError", "check_feasibility", "explain_infeasible"]


class InfeasibleError(SchedulingError):
    """Hard constraints that cannot all hold."""


def _e(v: float, unit: str) -> str:
    return f"{v * 1000:.6g} kWh" if unit == "kWh" else f"{v:.6g} MWh"


def _p(v: float, unit: str) -> str:
    return f"{v * 1000:.6g} kW" if unit == "kWh" else f"{v:.6g} MW"


def check_feasibility(p: SchedulingProblem) -> None:
    """Raise :class:`InfeasibleError` for the first hard constraint that cannot hold."""
    g = p.grid
    for s in p.sites:
        if s.internal and s is not p.site:
            continue
        mine = [d for d in p.devices if d.commodity == s.commodity]
        net_cmax = s.inflexible_mw + sum((d.consumption_hard_mw for d in mine), np.zeros(p.n_steps))
        net_pmin = s.inflexible_mw - sum((d.production_hard_mw for d in mine), np.zeros(p.n_steps))
        where = "" if s is p.site else f" (commodity {s.commodity!r})"
        bad = np.flatnonzero(net_pmin > s.consumption_hard_mw + 1e-9)
        if bad.size:
            i = int(bad[0])
            raise InfeasibleError(
                f"{s.hard_fields.get('consumption', 'site-power-capacity')}{where} "
                f"{s.consumption_hard_mw[i]:.6g} MW at {g.fmt(g.time_at_step(i))} cannot hold: "
                f"inflexible consumption is {s.inflexible_mw[i]:.6g} MW and the devices can "
                f"lower it by at most {s.inflexible_mw[i] - net_pmin[i]:.6g} MW"
            )
        bad = np.flatnonzero(-net_cmax > s.production_hard_mw + 1e-9)
        if bad.size:
            i = int(bad[0])
            raise InfeasibleError(
                f"{s.hard_fields.get('production', 'site-power-capacity')}{where} "
                f"{s.production_hard_mw[i]:.6g} MW at {g.fmt(g.time_at_step(i))} cannot hold: "
                f"inflexible production is {-s.inflexible_mw[i]:.6g} MW and the devices can "
                f"absorb at most {net_cmax[i] - s.inflexible_mw[i]:.6g} MW"
            )
    for k, d in enumerate(p.devices):
        if d.has_stock:
            _check_device(p, k, d, g)


def _check_device(p: SchedulingProblem, k: int, d: Device, g: TimeGrid) -> None:
    """Propagate the reachable stock interval (an over-approximation: device hard limits, the
    site's hard limits of its commodity with the other devices at full power)."""
    s = p.site_of(d.commodity)
    others = [o for j, o in enumerate(p.devices) if j != k and o.commodity == d.commodity]
    others_c = sum((o.consumption_hard_mw for o in others), np.zeros(p.n_steps))
    others_p = sum((o.production_hard_mw for o in others), np.zeros(p.n_steps))
    cmax = np.minimum(
        d.consumption_hard_mw, np.maximum(s.consumption_hard_mw - s.inflexible_mw + others_p, 0)
    )
    pmax = np.minimum(
        d.production_hard_mw, np.maximum(s.production_hard_mw + s.inflexible_mw + others_c, 0)
    )
    T = p.n_steps
    lo_b = np.full(T + 1, d.soc_min_mwh)
    hi_b = np.full(T + 1, d.soc_max_mwh)
    lo_f = np.array(["soc-min"] * (T + 1), dtype=object)
    hi_f = np.array(["soc-max"] * (T + 1), dtype=object)
    if not d.soc_targets_soft:
        t = ~np.isnan(d.soc_targets_mwh)
        lo_b[t], hi_b[t] = d.soc_targets_mwh[t], d.soc_targets_mwh[t]
        lo_f[t], hi_f[t] = "soc-targets", "soc-targets"
    if not d.soc_minima_soft:
        t = d.soc_minima_mwh > lo_b
        lo_b[t], lo_f[t] = d.soc_minima_mwh[t], "soc-minima"
    if not d.soc_maxima_soft:
        t = d.soc_maxima_mwh < hi_b
        hi_b[t], hi_f[t] = d.soc_maxima_mwh[t], "soc-maxima"
    eff = d.storage_efficiency
    b = loss_factor_b(eff) * p.dt
    up_step = b * (d.charging_efficiency * cmax + d.stock_delta_mw)
    dn_step = b * (-pmax / d.discharging_efficiency + d.stock_delta_mw)
    lo = hi = d.soc_at_start_mwh
    u = d.soc_unit
    # plain floats: numpy scalar access would dominate this loop on long horizons
    eff_l, up_l, dn_l = eff.tolist(), up_step.tolist(), dn_step.tolist()
    lo_l, hi_l = lo_b.tolist(), hi_b.tolist()
    for j in range(T):
        new_hi = eff_l[j] * hi + up_l[j]
        new_lo = eff_l[j] * lo + dn_l[j]
        if new_hi < lo_l[j + 1] - 1e-7:
            t = g.fmt(g.time_at_instant(j + 1))
            raise InfeasibleError(
                f"{lo_f[j + 1]} {_e(lo_b[j + 1], u)} at {t} unreachable (device {d.name!r}): "
                f"at most {_e(new_hi, u)} by then at {_p(cmax[j], u)}"
            )
        if new_lo > hi_l[j + 1] + 1e-7:
            t = g.fmt(g.time_at_instant(j + 1))
            raise InfeasibleError(
                f"{hi_f[j + 1]} {_e(hi_b[j + 1], u)} at {t} cannot hold (device {d.name!r}): "
                f"at least {_e(new_lo, u)} by then, discharging at {_p(pmax[j], u)}"
            )
        lo = max(new_lo, lo_l[j + 1])
        hi = min(new_hi, hi_l[j + 1])


def explain_infeasible(model: LinearModel, p: SchedulingProblem) -> InfeasibleError:
    """Use HiGHS' feasibility relaxation to name the first hard constraint that must give."""
    from flex_pipelines.scheduling.exact import run_highs

    g = p.grid
    try:
        run = run_highs(model, keep=True)
        h = run.highs
        assert h is not None
        h.feasibilityRelaxation(1.0, 1.0, 1.0)
        sol = h.getSolution()
        rows = np.asarray(sol.row_value, dtype=float)
        cols = np.asarray(sol.col_value, dtype=float)
        a = model.arrays()
        viol_r = np.maximum(a["rlb"] - rows, 0) + np.maximum(rows - a["rub"], 0)
        viol_c = np.maximum(a["lb"] - cols, 0) + np.maximum(cols - a["ub"], 0)
    except Exception:  # noqa: BLE001 - diagnostics must not hide the original problem
        return InfeasibleError(
            f"the hard constraints cannot all hold between {g.fmt(g.start)} and {g.fmt(g.end)}"
        )
    candidates: list[tuple[int, str]] = []
    for r in np.flatnonzero(viol_r > 1e-7):
        blk, step = model.row_block_of(int(r))
        who = f" (device {blk.device!r})" if blk.device else ""
        if "[scenario " in blk.name:  # a risk-aware problem: one schedule for every scenario
            who += " in scenario " + blk.name.rsplit("[scenario ", 1)[1].rstrip("]")
            who += " (a hard limit holds in every scenario)"
        candidates.append(
            (
                step,
                f"{blk.field}{who} cannot hold at {g.fmt(g.time_at_step(step))}"
                f" (short by {viol_r[r]:.6g})",
            )
        )
    for name, idx in model.cols.items():
        v = viol_c[idx]
        bad = np.flatnonzero(v > 1e-7)
        if bad.size:
            i = int(bad[0])
            label = "SoC bounds" if name.startswith("soc[") else "capacity"
            t = g.time_at_instant(i + 1) if name.startswith("soc[") else g.time_at_step(i)
            candidates.append(
                (i, f"{label} of {name} cannot hold at {g.fmt(t)} (short by {v[i]:.6g})")
            )
    if not candidates:
        return InfeasibleError(
            f"the hard constraints cannot all hold between {g.fmt(g.start)} and {g.fmt(g.end)}"
        )
    candidates.sort(key=lambda c: c[0])
    return InfeasibleError("infeasible: " + candidates[0][1])
