"""What a risk-aware schedule is worth over its scenarios: each scenario's cost recomputed from
the physical schedule, their expectation and CVaR (:class:`RiskSummary`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from flex_pipelines.scheduling.build_scenarios import ScenarioLayout, cvar
from flex_pipelines.scheduling.problem import SchedulingProblem
from flex_pipelines.scheduling.result import compute_costs

__all__ = ["RiskSummary", "risk_summary"]


@dataclass
class RiskSummary:
    """A first-stage schedule's costs over the scenarios it was solved for (CUR).

    ``scenario_costs`` are recomputed from power and SoC per scenario
    (:func:`~.result.compute_costs`, tie-breakers excluded); ``expected_cost`` is their
    weighted mean, ``cvar`` their CVaR at ``cvar_alpha``, ``worst_cost`` the highest;
    ``model_cvar`` is the CVaR the solver's columns hold (``f + η + Σ w z / (1 − α)``; None
    without a CVaR term).
    """

    scenarios: int
    risk_aversion: float
    cvar_alpha: float
    scenario_costs: np.ndarray
    expected_cost: float
    cvar: float
    worst_cost: float
    model_cvar: float | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "scenarios": self.scenarios,
            "risk-aversion": self.risk_aversion,
            "cvar-alpha": self.cvar_alpha,
            "expected_cost": round(self.expected_cost, 6),
            "cvar": round(self.cvar, 6),
            "worst_cost": round(self.worst_cost, 6),
            "scenario_costs": [round(float(c), 6) for c in self.scenario_costs],
        }


def risk_summary(
    p: SchedulingProblem,
    lay: ScenarioLayout,
    x: np.ndarray,
    power: list[np.ndarray],
    soc: list[np.ndarray | None],
    process_mw: np.ndarray | None = None,
    processes: list[np.ndarray] | None = None,
) -> tuple[RiskSummary, dict[str, float]]:
    """The summary, and the expected cost per term (the weighted mean of every scenario's
    :func:`~.result.compute_costs`) for the result's ``costs``."""
    sc = p.scenarios
    assert sc is not None
    per = [
        compute_costs(
            replace(p, site=sc.site(p.site, k), scenarios=None),
            power,
            soc,
            process_mw=process_mw,
            processes=processes,
        )
        for k in range(sc.n)
    ]
    w = np.asarray(sc.weights, dtype=float)
    totals = np.array([c["total"] for c in per])
    keys = list(dict.fromkeys(k for c in per for k in c))
    expected = {
        k: float(sum(wk * c.get(k, 0.0) for wk, c in zip(w, per, strict=True))) for k in keys
    }
    summary = RiskSummary(
        scenarios=sc.n,
        risk_aversion=float(sc.risk_aversion),
        cvar_alpha=float(sc.cvar_alpha),
        scenario_costs=totals,
        expected_cost=float(w @ totals),
        cvar=cvar(totals, w, sc.cvar_alpha),
        worst_cost=float(totals.max()),
        model_cvar=lay.model_cvar(x),
    )
    return summary, expected
