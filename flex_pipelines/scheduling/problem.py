"""The problem description: devices × time steps as numpy arrays, in engine units.

This is what parsing produces and what both builds (direct HiGHS, pyomo) consume. Engine units:
power in MW (consumption positive), stock in MWh, prices in the problem's currency per MWh (energy
and per-step commitment prices) or per MW (peak and "any"-breach prices), efficiencies as
fractions. Flow arrays have ``n_steps`` values; SoC constraint arrays have ``n_steps + 1`` values
(index 0 = start; NaN = no constraint).

The stock recursion (FlexMeasures' linear storage-loss model), for step j:

    soc[j+1] = eff[j] * soc[j] + b[j] * dt * (eta_c[j] * charge[j] - discharge[j] / eta_d[j]
                                              + stock_delta[j])

with ``b = (eff - 1) / ln(eff)`` (``b = 1`` when ``eff = 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid

__all__ = [
    "Commitment",
    "Coupling",
    "Device",
    "FixedLoad",
    "Group",
    "Scenarios",
    "SchedulingProblem",
    "Site",
    "integrate_soc",
    "loss_factor_b",
]


@dataclass
class Device:
    """One flexible device. ``has_stock=False`` for a pure flow device (e.g. curtailable PV).

    ``consumption_capacity_mw`` / ``production_capacity_mw`` are the device's capacities: hard,
    or soft when a breach price is given; ``consumption_hard_mw`` / ``production_hard_mw`` are
    the hard limits a soft capacity is breached within (``power-capacity``). ``commodity`` says
    which balance its power enters; a ``coupling`` ties its power to the other members' as
    ``power = coupling_coefficient * level`` (signed: positive for a consuming input port,
    negative for a producing output port); ``group`` is the key of the group it belongs to.
    """

    name: str
    has_stock: bool
    soc_at_start_mwh: float
    soc_min_mwh: float
    soc_max_mwh: float
    consumption_capacity_mw: np.ndarray
    production_capacity_mw: np.ndarray
    charging_efficiency: np.ndarray
    discharging_efficiency: np.ndarray
    storage_efficiency: np.ndarray
    stock_delta_mw: np.ndarray  # soc-gain minus soc-usage, not subject to efficiencies
    soc_minima_mwh: np.ndarray  # per instant, NaN = none (soft unless relax is off)
    soc_maxima_mwh: np.ndarray
    soc_targets_mwh: np.ndarray
    soc_targets_soft: bool = True
    soc_minima_soft: bool = True
    soc_maxima_soft: bool = True
    consumption_breach_price: np.ndarray | None = None  # CUR/MW; None = hard capacity
    production_breach_price: np.ndarray | None = None
    prefer_charging_sooner: bool = True
    prefer_curtailing_later: bool = True
    operation_modes: list[tuple[float, float, float]] | None = None  # (lo_mw, hi_mw, fixed cost)
    power_sensor: int | None = None
    state_of_charge_sensor: int | None = None
    consumption_sensor: int | None = None
    production_sensor: int | None = None
    soc_unit: str = "MWh"
    #: registered flex-model fields that add rows (:mod:`~.extensions`): name → parsed value
    extensions: dict[str, Any] = field(default_factory=dict)
    consumption_hard_mw: np.ndarray | None = None  # None: the capacity itself (hard)
    production_hard_mw: np.ndarray | None = None
    commodity: str = "electricity"
    coupling: str | None = None
    coupling_coefficient: float = 1.0
    group: str | None = None

    def __post_init__(self) -> None:
        if self.consumption_hard_mw is None:
            self.consumption_hard_mw = self.consumption_capacity_mw
        if self.production_hard_mw is None:
            self.production_hard_mw = self.production_capacity_mw

    @property
    def power_capacity_mw(self) -> float:
        """The device's largest hard limit in either direction (MW)."""
        return float(
            max(
                np.max(self.consumption_hard_mw, initial=0.0),
                np.max(self.production_hard_mw, initial=0.0),
            )
        )


