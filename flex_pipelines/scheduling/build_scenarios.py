"""The risk-aware problem in the same description: one device schedule, several price and load
paths (scenarios), expected cost plus a CVaR term.

The devices' columns and rows (flows, stock, their limits, processes, groups, couplings, other
commodities) are built once by :func:`~.build_highs.formulate`: they are the first stage, one
schedule for every scenario. Electricity's grid connection (:func:`~.build_site.connected_blocks`:
balance, import and export, soft limits, peaks, commitments on the site's net power) is built
once per scenario ``s`` with that scenario's prices and inflexible load, its names and cost terms
tagged ``[scenario s]``, and its costs ``X_s`` weighted by the scenario's probability ``w_s``.
With risk aversion ``λ > 0`` and level ``α`` the CVaR of Rockafellar and Uryasev (2000,
"Optimization of conditional value-at-risk", J. Risk 2(3)) is added as an LP:

    minimise  (1 + λ)·f(x) + Σ_s w_s·X_s + λ·(η + 1/(1 − α) · Σ_s w_s·z_s)
    subject to  z_s ≥ X_s − η,  z_s ≥ 0  (rows of kind ``cvar``)

where ``f`` is the first stage's cost (the same in every scenario, so ``CVaR(f + X) = f +
CVaR(X)``): the objective is ``E[cost] + λ·CVaR_α[cost]`` exactly, with the CVaR rows holding
only each scenario's cost terms. Every block is declared once here; HiGHS gets the matrix and
the pyomo model is derived from the same blocks.

A scenario with one price for both directions and no site-level soft terms takes the
deterministic build's linear form (its energy cost on the device flows, no import and export
columns), so its ``X_s`` is a row over the flows. Otherwise its import and export are one more
exclusive pair for the lazy binaries of :mod:`~.exact`, netted for free where the scenario's
production price is not above its consumption price (``Layout.nettable``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from flex_pipelines.scheduling.build_site import connected_blocks
from flex_pipelines.scheduling.linear_model import DEVICES, STEPS, LinearModel
from flex_pipelines.scheduling.problem import SchedulingProblem

if TYPE_CHECKING:
    from flex_pipelines.scheduling.build_highs import Layout

__all__ = ["ScenarioLayout", "cvar", "scenario_blocks"]

CVAR_TERM = "risk (CVaR)"


@dataclass
class ScenarioLayout:
    """Where the scenarios live in the column vector: each scenario's cost ``X_s`` (columns,
    coefficients, constant; unweighted), the first stage's cost, and the CVaR columns."""

    weights: np.ndarray
    risk_aversion: float
    alpha: float
    cost_cols: list[np.ndarray] = field(default_factory=list)
    cost_coefs: list[np.ndarray] = field(default_factory=list)
    cost_offset: list[float] = field(default_factory=list)
    first_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    first_coefs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    first_offset: float = 0.0
    eta: np.ndarray | None = None
    excess: np.ndarray | None = None

    def scenario_costs(self, x: np.ndarray) -> np.ndarray:
        """``X_s`` (CUR) at the column vector ``x``: each scenario's grid cost."""
        return np.array(
            [
                float(c @ x[i]) + o
                for i, c, o in zip(self.cost_cols, self.cost_coefs, self.cost_offset, strict=True)
            ]
        )

    def first_stage_cost(self, x: np.ndarray) -> float:
        """``f`` (CUR, tie-breakers included): the costs shared by every scenario."""
        return float(self.first_coefs @ x[self.first_cols]) + self.first_offset

    def model_cvar(self, x: np.ndarray) -> float | None:
        """The CVaR of the total cost as the model holds it: ``f + η + Σ w z / (1 − α)``
        (None without a CVaR term)."""
        if self.eta is None or self.excess is None:
            return None
        tail = float(self.weights @ x[self.excess]) / (1.0 - self.alpha)
        return self.first_stage_cost(x) + float(x[self.eta[0]]) + tail


def _parts(m: LinearModel, first: int) -> tuple[np.ndarray, np.ndarray]:
    parts = m.cost_parts[first:]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0)
    cols = np.concatenate([np.asarray(i, dtype=np.int64).ravel() for _, i, _ in parts])
    coefs = np.concatenate([np.asarray(v, dtype=float).ravel() for _, _, v in parts])
    return cols, coefs


