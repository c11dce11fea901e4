"""The problem described once: a :class:`SchedulingProblem` as blocks of a sparse (MI)LP.

Variables per device d and step j: ``charge`` and ``discharge`` (MW, ≥ 0), ``soc`` (MWh, the
stock at the end of step j); per site: ``import`` and ``export`` (MW, ≥ 0, net = import −
export); plus breach, peak and commitment deviation variables where the problem has them.
Every block is built with numpy index arithmetic, so a year of 15-minute steps builds in
milliseconds, and every block says what it is (:class:`~.linear_model.RowBlock`: field, kind,
whether it couples steps or devices). The objective, per step of ``dt`` hours:

    dt * (consumption_price * import - production_price * export)
  + breach and peak terms, commitment deviations, tiny tie-breakers.

This description is the only place a constraint is written. HiGHS takes its matrix directly
(:func:`~flex_pipelines.scheduling.highs_run.run_highs`), :mod:`~.build_pyomo` turns the same
blocks into a pyomo model, and :mod:`~.dp_model` decides from the blocks' kinds whether the
dynamic programme applies. Constraints reachable from flex-model fields that are not part of
this module (e.g. ``ramp-limit``) are registered in :mod:`~.extensions` and added here too.

Binaries are *not* part of the base model: :mod:`flex_pipelines.scheduling.exact` adds them
only at the steps where the LP relaxation is not physical (see there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flex_pipelines.scheduling.build_links import link_blocks
from flex_pipelines.scheduling.build_process import check_processes, process_blocks
from flex_pipelines.scheduling.build_scenarios import scenario_blocks
from flex_pipelines.scheduling.build_site import site_blocks
from flex_pipelines.scheduling.extensions import device_extension_blocks
from flex_pipelines.scheduling.linear_model import STEPS, LinearModel
from flex_pipelines.scheduling.problem import Device, SchedulingProblem, loss_factor_b
from flex_pipelines.scheduling.soft_rows import SoftRows, soft_upper, worst_rows

__all__ = ["ExclusivePair", "Layout", "SoftRows", "formulate", "soc_bounds"]


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
    """Where each quantity lives in the column vector, and the structure the exact methods use."""

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
    # the dynamic programme's view: soft SoC limits per device, soft site limits, site commitment
    # deviation columns (up, down) and the rows of the (one-price) site balance
    soc_soft: list[dict[str, SoftRows]] = field(default_factory=list)
    site_soft: dict[str, SoftRows] = field(default_factory=dict)
    commitments: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    balance: np.ndarray | None = None
    # a risk-aware build: the scenarios' costs and CVaR columns (build_scenarios.ScenarioLayout)
    scenarios: Any = None
    # pairs whose sides can both be lowered by their minimum at no cost where the mask is true
    # (a scenario's import and export where its production price is not above consumption's)
    nettable: list[tuple[int, np.ndarray]] = field(default_factory=list)


def flow_bounds(dev: Device) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds (MW) of a device's charge and discharge columns: its hard limits (a soft
    capacity is breached within them, never beyond), narrowed to its operation modes."""
    ch, dis = dev.consumption_hard_mw, dev.production_hard_mw
    assert ch is not None and dis is not None
    if dev.operation_modes:
        ch = np.minimum(ch, max(max(b[1] for b in dev.operation_modes), 0.0))
        dis = np.minimum(dis, max(-min(b[0] for b in dev.operation_modes), 0.0))
    return ch, dis


def formulate(p: SchedulingProblem, *, split_site: bool = False) -> tuple[LinearModel, Layout]:
    """Describe the problem (the LP relaxation: no binaries).

    ``split_site`` always gives the site import and export columns (the pyomo build's
    ``m.imp``/``m.exp``), also where one price makes net power enough.
    """
    m = LinearModel()
    lay = Layout(n_steps=p.n_steps)
    w = p.tie_break_weights()
    for d_i, dev in enumerate(p.devices):
        _device_blocks(m, lay, p, d_i, dev, w)
        device_extension_blocks(m, lay, p, d_i, dev)
    check_processes(p)
    process_blocks(m, lay, p)
    site_blocks(m, lay, p, split_site=split_site, main=p.scenarios is None)
    link_blocks(m, lay, p)
    if p.scenarios is not None:  # electricity's connection once per scenario, and the CVaR
        scenario_blocks(m, lay, p, split_site=split_site)
    return m, lay