@dataclass
class Commitment:
    """A baseline on a net power with prices for deviating up and down.

    The net power is the site's (of its ``commodity``), or, when scoped by ``sensors`` or a
    ``group``, the summed power of those devices (``members``, device positions) plus the
    inflexible ones among them (``fixed_mw``). Cost per step: ``dt * (up_price * max(net -
    baseline, 0) - down_price * max(baseline - net, 0))`` with prices in CUR/MWh (a price given
    per MW is charged per MW per step, as FlexMeasures does: it is stored divided by ``dt``).
    FlexMeasures' sign convention: a positive down price rewards going below the baseline, as a
    production price rewards feed-in.
    """

    name: str
    baseline_mw: np.ndarray
    up_price: np.ndarray  # CUR/MWh
    down_price: np.ndarray
    commodity: str = "electricity"
    sensors: tuple[int, ...] | None = None  # the scope as given
    group: str | None = None
    members: list[int] | None = None  # resolved: device positions (None: the site's net power)
    fixed_mw: np.ndarray | None = None  # resolved: inflexible members' power


@dataclass
class Group:
    """Devices whose summed power is limited (a shared inverter, a feeder): hard limits from the
    group entry's ``power-capacity``, soft ones from its consumption/production capacities,
    breached at ``breach_price`` (CUR/MW, FlexMeasures' default 10000 CUR/kW)."""

    key: str
    name: str
    members: list[int] = field(default_factory=list)
    fixed_mw: np.ndarray | None = None  # inflexible members' summed power (MW)
    consumption_hard_mw: np.ndarray | None = None
    production_hard_mw: np.ndarray | None = None
    consumption_soft_mw: np.ndarray | None = None
    production_soft_mw: np.ndarray | None = None
    breach_price: np.ndarray | None = None
    power_sensor: int | None = None  # where its summed power is saved
    consumption_sensor: int | None = None
    production_sensor: int | None = None
    commodity: str = "electricity"
    parent: str | None = None  # the key of the group this group belongs to (nesting)


@dataclass
class Coupling:
    """Devices whose powers move in fixed proportion (the ports of one converter):
    ``power[d] = coefficient[d] * level`` with one level ≥ 0 per step."""

    name: str
    members: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class FixedLoad:
    """An inflexible device (a flex-model entry with ``inflexible-consumption`` or
    ``inflexible-production``): its measured or forecast power (MW, consumption positive) counts
    in its commodity's balance, its group and commitments scoped to it."""

    name: str
    power_mw: np.ndarray
    commodity: str = "electricity"
    group: str | None = None
    sensor: int | None = None


@dataclass
class Site:
    """The grid connection of one commodity (electricity unless ``commodity`` says otherwise),
    shared by the devices of that commodity; ``internal``: a node without connection (a heat
    network between a heat pump and a buffer) whose flows balance at every step."""

    consumption_price: np.ndarray  # CUR/MWh
    production_price: np.ndarray
    inflexible_mw: np.ndarray  # net inflexible consumption (consumption positive)
    consumption_hard_mw: np.ndarray  # inf = no limit
    production_hard_mw: np.ndarray
    consumption_soft_mw: np.ndarray | None = None
    production_soft_mw: np.ndarray | None = None
    consumption_breach_price: np.ndarray | None = None  # CUR/MW (any) and CUR/MW per hour (each)
    production_breach_price: np.ndarray | None = None
    peak_consumption_mw: np.ndarray | None = None
    peak_production_mw: np.ndarray | None = None
    peak_consumption_price: np.ndarray | None = None  # CUR/MW, charged once per window
    peak_production_price: np.ndarray | None = None
    soc_minima_breach_price: float | None = None  # CUR/MWh
    soc_maxima_breach_price: float | None = None
    commitments: list[Commitment] = field(default_factory=list)
    currency: str = "EUR"
    hard_fields: dict[str, str] = field(default_factory=dict)  # which field set each hard limit
    commodity: str = "electricity"
    internal: bool = False  # no grid connection: the commodity's flows balance to zero
    aggregate_power_sensor: int | None = None  # outputs: the net power schedule
    aggregate_consumption_sensor: int | None = None
    aggregate_production_sensor: int | None = None


