"""The vectorised build: a :class:`SchedulingProblem` as one sparse (MI)LP, solved by HiGHS.

Variables per device d and step j: ``charge`` and ``discharge`` (MW, ≥ 0), ``soc`` (MWh, the
stock at the end of step j); per site: ``import`` and ``export`` (MW, ≥ 0, net = import −
export); plus breach, peak and commitment deviation variables where the problem has them.
Every block is built with numpy index arithmetic, so a year of 15-minute steps builds in
milliseconds. The objective, per step of ``dt`` hours:

    dt * (consumption_price * import - production_price * export)
  + breach and peak terms, commitment deviations, tiny tie-breakers.

Binaries are *not* part of the base model: :mod:`flex_pipelines.scheduling.exact` adds them
only at the steps where the LP relaxation is not physical (see there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flex_pipelines.scheduling.linear_model import LinearModel
from flex_pipelines.scheduling.problem import SchedulingProblem, loss_factor_b

__all__ = ["ExclusivePair", "Layout", "formulate"]


@dataclass
class ExclusivePair:
    """Two non-negative column blocks that may not both be non-zero at one step."""

    name: str
    a: np.ndarray
    b: np.ndarray
    a_max: np.ndarray  # finite upper bounds (big-M) per step
    b_max: np.ndarray


@dataclass
class Layout:
    """Where each quantity lives in the column vector."""

    charge: list[np.ndarray] = field(default_factory=list)
    discharge: list[np.ndarray] = field(default_factory=list)
    soc: list[np.ndarray | None] = field(default_factory=list)
    imp: np.ndarray | None = None
    exp: np.ndarray | None = None
    pairs: list[ExclusivePair] = field(default_factory=list)
    n_steps: int = 0
    modes: dict[int, list[tuple[float, float, float]]] = field(default_factory=dict)
    processes: list[np.ndarray] = field(default_factory=list)  # binary columns per process
    highs_options: dict[str, Any] = field(default_factory=dict)  # extra HiGHS options
    # for exact repair of non-exclusive steps (see exact._repair): per device (eta_c, eta_d),
    # whether its charge/discharge may be netted, and the single energy price of a linear site
    eta: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    repairable: list[bool] = field(default_factory=list)
    repair_price: np.ndarray | None = None


def _net_bounds(p: SchedulingProblem) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the site's net power from device capacities, inflexible load, hard limits."""
    s = p.site
    cmax = sum((_finite_cap(d.consumption_capacity_mw, d.consumption_breach_price)
                for d in p.devices), np.zeros(p.n_steps))  # fmt: skip
    cmax = cmax + sum((max(pd.power_mw, 0.0) for pd in p.processes if not pd.is_fixed), 0.0)
    pmax = sum((_finite_cap(d.production_capacity_mw, d.production_breach_price)
                for d in p.devices), np.zeros(p.n_steps))  # fmt: skip
    base = s.inflexible_mw + process_fixed_mw(p)
    hi = np.minimum(base + cmax, s.consumption_hard_mw)
    lo = np.maximum(base - pmax, -s.production_hard_mw)
    return lo, hi


def process_fixed_mw(p: SchedulingProblem) -> np.ndarray:
    """Summed power (MW) of the processes without decisions (INFLEXIBLE, or filling the window)."""
    return sum((pd.fixed_power_mw(p.grid.start, p.grid.resolution) for pd in p.processes
                if pd.is_fixed), np.zeros(p.n_steps))  # fmt: skip


def check_processes(p: SchedulingProblem) -> None:
    """Refuse what the joint build cannot do: a process with optimization-sense MAX."""
    for pd in p.processes:
        if str(pd.flex_model.optimization_sense) == "MAX":
            from flex_pipelines.scheduling.grid import SchedulingError

            raise SchedulingError(
                f"process {pd.name!r}: flex-model field 'optimization-sense' = 'MAX' is not "
                f"supported when processes are scheduled jointly with the site (the joint solve "
                f"minimises the site's cost); use 'MIN', or schedule the process on its own"
            )
    if p.processes:
        _check_process_room(p)


