"""The sites' blocks of the problem description: per commodity the grid connection's balance,
its hard and soft limits, peaks and commitments (see :mod:`~.build_highs`).

Electricity's site is ``p.site``; every other commodity (``p.other_sites``: gas, heat, …) gets
the same blocks on its own devices, or, for an internal node (no grid connection), a balance of
its devices' flows at every step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from flex_pipelines.scheduling.linear_model import DEVICES, STEPS, LinearModel
from flex_pipelines.scheduling.problem import Commitment, SchedulingProblem, Site

if TYPE_CHECKING:
    from flex_pipelines.scheduling.build_highs import Layout

__all__ = ["connected_blocks", "net_bounds", "site_blocks"]


def _members(p: SchedulingProblem, site: Site) -> list[int]:
    return [i for i, d in enumerate(p.devices) if d.commodity == site.commodity]


def net_bounds(p: SchedulingProblem, site: Site | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on a site's net power (MW) from its devices' hard limits, inflexible load and the
    site's hard limits (electricity's when ``site`` is None)."""
    from flex_pipelines.scheduling.build_highs import flow_bounds
    from flex_pipelines.scheduling.build_process import process_fixed_mw

    s = p.site if site is None else site
    cmax, pmax = np.zeros(p.n_steps), np.zeros(p.n_steps)
    for i in _members(p, s):
        ch, dis = flow_bounds(p.devices[i])
        cmax, pmax = cmax + ch, pmax + dis
    base = s.inflexible_mw.copy()
    if s is p.site:
        cmax = cmax + sum((max(pd.power_mw, 0.0) for pd in p.processes if not pd.is_fixed), 0.0)
        base = base + process_fixed_mw(p)
    hi = np.minimum(base + cmax, s.consumption_hard_mw)
    lo = np.maximum(base - pmax, -s.production_hard_mw)
    return lo, hi


def _linear_site(p: SchedulingProblem, s: Site) -> bool:
    """One price for both directions and no site-level term that needs import and export."""
    return (
        np.array_equal(s.consumption_price, s.production_price)
        and s.consumption_soft_mw is None
        and s.production_soft_mw is None
        and s.peak_consumption_price is None
        and s.peak_production_price is None
        and not any(c.members is None for c in s.commitments)
        and not (p.processes and s is p.site)
    )


def site_blocks(
    m: LinearModel, lay: Layout, p: SchedulingProblem, *, split_site: bool, main: bool = True
) -> None:
    """Every commodity's balance and its terms; the first (electricity) fills the Layout's
    view for the dynamic programme. ``main`` False: all but electricity's grid connection
    (a risk-aware build adds that once per scenario, :mod:`~.build_scenarios`)."""
    for s in p.sites:
        if s is p.site and not main:
            pass
        elif s.internal and s is not p.site:
            _internal(m, lay, p, s)
        else:
            connected_blocks(m, lay, p, s, split_site=split_site)
        for c in s.commitments:
            if c.members is not None:
                _scoped_commitment(m, lay, p, c)


def _flows(lay: Layout, members: list[int], steps: np.ndarray) -> list:
    out = []
    for i in members:
        out += [(steps, lay.charge[i], 1.0), (steps, lay.discharge[i], -1.0)]
    return out


def _internal(m: LinearModel, lay: Layout, p: SchedulingProblem, s: Site) -> None:
    """A commodity without a grid connection: its devices' flows and inflexible load balance."""
    T = p.n_steps
    steps = np.arange(T)
    rhs = -s.inflexible_mw
    m.add_rows(
        f"site balance[{s.commodity}]",
        T,
        _flows(lay, _members(p, s), steps),
        rhs,
        rhs,
        field=f"commodities[{s.commodity}]",
        kind="commodity balance",
        couples=(DEVICES,),
    )


