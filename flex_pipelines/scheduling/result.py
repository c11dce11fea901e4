"""The result record of a schedule, and its costs recomputed from the physical schedule.

Costs are computed from power and SoC (not read from solver internals), so both builds report
them the same way and the sum doubles as a check on the solver's objective. ``costs["total"]``
is what the schedule costs (energy, breaches, peaks, commitments, mode costs); the tiny
``prefer-*`` tie-breakers are listed under their own names but left out of the total (they are
in ``objective``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flex_pipelines.scheduling.build_highs import _soc_bounds
from flex_pipelines.scheduling.grid import TimeGrid
from flex_pipelines.scheduling.problem import SchedulingProblem
from flex_pipelines.time import format_duration

__all__ = ["DeviceSchedule", "ScheduleResult", "compute_costs", "unmet_soft_constraints"]

PREFERENCE_PREFIX = "prefer "


@dataclass
class DeviceSchedule:
    """One device's schedule: power per step (MW, consumption positive), SoC per instant (MWh)."""

    name: str
    power_mw: np.ndarray
    soc_mwh: np.ndarray | None
    power_sensor: int | None = None
    state_of_charge_sensor: int | None = None
    starts: list[str] | None = None  # processes only: ISO start of each run (block or slot run)


@dataclass
class ScheduleResult:
    """Status, objective, costs per commitment, unmet soft targets, timings and schedules."""

    status: str
    objective: float
    costs: dict[str, float]
    unmet: list[dict[str, Any]]
    timings: dict[str, float]
    devices: list[DeviceSchedule]
    site_power_mw: np.ndarray
    grid: TimeGrid
    currency: str = "EUR"
    backend: str = "highs"
    #: net power per commodity besides electricity's ``site_power_mw``, and per group (MW)
    commodity_power_mw: dict[str, np.ndarray] = field(default_factory=dict)
    group_power_mw: dict[str, np.ndarray] = field(default_factory=dict)
    binaries: int = 0
    iterations: int = 1
    mip_gap: float = 0.0
    notes: list[str] = field(default_factory=list)
    method: str = ""  # highs backend: "dp", "lp" (LP exact, no binaries) or "milp"
    #: a risk-aware solve: costs over the scenarios (risk.RiskSummary); costs are their mean
    risk: Any = None

    def device(self, name: str) -> DeviceSchedule:
        for d in self.devices:
            if d.name == name:
                return d
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        g = self.grid
        start = g.start.isoformat()
        res = format_duration(g.resolution)

        def series(values: np.ndarray, unit: str) -> dict[str, Any]:
            return {
                "start": start,
                "resolution": res,
                "unit": unit,
                "values": [round(float(v), 9) for v in values],
            }

        return {
            "status": self.status,
            "objective": self.objective,
            "currency": self.currency,
            "costs": {k: round(v, 9) for k, v in self.costs.items()},
            "unmet": self.unmet,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "backend": self.backend,
            "method": self.method,
            "binaries": self.binaries,
            "iterations": self.iterations,
            "mip_gap": self.mip_gap,
            "notes": self.notes,
            **({"risk": self.risk.to_json()} if self.risk is not None else {}),
            "start": start,
            "end": g.end.isoformat(),
            "resolution": res,
            "devices": [
                {
                    "name": d.name,
                    "power": series(d.power_mw, "MW"),
                    "soc": series(d.soc_mwh, "MWh") if d.soc_mwh is not None else None,
                }
                | ({"starts": d.starts} if d.starts is not None else {})
                for d in self.devices
            ],
            "site": {"power": series(self.site_power_mw, "MW")}
            | (
                {
                    "commodities": {
                        c: {"power": series(v, "MW")} for c, v in self.commodity_power_mw.items()
                    }
                }
                if self.commodity_power_mw
                else {}
            )
            | (
                {"groups": {g: {"power": series(v, "MW")} for g, v in self.group_power_mw.items()}}
                if self.group_power_mw
                else {}
            ),
        }


