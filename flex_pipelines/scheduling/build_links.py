"""Blocks that tie devices together: groups (a limit on the summed power of some devices, e.g.
a shared inverter) and couplings (the ports of one converter move in fixed proportion).

- group ``g`` with members ``D`` and inflexible members' power ``f``: hard
  ``-production_hard <= Σ_D power + f <= consumption_hard``; soft
  ``Σ_D power + f - breach <= consumption_soft`` (and the mirror for production), the breach
  priced per MW per hour each step and per MW on the worst (FlexMeasures' default 10000
  CUR/kW);
- coupling ``c`` with ports ``(d, k_d)``: ``power[d] = k_d · level`` at every step, ``level ≥
  0`` (``k_d > 0`` for an input that consumes, ``< 0`` for an output that produces): a heat
  pump's heat is COP × its electricity, a CHP's power and heat come from one gas flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from flex_pipelines.scheduling.linear_model import DEVICES, LinearModel
from flex_pipelines.scheduling.problem import Coupling, Group, SchedulingProblem

if TYPE_CHECKING:
    from flex_pipelines.scheduling.build_highs import Layout

__all__ = ["link_blocks"]


def link_blocks(m: LinearModel, lay: Layout, p: SchedulingProblem) -> None:
    """The rows of every group and coupling."""
    for g in p.groups:
        _group(m, lay, p, g)
    for c in p.couplings:
        _coupling(m, lay, p, c)


def _power_terms(lay: Layout, members: list[int], steps: np.ndarray, sign: float) -> list:
    out = []
    for i in members:
        out += [(steps, lay.charge[i], sign), (steps, lay.discharge[i], -sign)]
    return out


def _group(m: LinearModel, lay: Layout, p: SchedulingProblem, g: Group) -> None:
    from flex_pipelines.scheduling.build_highs import flow_bounds
    from flex_pipelines.scheduling.soft_rows import soft_rows

    T, dt = p.n_steps, p.dt
    steps = np.arange(T)
    fixed = g.fixed_mw if g.fixed_mw is not None else np.zeros(T)
    inf = np.full(T, np.inf)
    hi_hard = g.consumption_hard_mw if g.consumption_hard_mw is not None else inf
    lo_hard = g.production_hard_mw if g.production_hard_mw is not None else inf
    reach_hi, reach_lo = fixed.copy(), fixed.copy()
    for i in g.members:
        ch, dis = flow_bounds(p.devices[i])
        reach_hi, reach_lo = reach_hi + ch, reach_lo - dis
    if (hi_hard < reach_hi).any() or (-lo_hard > reach_lo).any():
        m.add_rows(
            f"group {g.name}",
            T,
            _power_terms(lay, g.members, steps, 1.0),
            -lo_hard - fixed,
            hi_hard - fixed,
            field="power-capacity",
            device=g.name,
            kind="group",
            couples=(DEVICES,),
        )
    price = g.breach_price if g.breach_price is not None else np.zeros(T)
    for side, sign, cap in (
        ("consumption", 1.0, g.consumption_soft_mw),
        ("production", -1.0, g.production_soft_mw),
    ):
        if cap is None:
            continue
        soft_rows(
            m,
            f"group {g.name} {side}",
            _power_terms(lay, g.members, steps, sign),
            cap - sign * fixed,
            price,
            dt,
            f"{side}-capacity",
            g.name,
            f"group {side} breach[{g.name}]",
            kind="group",
            couples=(DEVICES,),
        )


def _coupling(m: LinearModel, lay: Layout, p: SchedulingProblem, c: Coupling) -> None:
    from flex_pipelines.scheduling.build_highs import flow_bounds

    T = p.n_steps
    steps = np.arange(T)
    ub = np.full(T, np.inf)
    for i, k in c.members:
        ch, dis = flow_bounds(p.devices[i])
        ub = np.minimum(ub, (ch if k > 0 else dis) / abs(k))
    level = m.add_cols(
        f"coupling level[{c.name}]", T, 0.0, ub, kind="coupling level", device=c.name
    )
    for i, k in c.members:
        d = p.devices[i]
        terms = [(steps, lay.charge[i], 1.0), (steps, lay.discharge[i], -1.0), (steps, level, -k)]
        m.add_rows(
            f"coupling {c.name}[{d.name}]",
            T,
            terms,
            0.0,
            0.0,
            field="coupling",
            device=d.name,
            kind="coupling",
            couples=(DEVICES,),
        )