@dataclass
class Scenarios:
    """Paths of a site's uncertain inputs for a risk-aware solve (S scenarios × T steps).

    One schedule of the devices (the first stage) is shared by every scenario; each scenario has
    its own grid import and export and its own cost (see :mod:`~.build_scenarios`).

    Attributes
    ----------
    consumption_price, production_price
        (S, T), CUR/MWh.
    inflexible_mw
        (S, T), MW, net inflexible consumption (consumption positive).
    weights
        (S,), probabilities summing to 1.
    risk_aversion
        λ ≥ 0: the objective is expected cost + λ × CVaR_α of the cost.
    cvar_alpha
        α in (0, 1): CVaR_α is the mean cost of the worst (1 − α) share of the scenarios.
    """

    consumption_price: np.ndarray
    production_price: np.ndarray
    inflexible_mw: np.ndarray
    weights: np.ndarray
    risk_aversion: float = 0.0
    cvar_alpha: float = 0.9

    def __post_init__(self) -> None:
        shape = np.shape(self.consumption_price)
        w = np.asarray(self.weights, dtype=float)
        if len(shape) != 2 or any(
            np.shape(a) != shape for a in (self.production_price, self.inflexible_mw)
        ):
            raise SchedulingError(
                "scenarios: prices and inflexible power must all be (scenarios × steps) arrays"
            )
        if w.shape != (shape[0],) or (w < 0).any() or abs(w.sum() - 1.0) > 1e-9:
            raise SchedulingError(
                f"scenarios: {shape[0]} scenarios need {shape[0]} weights ≥ 0 summing to 1"
            )
        if not (self.risk_aversion >= 0 and 0 < self.cvar_alpha < 1):
            raise SchedulingError(
                f"scenarios: risk-aversion {self.risk_aversion} must be ≥ 0 and cvar-alpha "
                f"{self.cvar_alpha} in (0, 1)"
            )

    @property
    def n(self) -> int:
        return int(self.weights.size)

    def site(self, base: Site, k: int) -> Site:
        """Scenario ``k``'s electricity site: ``base`` with the scenario's prices and load."""
        return replace(
            base,
            consumption_price=self.consumption_price[k],
            production_price=self.production_price[k],
            inflexible_mw=self.inflexible_mw[k],
        )


@dataclass
class SchedulingProblem:
    """Everything a build needs, in engine units."""

    grid: TimeGrid
    devices: list[Device]
    site: Site
    tie_break_weight: float = 0.0  # max per-MWh-step weight of the prefer-* tie breakers
    # processes scheduled jointly with the devices (process_milp.ProcessDevice: binary starts or
    # slots); energy is costed through the site's import/export, see build_highs.formulate
    processes: list[Any] = field(default_factory=list)
    other_sites: list[Site] = field(default_factory=list)  # commodities besides electricity
    groups: list[Group] = field(default_factory=list)
    couplings: list[Coupling] = field(default_factory=list)
    fixed_loads: list[FixedLoad] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. deprecated fields used
    #: risk-aware solve: one device schedule for several price/load paths (None: deterministic)
    scenarios: Scenarios | None = None

    @property
    def sites(self) -> list[Site]:
        """Every commodity's site, electricity first."""
        return [self.site, *self.other_sites]

    def site_of(self, commodity: str) -> Site:
        for s in self.sites:
            if s.commodity == commodity:
                return s
        raise KeyError(commodity)

    @property
    def n_steps(self) -> int:
        return self.grid.n_steps

    @property
    def dt(self) -> float:
        return self.grid.dt_hours

    def tie_break_weights(self) -> np.ndarray:
        """Weights decreasing over time (largest first): ``w * (T - j) / T``."""
        n = self.n_steps
        return self.tie_break_weight * (n - np.arange(n)) / n


def loss_factor_b(eff: np.ndarray) -> np.ndarray:
    """``b = (eff - 1) / ln(eff)`` with ``b = 1`` at ``eff = 1`` (continuous loss over a step)."""
    eff = np.asarray(eff, dtype=float)
    out = np.ones_like(eff)
    m = (eff < 1.0 - 1e-12) & (eff > 0)
    out[m] = (eff[m] - 1.0) / np.log(eff[m])
    out[eff <= 0] = 0.0
    return out


def integrate_soc(
    soc_start: float, changes: np.ndarray, efficiency: float | np.ndarray
) -> np.ndarray:
    """SoC per instant when each step's change is added and then the step's loss is taken.

    ``soc[j+1] = eff[j] * (soc[j] + change[j])`` — FlexMeasures' reporting convention for
    storage losses (``len(changes) + 1`` values). The optimiser itself uses the linear loss
    model of the module docstring; both agree when ``eff = 1``.
    """
    ch = np.asarray(changes, dtype=float)
    eff = np.broadcast_to(np.asarray(efficiency, dtype=float), ch.shape)
    out = np.empty(ch.size + 1)
    out[0] = soc_start
    for j in range(ch.size):
        out[j + 1] = eff[j] * (out[j] + ch[j])
    return out