def _device_blocks(
    m: LinearModel, lay: Layout, p: SchedulingProblem, d_i: int, dev: Device, w: np.ndarray
) -> None:
    """One device's flows, stock, stock balance, soft capacities and soft SoC limits."""
    T, dt = p.n_steps, p.dt
    steps = np.arange(T)
    ch_ub, dis_ub = flow_bounds(dev)
    if dev.operation_modes:
        lay.modes[d_i] = dev.operation_modes
    dis_cost = np.zeros(T)
    if not dev.has_stock and dev.prefer_curtailing_later:
        dis_cost = -w  # produce early, curtail late
    name = dev.name
    ch = m.add_cols(f"charge[{name}]", T, 0.0, ch_ub, kind="charge", device=name)
    dis = m.add_cols(
        f"discharge[{name}]",
        T,
        0.0,
        dis_ub,
        dis_cost,
        kind="discharge",
        device=name,
        term=f"prefer curtailing later[{name}]",
    )
    lay.charge.append(ch)
    lay.discharge.append(dis)
    soft_c = dev.consumption_breach_price is not None
    soft_p = dev.production_breach_price is not None
    lay.eta.append((dev.charging_efficiency, dev.discharging_efficiency))
    lay.repairable.append(dev.has_stock and not (soft_c or soft_p or dev.operation_modes))
    lay.pairs.append(ExclusivePair(f"charge/discharge[{name}]", ch, dis, ch_ub, dis_ub))
    for soft, flow, cap, price, label in (
        (
            soft_c,
            ch,
            dev.consumption_capacity_mw,
            dev.consumption_breach_price,
            "consumption-capacity",
        ),
        (
            soft_p,
            dis,
            dev.production_capacity_mw,
            dev.production_breach_price,
            "production-capacity",
        ),
    ):
        if soft:
            soft_upper(
                m,
                f"{label}[{name}]",
                flow,
                cap,
                price,
                dt,
                label,
                name,
                f"{label.split('-')[0]} breach[{name}]",
            )
    lay.soc_soft.append({})
    if not dev.has_stock:
        lay.soc.append(None)
        return
    lo, hi, soft_lo, soft_hi = soc_bounds(dev)
    soc = m.add_cols(f"soc[{name}]", T, lo, hi, kind="soc", device=name)
    lay.soc.append(soc)
    eff = dev.storage_efficiency
    b = loss_factor_b(eff) * dt
    if dev.prefer_charging_sooner and np.isfinite(dev.soc_max_mwh):
        _charge_sooner_costs(m, dev, w, eff, b, ch, dis)
    rhs = (b * dev.stock_delta_mw).copy()
    rhs[0] += eff[0] * dev.soc_at_start_mwh
    terms = [
        (steps, soc, 1.0),
        (steps[1:], soc[:-1], -eff[1:]),
        (steps, ch, -b * dev.charging_efficiency),
        (steps, dis, b / dev.discharging_efficiency),
    ]
    m.add_rows(
        f"stock balance[{name}]",
        T,
        terms,
        rhs,
        rhs,
        field="soc",
        device=name,
        kind="stock balance",
        couples=(STEPS,),
    )
    for key, bound, sign, price in (
        ("minima", soft_lo, 1.0, p.site.soc_minima_breach_price),
        ("maxima", soft_hi, -1.0, p.site.soc_maxima_breach_price),
    ):
        k = np.flatnonzero(~np.isnan(bound))
        if not k.size:
            continue
        price = price or 0.0
        label = f"soc {key} breach[{name}]"
        gap = m.add_cols(
            f"soc {'shortfall' if sign > 0 else 'surplus'}[{name}]",
            k.size,
            0.0,
            np.inf,
            price * dt,
            kind="gap",
            device=name,
            term=label,
        )
        worst = m.add_cols(
            f"soc worst {'shortfall' if sign > 0 else 'surplus'}[{name}]",
            1,
            0.0,
            np.inf,
            price,
            kind="worst gap",
            device=name,
            term=label,
        )
        r = np.arange(k.size)
        lb, ub = (bound[k], np.inf) if sign > 0 else (-np.inf, bound[k])
        rows = m.add_rows(
            f"soc-{key}[{name}]",
            k.size,
            [(r, soc[k], 1.0), (r, gap, sign)],
            lb,
            ub,
            field=f"soc-{key}",
            steps=k,
            device=name,
            kind=f"soc-{key}",
        )
        worst_rows(m, f"soc-{key} any[{name}]", worst, gap)
        lay.soc_soft[d_i][key] = SoftRows(rows, k, gap, worst, sign)


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
    term = f"prefer charging sooner[{dev.name}]"
    m.add_cost(ch, -c * b * dev.charging_efficiency, term)
    m.add_cost(dis, c * b / dev.discharging_efficiency, term)
    P = np.cumprod(eff)
    m.add_offset(
        float(
            np.sum(w) * dev.soc_max_mwh
            - dev.soc_at_start_mwh * np.sum(w * P)
            - np.sum(c * b * dev.stock_delta_mw)
        ),
        term,
    )


def soc_bounds(dev) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
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


_soc_bounds = soc_bounds  # the name other modules imported