def _check_process_room(p: SchedulingProblem) -> None:
    """Each process must fit under the hard site consumption limit somewhere it may run (with
    the inflexible load, the fixed processes and every device producing at full capacity)."""
    from flex_pipelines.scheduling.grid import SchedulingError
    from flex_pipelines.scheduling.process import feasible_block_starts

    s, g = p.site, p.grid
    produce = sum((d.production_capacity_mw for d in p.devices), np.zeros(p.n_steps))
    fixed = process_fixed_mw(p)
    room = s.consumption_hard_mw - s.inflexible_mw + produce
    over = np.flatnonzero(fixed > room + 1e-9)
    if over.size:
        i = int(over[0])
        raise SchedulingError(
            f"site-power-capacity {s.consumption_hard_mw[i]:g} MW is exceeded at "
            f"{g.fmt(g.time_at_step(i))} by the inflexible load and the INFLEXIBLE processes "
            f"({s.inflexible_mw[i] + fixed[i]:g} MW; the devices can offset {produce[i]:g} MW)"
        )
    room = room - fixed
    for pd in p.processes:
        if pd.is_fixed:
            continue
        bad = pd.blocked | (room < pd.power_mw - 1e-9)
        fits = (~bad).sum() >= pd.n_on if str(pd.process_type) == "BREAKABLE" else (
            feasible_block_starts(bad, pd.n_on).any())  # fmt: skip
        if not fits:
            i = int(np.argmax(~pd.blocked))
            raise SchedulingError(
                f"process {pd.name!r}: flex-model field 'power' = {pd.power_mw:g} MW does not fit "
                f"under the site-power-capacity ({np.max(s.consumption_hard_mw):g} MW, with the "
                f"other load) for {pd.n_on} step(s) in its allowed window from "
                f"{g.fmt(g.time_at_step(i))} to {g.fmt(g.end)}"
            )


def _finite_cap(cap: np.ndarray, breach: np.ndarray | None) -> np.ndarray:
    if breach is None:
        return cap
    return cap * 10.0 + 1000.0  # soft capacity: a generous finite bound for big-M


def _linear_site(p: SchedulingProblem) -> bool:
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


