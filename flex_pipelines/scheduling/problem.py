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

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flex_pipelines.scheduling.grid import TimeGrid

__all__ = [
    "Device",
    "Site",
    "Commitment",
    "SchedulingProblem",
    "loss_factor_b",
    "integrate_soc",
]


@dataclass
class Device:
    """One flexible device. ``has_stock=False`` for a pure flow device (e.g. curtailable PV)."""

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

    @property
    def power_capacity_mw(self) -> float:
        return float(
            max(
                np.max(self.consumption_capacity_mw, initial=0.0),
                np.max(self.production_capacity_mw, initial=0.0),
            )
        )


@dataclass
class Commitment:
    """A baseline on the site's net power with prices for deviating up and down.

    Cost per step: ``dt * (up_price * max(net - baseline, 0) - down_price * max(baseline - net,
    0))`` (FlexMeasures' sign convention: a positive down price rewards going below the
    baseline, as a production price rewards feed-in).
    """

    name: str
    baseline_mw: np.ndarray
    up_price: np.ndarray  # CUR/MWh
    down_price: np.ndarray


@dataclass
class Site:
    """The grid connection shared by all devices."""

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
