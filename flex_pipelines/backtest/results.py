"""Backtest results: per day and in total, per variant; value capture and the cost of each
input's forecast error.

With costs in the site's currency (positive = paid):

- ``savings = baseline − cost`` (the baseline: the site without its flexible devices);
- ``value capture = (baseline − cost) / (baseline − perfect)``: the share of what perfect
  foresight saves that a variant saves (None when perfect foresight saves nothing);
- the cost of forecast error of an input = cost(forecast) − cost(forecast with that input
  realised); their sum over the inputs, against the whole gap cost(forecast) − cost(perfect),
  is the share of the gap explained one input at a time (the rest: interactions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from flex_pipelines.backtest.variants import INPUT_ROLES, Variant

__all__ = ["BacktestDay", "BacktestResult", "ErrorSplit", "VariantTotal", "value_capture"]

_EPS = 1e-9


def value_capture(baseline: float, cost: float, perfect: float) -> float | None:
    """(baseline − cost) / (baseline − perfect); None when perfect foresight saves nothing."""
    gap = baseline - perfect
    return None if abs(gap) < _EPS else (baseline - cost) / gap


@dataclass(frozen=True)
class BacktestDay:
    """One local day: the baseline's and each variant's realised cost, and solve times (s)."""

    day: date
    viewpoint: datetime
    baseline_cost: float
    costs: dict[str, float]
    solve_s: dict[str, float]
    over_limit_mwh: dict[str, float] = field(default_factory=dict)  # see settle.over_limit_mwh
    #: device power per variant (MW per step, devices summed), kept when asked for
    power_mw: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def savings(self, variant: str) -> float:
        return self.baseline_cost - self.costs[variant]

    def capture(self, variant: str) -> float | None:
        return value_capture(self.baseline_cost, self.costs[variant], self.costs["perfect"])


@dataclass(frozen=True)
class VariantTotal:
    """A variant over the backtest's days (costs in the site's currency)."""

    variant: str
    days: int
    cost: float
    baseline_cost: float
    savings: float
    value_capture: float | None
    solve_s_per_day: float
    worst_decile_savings: float  # mean savings over the 10 % of days it saves least
    worst_decile_capture: float | None  # capture on those days together
    over_limit_mwh: float = 0.0  # realised energy over the site's hard limits (settle.py)

    def to_record(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class ErrorSplit:
    """The gap between the forecast schedule and perfect foresight, and each input's part."""

    gap: float  # cost(forecast) − cost(perfect)
    per_input: dict[str, float]  # role → cost(forecast) − cost(forecast, role realised)

    @property
    def explained(self) -> float | None:
        """Σ per-input costs / gap (None without a gap)."""
        return None if abs(self.gap) < _EPS else sum(self.per_input.values()) / self.gap

    def share(self, role: str) -> float | None:
        return None if abs(self.gap) < _EPS else self.per_input[role] / self.gap


@dataclass
class BacktestResult:
    """A backtest of one site over local days ``first``..``last`` (inclusive)."""

    site_id: int
    site_name: str
    first: date
    last: date
    gate_closure: str
    currency: str
    variants: list[Variant]
    days: list[BacktestDay] = field(default_factory=list)
    skipped: list[tuple[date, str]] = field(default_factory=list)  # (day, why)
    seconds: float = 0.0
    run_id: int | None = None

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    def totals(self) -> list[VariantTotal]:
        """One :class:`VariantTotal` per variant, in the order asked for."""
        base = sum(d.baseline_cost for d in self.days)
        perfect = sum(d.costs["perfect"] for d in self.days)
        out = []
        for name in self.variant_names:
            cost = sum(d.costs[name] for d in self.days)
            sav = np.array([d.savings(name) for d in self.days])
            worst = sorted(range(len(self.days)), key=lambda i: sav[i])[
                : max(1, len(self.days) // 10)
            ]
            wd = [self.days[i] for i in worst] if self.days else []
            w_base = sum(d.baseline_cost for d in wd)
            out.append(
                VariantTotal(
                    name,
                    len(self.days),
                    cost,
                    base,
                    base - cost,
                    value_capture(base, cost, perfect),
                    float(np.mean([d.solve_s[name] for d in self.days])) if self.days else 0.0,
                    float(np.mean(sav[worst])) if self.days else 0.0,
                    value_capture(
                        w_base, sum(d.costs[name] for d in wd), sum(d.costs["perfect"] for d in wd)
                    )
                    if wd
                    else None,
                    sum(d.over_limit_mwh.get(name, 0.0) for d in self.days),
                )
            )
        return out

    def total(self, variant: str) -> VariantTotal:
        return next(t for t in self.totals() if t.variant == variant)

    def error_split(self, point: str = "forecast") -> ErrorSplit | None:
        """How much each input's forecast error costs ``point`` (needs the swap variants)."""
        names = set(self.variant_names)
        swaps = {r: f"{r}-actual" for r in INPUT_ROLES if f"{r}-actual" in names}
        if point not in names or not swaps:
            return None
        cost = sum(d.costs[point] for d in self.days)
        return ErrorSplit(
            cost - sum(d.costs["perfect"] for d in self.days),
            {r: cost - sum(d.costs[v] for d in self.days) for r, v in swaps.items()},
        )

    def to_record(self) -> dict[str, Any]:
        split = self.error_split()
        return {
            "run_id": self.run_id,
            "site_id": self.site_id,
            "site_name": self.site_name,
            "first_day": self.first.isoformat(),
            "last_day": self.last.isoformat(),
            "gate_closure": self.gate_closure,
            "currency": self.currency,
            "days": len(self.days),
            "skipped": [{"day": d.isoformat(), "reason": r} for d, r in self.skipped],
            "seconds": round(self.seconds, 3),
            "totals": [t.to_record() for t in self.totals()],
            "error_split": None
            if split is None
            else {
                "gap": round(split.gap, 6),
                "per_input": {k: round(v, 6) for k, v in split.per_input.items()},
                "explained": split.explained,
            },
        }