def formulate(p: SchedulingProblem) -> tuple[LinearModel, Layout]:
    """Build the LP relaxation (no binaries) of the problem."""
    m = LinearModel()
    lay = Layout()
    T, dt = p.n_steps, p.dt
    steps = np.arange(T)
    w = p.tie_break_weights()
    s = p.site

    for d_i, dev in enumerate(p.devices):
        soft_c = dev.consumption_breach_price is not None
        soft_p = dev.production_breach_price is not None
        cc, pc = dev.consumption_capacity_mw, dev.production_capacity_mw
        ch_ub = _finite_cap(cc, dev.consumption_breach_price)
        dis_ub = _finite_cap(pc, dev.production_breach_price)
        if dev.operation_modes:
            lo_all = min(b[0] for b in dev.operation_modes)
            hi_all = max(b[1] for b in dev.operation_modes)
            ch_ub = np.minimum(ch_ub, max(hi_all, 0.0))
            dis_ub = np.minimum(dis_ub, max(-lo_all, 0.0))
            lay.modes[d_i] = dev.operation_modes
        dis_cost = np.zeros(T)
        if not dev.has_stock and dev.prefer_curtailing_later:
            dis_cost = -w  # produce early, curtail late
        ch = m.add_cols(f"charge[{dev.name}]", T, 0.0, ch_ub)
        dis = m.add_cols(f"discharge[{dev.name}]", T, 0.0, dis_ub, dis_cost)
        lay.charge.append(ch)
        lay.eta.append((dev.charging_efficiency, dev.discharging_efficiency))
        lay.repairable.append(dev.has_stock and not (soft_c or soft_p or dev.operation_modes))
        lay.discharge.append(dis)
        lay.pairs.append(ExclusivePair(f"charge/discharge[{dev.name}]", ch, dis, ch_ub, dis_ub))
        for soft, flow, cap, price, label in (
            (soft_c, ch, cc, dev.consumption_breach_price, "consumption-capacity"),
            (soft_p, dis, pc, dev.production_breach_price, "production-capacity"),
        ):
            if soft:
                _soft_upper(m, f"{label}[{dev.name}]", flow, cap, price, dt, label, dev.name)
        if not dev.has_stock:
            lay.soc.append(None)
            continue
        lo, hi, soft_lo, soft_hi = _soc_bounds(dev)
        soc = m.add_cols(f"soc[{dev.name}]", T, lo, hi)
        lay.soc.append(soc)
        eff = dev.storage_efficiency
        b = loss_factor_b(eff) * dt
        if dev.prefer_charging_sooner and np.isfinite(dev.soc_max_mwh):
            _charge_sooner_costs(m, dev, w, eff, b, ch, dis)
        rhs = b * dev.stock_delta_mw
        rhs = rhs.copy()
        rhs[0] += eff[0] * dev.soc_at_start_mwh
        terms = [
            (steps, soc, 1.0),
            (steps[1:], soc[:-1], -eff[1:]),
            (steps, ch, -b * dev.charging_efficiency),
            (steps, dis, b / dev.discharging_efficiency),
        ]
        m.add_rows(f"stock balance[{dev.name}]", T, terms, rhs, rhs, field="soc", device=dev.name)
        if soft_lo is not None:
            k = np.flatnonzero(~np.isnan(soft_lo))
            if k.size:
                price = s.soc_minima_breach_price or 0.0
                short = m.add_cols(f"soc shortfall[{dev.name}]", k.size, 0.0, np.inf, price * dt)
                worst = m.add_cols(f"soc worst shortfall[{dev.name}]", 1, 0.0, np.inf, price)
                r = np.arange(k.size)
                m.add_rows(f"soc-minima[{dev.name}]", k.size, [(r, soc[k], 1.0), (r, short, 1.0)],
                           soft_lo[k], np.inf, field="soc-minima", steps=k, device=dev.name)  # fmt: skip
                m.add_rows(f"soc-minima any[{dev.name}]", k.size,
                           [(r, np.full(k.size, worst[0]), 1.0), (r, short, -1.0)], 0.0, np.inf)  # fmt: skip
        if soft_hi is not None:
            k = np.flatnonzero(~np.isnan(soft_hi))
            if k.size:
                price = s.soc_maxima_breach_price or 0.0
                sur = m.add_cols(f"soc surplus[{dev.name}]", k.size, 0.0, np.inf, price * dt)
                worst = m.add_cols(f"soc worst surplus[{dev.name}]", 1, 0.0, np.inf, price)
                r = np.arange(k.size)
                m.add_rows(f"soc-maxima[{dev.name}]", k.size, [(r, soc[k], 1.0), (r, sur, -1.0)],
                           -np.inf, soft_hi[k], field="soc-maxima", steps=k, device=dev.name)  # fmt: skip
                m.add_rows(f"soc-maxima any[{dev.name}]", k.size,
                           [(r, np.full(k.size, worst[0]), 1.0), (r, sur, -1.0)], 0.0, np.inf)  # fmt: skip

    # --- processes: binary start (SHIFTABLE) or slot (BREAKABLE) columns, zero cost (their
    # energy is costed through import/export); fixed ones are constant load in the balance ----
    check_processes(p)
    proc_terms = []
    for pd in p.processes:
        cand = pd.candidates()
        x = m.add_cols(f"process[{pd.name}]", cand.size, 0.0, 1.0, 0.0, integer=True)
        lay.processes.append(x)
        if not cand.size:
            continue
        m.add_rows(f"process link[{pd.name}]", 1, [(np.zeros(cand.size, np.int64), x, 1.0)],
                   pd.link_rhs(), pd.link_rhs(), field="duration", device=pd.name)  # fmt: skip
        st, lc, coef = pd.power_triplets()
        proc_terms.append((st, x[lc], coef))
        # with process starts HiGHS spent most of its time in sub-MIP heuristics after presolve
        # restarts; presolve off was 3-6x faster on every tight site limit measured (bench_joint)
        lay.highs_options["presolve"] = "off"
    fixed = process_fixed_mw(p)

    # --- site ------------------------------------------------------------------------------
    net_lo, net_hi = _net_bounds(p)
    lay.n_steps = T
    if _linear_site(p):
        lay.repair_price = s.consumption_price
        # One price for both directions and no site-level soft terms: the energy cost is linear
        # in net power, so no import/export split is needed (fewer columns and rows).
        for ch, dis in zip(lay.charge, lay.discharge, strict=True):
            m.add_cost(ch, dt * s.consumption_price)
            m.add_cost(dis, -dt * s.consumption_price)
        m.offset += float(dt * np.sum(s.consumption_price * s.inflexible_mw))
        cap_hi = s.consumption_hard_mw - s.inflexible_mw
        cap_lo = -s.production_hard_mw - s.inflexible_mw
        dev_hi = sum(
            (_finite_cap(d.consumption_capacity_mw, d.consumption_breach_price) for d in p.devices),
            np.zeros(T))  # fmt: skip
        dev_lo = -sum((_finite_cap(d.production_capacity_mw, d.production_breach_price)
                       for d in p.devices), np.zeros(T))  # fmt: skip
        if (cap_hi < dev_hi).any() or (cap_lo > dev_lo).any():
            terms = []
            for ch, dis in zip(lay.charge, lay.discharge, strict=True):
                terms += [(steps, ch, 1.0), (steps, dis, -1.0)]
            m.add_rows("site balance", T, terms, cap_lo, cap_hi, field="site-power-capacity")
        return m, lay
    imp_ub = np.maximum(net_hi, 0.0)
    exp_ub = np.maximum(-net_lo, 0.0)
    imp = m.add_cols("import", T, 0.0, imp_ub, dt * s.consumption_price)
    exp = m.add_cols("export", T, 0.0, exp_ub, -dt * s.production_price)
    lay.imp, lay.exp = imp, exp
    lay.pairs.append(ExclusivePair("import/export", imp, exp, imp_ub, exp_ub))
    terms = [(steps, imp, -1.0), (steps, exp, 1.0)]
    for ch, dis in zip(lay.charge, lay.discharge, strict=True):
        terms += [(steps, ch, 1.0), (steps, dis, -1.0)]
    terms += proc_terms
    m.add_rows("site balance", T, terms, -s.inflexible_mw - fixed, -s.inflexible_mw - fixed,
               field="site-power-capacity")  # fmt: skip
    if s.consumption_soft_mw is not None and s.consumption_breach_price is not None:
        _soft_upper(m, "site consumption", imp, s.consumption_soft_mw, s.consumption_breach_price,
                    dt, "site-consumption-capacity", None)  # fmt: skip
    if s.production_soft_mw is not None and s.production_breach_price is not None:
        _soft_upper(m, "site production", exp, s.production_soft_mw, s.production_breach_price,
                    dt, "site-production-capacity", None)  # fmt: skip
    for flow, peak, price, label in (
        (imp, s.peak_consumption_mw, s.peak_consumption_price, "site-peak-consumption"),
        (exp, s.peak_production_mw, s.peak_production_price, "site-peak-production"),
    ):
        if price is not None and peak is not None:
            top = m.add_cols(f"{label} excess", 1, 0.0, np.inf, float(np.max(price)))
            m.add_rows(label, T, [(steps, np.full(T, top[0]), 1.0), (steps, flow, -1.0)],
                       -peak, np.inf, field=label)  # fmt: skip
    for c in s.commitments:
        up_ub = np.maximum(net_hi - c.baseline_mw, 0.0)
        dn_ub = np.maximum(c.baseline_mw - net_lo, 0.0)
        up = m.add_cols(f"{c.name} up", T, 0.0, up_ub, dt * c.up_price)
        dn = m.add_cols(f"{c.name} down", T, 0.0, dn_ub, -dt * c.down_price)
        m.add_rows(f"commitment {c.name}", T,
                   [(steps, imp, 1.0), (steps, exp, -1.0), (steps, up, -1.0), (steps, dn, 1.0)],
                   c.baseline_mw, c.baseline_mw, field="commitments")  # fmt: skip
        lay.pairs.append(ExclusivePair(f"commitment {c.name}", up, dn, up_ub, dn_ub))
    return m, lay


