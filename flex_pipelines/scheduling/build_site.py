"""The site's blocks of the problem description: the grid connection's balance, its hard and
soft limits, peaks and commitments (see :mod:`~flex_pipelines.scheduling.build_highs`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from flex_pipelines.scheduling.linear_model import DEVICES, STEPS, LinearModel
from flex_pipelines.scheduling.problem import SchedulingProblem

if TYPE_CHECKING:
    from flex_pipelines.scheduling.build_highs import Layout

__all__ = ["net_bounds", "site_blocks"]


def net_bounds(p: SchedulingProblem) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the site's net power (MW) from device limits, inflexible load, hard limits."""
    from flex_pipelines.scheduling.build_highs import flow_bounds, process_fixed_mw

    s = p.site
    cmax, pmax = np.zeros(p.n_steps), np.zeros(p.n_steps)
    for d in p.devices:
        ch, dis = flow_bounds(d)
        cmax, pmax = cmax + ch, pmax + dis
    cmax = cmax + sum((max(pd.power_mw, 0.0) for pd in p.processes if not pd.is_fixed), 0.0)
    base = s.inflexible_mw + process_fixed_mw(p)
    hi = np.minimum(base + cmax, s.consumption_hard_mw)
    lo = np.maximum(base - pmax, -s.production_hard_mw)
    return lo, hi


def _linear_site(p: SchedulingProblem) -> bool:
    """One price for both directions and no site-level term that needs import and export."""
    s = p.site
    return (
        np.array_equal(s.consumption_price, s.production_price)
        and s.consumption_soft_mw is None
        and s.production_soft_mw is None
        and s.peak_consumption_price is None
        and s.peak_production_price is None
        and not s.commitments
        and not p.processes
    )


def site_blocks(m: LinearModel, lay: Layout, p: SchedulingProblem, *, split_site: bool) -> None:
    """The site balance (net power = inflexible load + devices + processes), its energy cost,
    hard limits, soft limits, peaks and commitments."""
    from flex_pipelines.scheduling.build_highs import (
        ExclusivePair,
        flow_bounds,
        process_fixed_mw,
        process_terms,
        soft_upper,
    )

    s, T, dt = p.site, p.n_steps, p.dt
    steps = np.arange(T)
    fixed = process_fixed_mw(p)
    flows = []
    for ch, dis in zip(lay.charge, lay.discharge, strict=True):
        flows += [(steps, ch, 1.0), (steps, dis, -1.0)]
    if _linear_site(p) and not split_site:
        lay.repair_price = s.consumption_price
        # One price for both directions and no site-level soft terms: the energy cost is linear
        # in net power, so no import/export split is needed (fewer columns and rows).
        for ch, dis in zip(lay.charge, lay.discharge, strict=True):
            m.add_cost(ch, dt * s.consumption_price, "electricity")
            m.add_cost(dis, -dt * s.consumption_price, "electricity")
        m.add_offset(float(dt * np.sum(s.consumption_price * s.inflexible_mw)), "electricity")
        cap_hi = s.consumption_hard_mw - s.inflexible_mw
        cap_lo = -s.production_hard_mw - s.inflexible_mw
        dev_hi, dev_lo = np.zeros(T), np.zeros(T)
        for d in p.devices:
            ch_ub, dis_ub = flow_bounds(d)
            dev_hi, dev_lo = dev_hi + ch_ub, dev_lo - dis_ub
        if (cap_hi < dev_hi).any() or (cap_lo > dev_lo).any():
            lay.balance = m.add_rows(
                "site balance",
                T,
                flows,
                cap_lo,
                cap_hi,
                field="site-power-capacity",
                kind="site balance",
                couples=(DEVICES,),
            )
        return
    net_lo, net_hi = net_bounds(p)
    imp_ub, exp_ub = np.maximum(net_hi, 0.0), np.maximum(-net_lo, 0.0)
    imp = m.add_cols(
        "import", T, 0.0, imp_ub, dt * s.consumption_price, kind="import", term="electricity"
    )
    exp = m.add_cols(
        "export", T, 0.0, exp_ub, -dt * s.production_price, kind="export", term="electricity"
    )
    lay.imp, lay.exp = imp, exp
    lay.pairs.append(ExclusivePair("import/export", imp, exp, imp_ub, exp_ub))
    terms = [(steps, imp, -1.0), (steps, exp, 1.0), *flows, *process_terms(p, lay)]
    rhs = -s.inflexible_mw - fixed
    lay.balance = m.add_rows(
        "site balance",
        T,
        terms,
        rhs,
        rhs,
        field="site-power-capacity",
        kind="site balance",
        couples=(DEVICES,),
    )
    for side, flow, cap, price in (
        ("consumption", imp, s.consumption_soft_mw, s.consumption_breach_price),
        ("production", exp, s.production_soft_mw, s.production_breach_price),
    ):
        if cap is not None and price is not None:
            lay.site_soft[side] = soft_upper(
                m,
                f"site {side}",
                flow,
                cap,
                price,
                dt,
                f"site-{side}-capacity",
                None,
                f"site {side} breach",
            )
    for flow, peak, price, label in (
        (imp, s.peak_consumption_mw, s.peak_consumption_price, "site-peak-consumption"),
        (exp, s.peak_production_mw, s.peak_production_price, "site-peak-production"),
    ):
        if price is not None and peak is not None:
            term = label.replace("-", " ")
            top = m.add_cols(
                f"{label} excess", 1, 0.0, np.inf, float(np.max(price)), kind="peak", term=term
            )
            m.add_rows(
                label,
                T,
                [(steps, np.full(T, top[0]), 1.0), (steps, flow, -1.0)],
                -peak,
                np.inf,
                field=label,
                kind="peak",
                couples=(STEPS,),
            )
    for c in s.commitments:
        up_ub = np.maximum(net_hi - c.baseline_mw, 0.0)
        dn_ub = np.maximum(c.baseline_mw - net_lo, 0.0)
        up = m.add_cols(
            f"{c.name} up", T, 0.0, up_ub, dt * c.up_price, kind="deviation", term=c.name
        )
        dn = m.add_cols(
            f"{c.name} down", T, 0.0, dn_ub, -dt * c.down_price, kind="deviation", term=c.name
        )
        m.add_rows(
            f"commitment {c.name}",
            T,
            [(steps, imp, 1.0), (steps, exp, -1.0), (steps, up, -1.0), (steps, dn, 1.0)],
            c.baseline_mw,
            c.baseline_mw,
            field="commitments",
            kind="commitment",
            couples=(DEVICES,),
        )
        lay.pairs.append(ExclusivePair(f"commitment {c.name}", up, dn, up_ub, dn_ub))
        lay.commitments.append((up, dn))