def _pos(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def site_net_power(
    p: SchedulingProblem, power: list[np.ndarray], process_mw: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Each commodity's net power (MW, consumption positive): inflexible load, its devices and
    (electricity) the jointly scheduled processes."""
    out = {s.commodity: s.inflexible_mw.copy() for s in p.sites}
    for d, pw in zip(p.devices, power, strict=True):
        out[d.commodity] = out[d.commodity] + pw
    if process_mw is not None:
        out[p.site.commodity] = out[p.site.commodity] + process_mw
    return out


def group_power(p: SchedulingProblem, power: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each group's summed power (MW): its devices and its inflexible members."""
    out = {}
    for g in p.groups:
        total = np.zeros(p.n_steps) if g.fixed_mw is None else g.fixed_mw.copy()
        for i in g.members:
            total = total + power[i]
        out[g.name] = total
    return out


def compute_costs(
    p: SchedulingProblem,
    power: list[np.ndarray],
    soc: list[np.ndarray | None],
    process_mw: np.ndarray | None = None,
    processes: list[np.ndarray] | None = None,
) -> dict[str, float]:
    """Cost per commitment from the physical schedule (CUR); ``total`` excludes preferences.

    ``process_mw``: the summed power of jointly scheduled processes (MW per step), part of the
    electricity site's net power; ``processes``: each one's power (for the ``MAX``-sense ones'
    preference term).
    """
    dt = p.dt
    nets = site_net_power(p, power, process_mw)
    costs: dict[str, float] = {}

    def breach(label: str, flow: np.ndarray, cap: np.ndarray | None, price: np.ndarray | None):
        if cap is None or price is None:
            return
        over = _pos(flow - cap)
        costs[f"{label} (worst)"] = float(np.max(price) * np.max(over, initial=0.0))
        costs[f"{label} (each step)"] = float(dt * np.sum(price * over))

    def commitment(c: Any, net: np.ndarray) -> None:
        dev = net - c.baseline_mw
        costs[c.name] = float(dt * np.sum(c.up_price * _pos(dev) - c.down_price * _pos(-dev)))

    for s in p.sites:
        net = nets[s.commodity]
        sfx = "" if s is p.site else f"[{s.commodity}]"
        if not (s.internal and s is not p.site):
            imp, exp = _pos(net), _pos(-net)
            costs[s.commodity] = float(
                dt * np.sum(s.consumption_price * imp - s.production_price * exp)
            )
            breach(
                f"site consumption breach{sfx}",
                imp,
                s.consumption_soft_mw,
                s.consumption_breach_price,
            )
            breach(
                f"site production breach{sfx}", exp, s.production_soft_mw, s.production_breach_price
            )
            for label, flow, peak, price in (
                ("site peak consumption", imp, s.peak_consumption_mw, s.peak_consumption_price),
                ("site peak production", exp, s.peak_production_mw, s.peak_production_price),
            ):
                if price is not None and peak is not None:
                    costs[label + sfx] = float(
                        np.max(price) * np.max(_pos(flow - peak), initial=0.0)
                    )
        for c in s.commitments:
            if c.members is None:
                commitment(c, net)
            else:
                fixed = c.fixed_mw if c.fixed_mw is not None else np.zeros(p.n_steps)
                commitment(c, fixed + sum((power[i] for i in c.members), np.zeros(p.n_steps)))
    for g, gp in zip(p.groups, group_power(p, power).values(), strict=True):
        breach(
            f"group consumption breach[{g.name}]", _pos(gp), g.consumption_soft_mw, g.breach_price
        )
        breach(
            f"group production breach[{g.name}]", _pos(-gp), g.production_soft_mw, g.breach_price
        )
    for pd, pw in zip(p.processes, processes or [], strict=False):
        if str(pd.flex_model.optimization_sense) == "MAX" and not pd.is_fixed:
            value = float(dt * np.sum(p.site.consumption_price * pw))
            costs[f"{PREFERENCE_PREFIX}high prices[{pd.name}]"] = -2.0 * value
    w = p.tie_break_weights()
    for d, pw, st in zip(p.devices, power, soc, strict=True):
        breach(
            f"consumption breach[{d.name}]",
            _pos(pw),
            d.consumption_capacity_mw,
            d.consumption_breach_price,
        )
        breach(
            f"production breach[{d.name}]",
            _pos(-pw),
            d.production_capacity_mw,
            d.production_breach_price,
        )
        if d.operation_modes and any(b[2] for b in d.operation_modes):
            fixed_cost = 0.0
            for v in pw:
                fits = [b[2] for b in d.operation_modes if b[0] - 1e-6 <= v <= b[1] + 1e-6]
                fixed_cost += min(fits) if fits else 0.0
            costs[f"operation modes[{d.name}]"] = fixed_cost
        if st is None:
            if d.prefer_curtailing_later:
                costs[f"{PREFERENCE_PREFIX}curtailing later[{d.name}]"] = float(
                    -np.sum(w * _pos(-pw))
                )
            continue
        _, _, soft_lo, soft_hi = _soc_bounds(d)
        stock = st[1:]
        if soft_lo is not None and p.site.soc_minima_breach_price and not np.isnan(soft_lo).all():
            short = _pos(np.nan_to_num(soft_lo - stock, nan=0.0))
            costs[f"soc minima breach[{d.name}]"] = float(
                p.site.soc_minima_breach_price * (short.max(initial=0.0) + dt * short.sum())
            )
        if soft_hi is not None and p.site.soc_maxima_breach_price and not np.isnan(soft_hi).all():
            sur = _pos(np.nan_to_num(stock - soft_hi, nan=0.0))
            costs[f"soc maxima breach[{d.name}]"] = float(
                p.site.soc_maxima_breach_price * (sur.max(initial=0.0) + dt * sur.sum())
            )
        if d.prefer_charging_sooner and np.isfinite(d.soc_max_mwh):
            costs[f"{PREFERENCE_PREFIX}charging sooner[{d.name}]"] = float(
                np.sum(w * (d.soc_max_mwh - stock))
            )
    costs["total"] = float(sum(v for k, v in costs.items() if not k.startswith(PREFERENCE_PREFIX)))
    return costs


def unmet_soft_constraints(
    p: SchedulingProblem, soc: list[np.ndarray | None], tol: float = 1e-6
) -> list[dict[str, Any]]:
    """Soft SoC targets, minima and maxima the schedule does not meet (first 50)."""
    out: list[dict[str, Any]] = []
    g = p.grid
    for d, st in zip(p.devices, soc, strict=True):
        if st is None:
            continue
        for fname, arr, sign, soft in (
            ("soc-targets", d.soc_targets_mwh, 0, d.soc_targets_soft),
            ("soc-minima", d.soc_minima_mwh, 1, d.soc_minima_soft),
            ("soc-maxima", d.soc_maxima_mwh, -1, d.soc_maxima_soft),
        ):
            if not soft:
                continue
            k = np.flatnonzero(~np.isnan(arr))
            miss = st[k] - arr[k]
            bad = (np.abs(miss) > tol) if sign == 0 else (sign * miss < -tol)
            for i in k[bad][: 50 - len(out)]:
                out.append(
                    {
                        "device": d.name,
                        "field": fname,
                        "time": g.time_at_instant(int(i)).isoformat(),
                        "required_mwh": float(arr[i]),
                        "scheduled_mwh": float(st[i]),
                    }
                )
    return out