def _charge_sooner_costs(m: LinearModel, dev, w, eff, b, ch, dis) -> None:
    """``sum_j w_j * (soc_max - soc_j)`` written on the flows instead of on the stock.

    With ``soc_j = P_j soc_0 + sum_{i<=j} (prod_{k=i+1..j} eff_k) b_i (eta_c ch_i - dis_i/eta_d
    + delta_i)`` the same objective is ``const - sum_i c_i b_i (eta_c ch_i - dis_i/eta_d)`` with
    ``c_i = w_i + eff_{i+1} c_{i+1}``. Identical optimum, but the coefficients are cumulative
    (order 1e-4 × price spread) rather than tiny per-step weights that fall below the simplex
    tolerances on long horizons (a year took minutes instead of seconds).
    """
    T = w.size
    c = np.empty(T)
    acc = 0.0
    for i in range(T - 1, -1, -1):  # O(T) scalar loop; vectorised via cumprod would lose digits
        acc = w[i] + (eff[i + 1] * acc if i + 1 < T else 0.0)
        c[i] = acc
    m.add_cost(ch, -c * b * dev.charging_efficiency)
    m.add_cost(dis, c * b / dev.discharging_efficiency)
    P = np.cumprod(eff)
    m.offset += float(np.sum(w) * dev.soc_max_mwh - dev.soc_at_start_mwh * np.sum(w * P)
                      - np.sum(c * b * dev.stock_delta_mw))  # fmt: skip