def scenario_blocks(
    m: LinearModel, lay: Layout, p: SchedulingProblem, *, split_site: bool = False
) -> ScenarioLayout:
    """Add electricity's connection once per scenario and the CVaR rows to a description that
    holds the first stage (see the module docstring); fills ``lay.scenarios``.

    A scenario with one price for both directions and no site-level soft terms needs no import
    and export columns (as in the deterministic build): its energy cost sits on the devices'
    flows, weighted by its probability, so the risk-neutral problem is as large as the
    deterministic one. ``split_site`` (the pyomo build) always gives them.
    """
    sc = p.scenarios
    assert sc is not None
    lam, alpha, w = float(sc.risk_aversion), float(sc.cvar_alpha), np.asarray(sc.weights, float)
    out = ScenarioLayout(w, lam, alpha)
    out.first_cols, out.first_coefs = _parts(m, 0)
    out.first_offset = m.offset
    if lam > 0:  # f counts in the expectation and in the CVaR
        m.scale_costs_since((0, 0, 0, 0.0, {}), 1.0 + lam)
    first_imp = first_exp = None
    for k in range(sc.n):
        pk = replace(p, site=sc.site(p.site, k), scenarios=None)
        mark = m.cost_mark()
        tag = f"[scenario {k + 1}]"
        connected_blocks(m, lay, pk, pk.site, split_site=split_site, tag=tag)
        for i, pr in enumerate(lay.pairs):
            if pr.name == f"import/export{tag}":
                lay.nettable.append((i, pk.site.production_price <= pk.site.consumption_price))
        cols, coefs = _parts(m, mark[2])
        out.cost_cols.append(cols)
        out.cost_coefs.append(coefs)
        out.cost_offset.append(m.offset - mark[3])
        m.scale_costs_since(mark, float(w[k]))
        if k == 0:
            first_imp, first_exp = lay.imp, lay.exp
    lay.imp, lay.exp = first_imp, first_exp  # the pyomo model's m.imp/m.exp: scenario 1's
    # netting a device's flows (exact._repair) lowers every scenario's net consumption: free
    # only where each scenario's (one) price is non-negative, and only if every site is linear
    linear = lay.repair_price is not None and not lay.nettable
    lay.repair_price = sc.consumption_price.min(axis=0) if linear else None
    lay.scenarios = out
    # the MILP rounds keep HiGHS presolve here (highs_run.MIP_OPTIONS turns it off for the storage
    # MILPs): the scenario blocks are what presolve removes. Measured on bench_risk's negative
    # midday day, 100 scenarios, 20 binaries: 6.3 s without, 1.0 s with; 50 scenarios 0.75/0.35 s
    lay.highs_options.setdefault("presolve", "on")
    if lam > 0:
        _cvar_blocks(m, out)
    return out


def _cvar_blocks(m: LinearModel, out: ScenarioLayout) -> None:
    """``z_s + η − X_s ≥ 0`` per scenario, ``η`` free, ``z_s ≥ 0``; costs ``λ`` on ``η`` and
    ``λ w_s / (1 − α)`` on ``z_s``."""
    S, lam = out.weights.size, out.risk_aversion
    eta = m.add_cols(
        "cvar threshold", 1, -np.inf, np.inf, lam, kind="cvar threshold", term=CVAR_TERM
    )
    z = m.add_cols(
        "cvar excess",
        S,
        0.0,
        np.inf,
        lam * out.weights / (1.0 - out.alpha),
        kind="cvar excess",
        term=CVAR_TERM,
    )
    r = np.arange(S)
    terms = [(r, z, 1.0), (r, np.full(S, eta[0]), 1.0)]
    for k, (cols, coefs) in enumerate(zip(out.cost_cols, out.cost_coefs, strict=True)):
        terms.append((np.full(cols.size, k), cols, -coefs))
    m.add_rows(
        "cvar excess",
        S,
        terms,
        np.asarray(out.cost_offset),
        np.inf,
        field="risk-aversion",
        steps=np.zeros(S, dtype=np.int64),
        kind="cvar",
        couples=(STEPS, DEVICES),
    )
    out.eta, out.excess = eta, z


def cvar(costs: np.ndarray, weights: np.ndarray, alpha: float) -> float:
    """CVaR_α of a discrete cost distribution (CUR): ``min_η η + Σ w (c − η)⁺ / (1 − α)``,
    evaluated at every breakpoint ``η = c_s`` (the minimum of a convex piecewise-linear
    function is at one); the mean of the worst ``1 − α`` share, fractional scenarios included.
    """
    c = np.asarray(costs, dtype=float)
    w = np.asarray(weights, dtype=float)
    vals = [eta + float(w @ np.maximum(c - eta, 0.0)) / (1.0 - alpha) for eta in c]
    return float(min(vals))