def connected_blocks(
    m: LinearModel, lay: Layout, p: SchedulingProblem, s: Site, *, split_site: bool, tag: str = ""
) -> None:
    """A grid connection: balance (net = inflexible + devices [+ processes]), energy cost, hard
    limits, soft limits, peaks and commitments on the net power. ``tag`` is appended to every
    block's name and cost term (one scenario's connection: ``[scenario 3]``)."""
    from flex_pipelines.scheduling.build_highs import ExclusivePair, flow_bounds
    from flex_pipelines.scheduling.build_process import process_fixed_mw, process_terms
    from flex_pipelines.scheduling.soft_rows import soft_upper

    main = s is p.site
    T, dt = p.n_steps, p.dt
    steps = np.arange(T)
    sfx = ("" if main else f"[{s.commodity}]") + tag
    term = s.commodity + tag
    kind = "site balance" if main else "commodity balance"
    members = _members(p, s)
    flows = _flows(lay, members, steps)
    fixed = process_fixed_mw(p) if main else np.zeros(T)
    if _linear_site(p, s) and not split_site:
        if main:
            lay.repair_price = s.consumption_price
        # One price for both directions and no site-level soft terms: the energy cost is linear
        # in net power, so no import/export split is needed (fewer columns and rows).
        for i in members:
            m.add_cost(lay.charge[i], dt * s.consumption_price, term)
            m.add_cost(lay.discharge[i], -dt * s.consumption_price, term)
        m.add_offset(float(dt * np.sum(s.consumption_price * s.inflexible_mw)), term)
        cap_hi = s.consumption_hard_mw - s.inflexible_mw
        cap_lo = -s.production_hard_mw - s.inflexible_mw
        dev_hi, dev_lo = np.zeros(T), np.zeros(T)
        for i in members:
            ch_ub, dis_ub = flow_bounds(p.devices[i])
            dev_hi, dev_lo = dev_hi + ch_ub, dev_lo - dis_ub
        if (cap_hi < dev_hi).any() or (cap_lo > dev_lo).any():
            rows = m.add_rows(
                f"site balance{sfx}",
                T,
                flows,
                cap_lo,
                cap_hi,
                field="site-power-capacity",
                kind=kind,
                couples=(DEVICES,),
            )
            if main:
                lay.balance = rows
        return
    net_lo, net_hi = net_bounds(p, s)
    imp_ub, exp_ub = np.maximum(net_hi, 0.0), np.maximum(-net_lo, 0.0)
    imp = m.add_cols(
        f"import{sfx}", T, 0.0, imp_ub, dt * s.consumption_price, kind="import", term=term
    )
    exp = m.add_cols(
        f"export{sfx}", T, 0.0, exp_ub, -dt * s.production_price, kind="export", term=term
    )
    lay.pairs.append(ExclusivePair(f"import/export{sfx}", imp, exp, imp_ub, exp_ub))
    terms = [(steps, imp, -1.0), (steps, exp, 1.0), *flows]
    if main:
        lay.imp, lay.exp = imp, exp
        terms += process_terms(p, lay)
    rhs = -s.inflexible_mw - fixed
    rows = m.add_rows(
        f"site balance{sfx}",
        T,
        terms,
        rhs,
        rhs,
        field="site-power-capacity",
        kind=kind,
        couples=(DEVICES,),
    )
    if main:
        lay.balance = rows
    for side, flow, cap, price in (
        ("consumption", imp, s.consumption_soft_mw, s.consumption_breach_price),
        ("production", exp, s.production_soft_mw, s.production_breach_price),
    ):
        if cap is not None and price is not None:
            soft = soft_upper(
                m,
                f"site {side}{sfx}",
                flow,
                cap,
                price,
                dt,
                f"site-{side}-capacity",
                None,
                f"site {side} breach{sfx}",
                kind=None if main else "commodity capacity",
            )
            if main:
                lay.site_soft[side] = soft
    for flow, peak, price, label in (
        (imp, s.peak_consumption_mw, s.peak_consumption_price, "site-peak-consumption"),
        (exp, s.peak_production_mw, s.peak_production_price, "site-peak-production"),
    ):
        if price is not None and peak is not None:
            top = m.add_cols(
                f"{label} excess{sfx}",
                1,
                0.0,
                np.inf,
                float(np.max(price)),
                kind="peak",
                term=label.replace("-", " ") + sfx,
            )
            m.add_rows(
                label + sfx,
                T,
                [(steps, np.full(T, top[0]), 1.0), (steps, flow, -1.0)],
                -peak,
                np.inf,
                field=label,
                kind="peak",
                couples=(STEPS,),
            )
    for c in s.commitments:
        if c.members is not None:
            continue
        up_ub = np.maximum(net_hi - c.baseline_mw, 0.0)
        dn_ub = np.maximum(c.baseline_mw - net_lo, 0.0)
        up = m.add_cols(
            f"{c.name}{tag} up", T, 0.0, up_ub, dt * c.up_price, kind="deviation", term=c.name + tag
        )
        dn = m.add_cols(
            f"{c.name}{tag} down",
            T,
            0.0,
            dn_ub,
            -dt * c.down_price,
            kind="deviation",
            term=c.name + tag,
        )
        m.add_rows(
            f"commitment {c.name}{tag}",
            T,
            [(steps, imp, 1.0), (steps, exp, -1.0), (steps, up, -1.0), (steps, dn, 1.0)],
            c.baseline_mw,
            c.baseline_mw,
            field="commitments",
            kind="commitment" if main else "commodity commitment",
            couples=(DEVICES,),
        )
        lay.pairs.append(ExclusivePair(f"commitment {c.name}{tag}", up, dn, up_ub, dn_ub))
        if main:
            lay.commitments.append((up, dn))


def _scoped_commitment(m: LinearModel, lay: Layout, p: SchedulingProblem, c: Commitment) -> None:
    """A commitment on the summed power of some devices (``sensors`` or a ``group``) and the
    inflexible ones among them: ``Σ power + fixed - up + down = baseline``."""
    from flex_pipelines.scheduling.build_highs import ExclusivePair, flow_bounds

    T, dt = p.n_steps, p.dt
    steps = np.arange(T)
    members = c.members or []
    fixed = c.fixed_mw if c.fixed_mw is not None else np.zeros(T)
    hi, lo = fixed.copy(), fixed.copy()
    for i in members:
        ch_ub, dis_ub = flow_bounds(p.devices[i])
        hi, lo = hi + ch_ub, lo - dis_ub
    up_ub = np.maximum(hi - c.baseline_mw, 0.0)
    dn_ub = np.maximum(c.baseline_mw - lo, 0.0)
    up = m.add_cols(f"{c.name} up", T, 0.0, up_ub, dt * c.up_price, kind="deviation", term=c.name)
    dn = m.add_cols(
        f"{c.name} down", T, 0.0, dn_ub, -dt * c.down_price, kind="deviation", term=c.name
    )
    terms = [*_flows(lay, members, steps), (steps, up, -1.0), (steps, dn, 1.0)]
    rhs = c.baseline_mw - fixed
    m.add_rows(
        f"commitment {c.name}",
        T,
        terms,
        rhs,
        rhs,
        field="commitments",
        kind="scoped commitment",
        couples=(DEVICES,),
    )
    lay.pairs.append(ExclusivePair(f"commitment {c.name}", up, dn, up_ub, dn_ub))