def _soft_upper(
    m: LinearModel, name: str, flow: np.ndarray, cap: np.ndarray, price: np.ndarray, dt: float,
    field_name: str, device: str | None,
) -> None:  # fmt: skip
    """flow ≤ cap + breach; breach priced per MW per hour each step and per MW on the worst."""
    T = flow.size
    steps = np.arange(T)
    br = m.add_cols(f"{name} breach", T, 0.0, np.inf, dt * price)
    worst = m.add_cols(f"{name} worst breach", 1, 0.0, np.inf, float(np.max(price)))
    m.add_rows(field_name, T, [(steps, flow, 1.0), (steps, br, -1.0)], -np.inf, cap,
               field=field_name, device=device)  # fmt: skip
    m.add_rows(f"{name} any", T, [(steps, np.full(T, worst[0]), 1.0), (steps, br, -1.0)], 0.0,
               np.inf)  # fmt: skip


def _soc_bounds(dev) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hard stock bounds per step end, and the soft minima/maxima (NaN = none)."""
    T = dev.consumption_capacity_mw.size
    lo = np.full(T, dev.soc_min_mwh)
    hi = np.full(T, dev.soc_max_mwh)
    tgt = dev.soc_targets_mwh[1:]
    mins, maxs = dev.soc_minima_mwh[1:], dev.soc_maxima_mwh[1:]
    soft_lo = np.full(T, np.nan)
    soft_hi = np.full(T, np.nan)
    if dev.soc_targets_soft:
        soft_lo, soft_hi = np.fmax(soft_lo, tgt), np.fmin(soft_hi, tgt)
    else:
        lo = np.where(np.isnan(tgt), lo, tgt)
        hi = np.where(np.isnan(tgt), hi, tgt)
    if dev.soc_minima_soft:
        soft_lo = np.fmax(soft_lo, mins)
    else:
        lo = np.fmax(lo, np.where(np.isnan(mins), -np.inf, mins))
    if dev.soc_maxima_soft:
        soft_hi = np.fmin(soft_hi, maxs)
    else:
        hi = np.fmin(hi, np.where(np.isnan(maxs), np.inf, maxs))
    return lo, hi, soft_lo, soft_hi
