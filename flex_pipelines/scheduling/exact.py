"""Exact optima without paying for binaries where they are not needed (direct HiGHS backend).

The true problem is a MILP: a device cannot charge and discharge in the same step, a site
cannot import and export at once, a commitment deviates either up or down, and a device with
operation modes runs inside one of its power bands. The LP relaxation drops all of that.

Method (lazy binaries):

1. solve the LP relaxation (operation modes relaxed to their hull);
2. find the steps where the solution is not physical (both sides of a pair non-zero, or power
   outside every band);
3. add binaries at exactly those steps and solve the (small) MILP; repeat from 2.

Why this is exact: the model with binaries at a subset of steps is a relaxation of the full
MILP, so its optimum is a lower bound; when that optimum is physical everywhere, it is feasible
for the full MILP, so it is the full MILP's optimum. With efficiencies below 1 and prices that
do not reward consumption, step 2 finds nothing and the LP is the answer (no binaries at all).
Operation modes with a fixed cost per step get binaries at every step (the LP cannot see the
fixed cost).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from flex_pipelines.scheduling.build_highs import Layout
from flex_pipelines.scheduling.highs_run import MIP_REL_GAP, HighsRun, run_highs
from flex_pipelines.scheduling.linear_model import LinearModel

__all__ = ["HighsRun", "SolveStats", "run_highs", "solve_exact", "violations"]

TOL = 1e-6


@dataclass
class SolveStats:
    iterations: int = 0
    binaries: int = 0
    lp_seconds: float = 0.0
    mip_seconds: float = 0.0
    build_seconds: float = 0.0
    gap: float = 0.0
    history: list[int] = field(default_factory=list)


def violations(x: np.ndarray, lay: Layout) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Steps where a pair is non-zero on both sides, and where power is outside all bands."""
    pairs: dict[int, np.ndarray] = {}
    for i, pr in enumerate(lay.pairs):
        bad = (x[pr.a] > TOL) & (x[pr.b] > TOL)
        if bad.any():
            pairs[i] = bad
    modes: dict[int, np.ndarray] = {}
    for d, bands in lay.modes.items():
        power = x[lay.charge[d]] - x[lay.discharge[d]]
        ok = np.zeros(power.size, dtype=bool)
        for lo, hi, _ in bands:
            ok |= (power >= lo - TOL) & (power <= hi + TOL)
        if (~ok).any():
            modes[d] = ~ok
    return pairs, modes


def add_binaries(
    base: LinearModel,
    lay: Layout,
    pair_steps: dict[int, np.ndarray],
    mode_steps: dict[int, np.ndarray],
) -> LinearModel:
    """A copy of ``base`` with binaries at the given steps (masks per pair / device)."""
    m = base.copy()
    for i, mask in pair_steps.items():
        pr = lay.pairs[i]
        k = np.flatnonzero(mask)
        if not k.size:
            continue
        z = m.add_cols(f"{pr.name} side", k.size, 0.0, 1.0, integer=True, kind="side")
        r = np.arange(k.size)
        # a <= A*z ; b <= B*(1-z)
        m.add_rows(
            f"{pr.name} exclusive a",
            k.size,
            [(r, pr.a[k], 1.0), (r, z, -pr.a_max[k])],
            -np.inf,
            0.0,
            steps=k,
            kind="exclusive",
        )
        m.add_rows(
            f"{pr.name} exclusive b",
            k.size,
            [(r, pr.b[k], 1.0), (r, z, pr.b_max[k])],
            -np.inf,
            pr.b_max[k],
            steps=k,
            kind="exclusive",
        )
    for d, mask in mode_steps.items():
        k = np.flatnonzero(mask)
        if not k.size:
            continue
        bands = lay.modes[d]
        r = np.arange(k.size)
        zs = [
            m.add_cols(
                f"mode {j} [{d}]",
                k.size,
                0.0,
                1.0,
                cost=band[2],
                integer=True,
                kind="mode",
                term=f"operation modes[{d}]",
            )
            for j, band in enumerate(bands)
        ]
        m.add_rows(
            f"one mode [{d}]", k.size, [(r, z, 1.0) for z in zs], 1.0, 1.0, steps=k, kind="mode"
        )
        pw = [(r, lay.charge[d][k], 1.0), (r, lay.discharge[d][k], -1.0)]
        m.add_rows(
            f"mode lower [{d}]",
            k.size,
            pw + [(r, z, -b[0]) for z, b in zip(zs, bands, strict=True)],
            0.0,
            np.inf,
            steps=k,
            kind="mode",
        )
        m.add_rows(
            f"mode upper [{d}]",
            k.size,
            pw + [(r, z, -b[1]) for z, b in zip(zs, bands, strict=True)],
            -np.inf,
            0.0,
            steps=k,
            kind="mode",
        )
    return m


def _incumbent(base: LinearModel, lay: Layout, x: np.ndarray, pair_steps: dict[int, np.ndarray]):
    """A physical schedule near the LP one: at each non-exclusive step keep only the larger side
    (by its effect on the stock) and re-solve the LP. Used as the MIP start; None if infeasible."""
    a = base.arrays()
    ub = a["ub"].copy()
    for i, mask in pair_steps.items():
        pr = lay.pairs[i]
        k = np.flatnonzero(mask)
        keep_a = x[pr.a[k]] >= x[pr.b[k]]
        ub[pr.b[k[keep_a]]] = 0.0
        ub[pr.a[k[~keep_a]]] = 0.0
    m = add_binaries(base, lay, {}, {})
    m._ub = [ub]
    m._lb, m._cost, m._int, m._extra_cost = [a["lb"]], [a["cost"]], [a["int"]], []
    run = run_highs(m)
    return run if run.status == "Optimal" else None


def _repair(model: LinearModel, lay: Layout, x: np.ndarray) -> np.ndarray | None:
    """Net out simultaneous charge and discharge where that provably costs nothing.

    On a linear site (one energy price, no site-level soft terms) replacing (charge, discharge)
    at a step by the one-sided flow with the *same stock change* keeps every stock balance,
    lowers net consumption, and so does not raise the cost where the price is ≥ 0. If the
    netted point satisfies every row and bound and its objective is not above the relaxation's
    optimum, it is an optimum of the relaxation that is physical at those steps, so no binary is
    needed there. Pairs in ``lay.nettable`` (a scenario's import and export where its
    production price is not above its consumption price) are netted by lowering both sides by
    their minimum: the net flow and every row on it stay, the cost does not rise. Returns the
    netted point, or None when nothing could be netted safely.
    """
    x2 = x.copy()
    changed = False
    for i, free in lay.nettable:  # both sides down by their minimum: a zero-or-negative cost
        pr = lay.pairs[i]
        a, b = x2[pr.a], x2[pr.b]
        m = np.where(free & (a > TOL) & (b > TOL), np.minimum(a, b), 0.0)
        if m.any():
            x2[pr.a], x2[pr.b] = a - m, b - m
            changed = True
    for d, (ch, dis) in enumerate(zip(lay.charge, lay.discharge, strict=True)):
        if lay.repair_price is None or not lay.repairable[d]:
            continue
        a, b = x2[ch], x2[dis]
        bad = (a > TOL) & (b > TOL) & (lay.repair_price >= 0)
        if not bad.any():
            continue
        ec, ed = lay.eta[d]
        delta = ec * a - b / ed
        up, dn = bad & (delta >= 0), bad & (delta < 0)
        x2[ch] = np.where(up, delta / ec, np.where(dn, 0.0, a))
        x2[dis] = np.where(dn, -delta * ed, np.where(up, 0.0, b))
        changed = True
    if not changed:
        return None
    arr = model.arrays()
    if model.violation(x2, arr) is not None:
        return None
    c0, c2 = float(arr["cost"] @ x), float(arr["cost"] @ x2)
    if c2 > c0 + 1e-9 * max(1.0, abs(c0)):
        return None
    return x2


def _physical_at_time_limit(
    base: LinearModel, lay: Layout, run: HighsRun, stats: SolveStats, concave: np.ndarray | None
) -> HighsRun:
    """At the time limit HiGHS' incumbent is physical only where binaries were added. Fix each
    pair's side where it is not, and at every concave step (the larger side, as in
    :func:`_incumbent`), and re-solve the LP, repeating while new steps turn non-physical: a physical schedule, with its gap to the MIP's
    dual bound (a lower bound on the true optimum: the model is a relaxation of the full MILP).
    Status "Time limit reached" (no schedule) when that fails."""
    fail = HighsRun("Time limit reached", np.zeros(0), float("nan"), run.seconds)
    x, seconds = run.x[: base.n_cols], run.seconds  # without the binaries' columns
    fixed: dict[int, np.ndarray] = {}
    for _ in range(20):
        bad, modes = violations(x, lay)
        if modes:
            return fail
        if not bad:
            obj = float(base.arrays()["cost"] @ x) + base.offset
            gap = (obj - run.bound) / max(abs(obj), 1e-9)
            stats.gap = gap
            return HighsRun("Feasible", x, obj, seconds, None, gap, run.bound)
        for i, mask in bad.items():
            start = concave if concave is not None else np.zeros(mask.size, dtype=bool)
            fixed[i] = fixed.get(i, start) | mask
        inc = _incumbent(base, lay, x, fixed)
        if inc is None:
            return fail
        seconds += inc.seconds
        netted = _repair(base, lay, inc.x)
        x = inc.x if netted is None else netted
    return fail


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    out = mask.copy()
    for s in range(1, k + 1):
        out[s:] |= mask[:-s]
        out[:-s] |= mask[s:]
    return out


def solve_exact(
    base: LinearModel,
    lay: Layout,
    *,
    max_iterations: int = 12,
    time_limit: float | None = None,
    concave: np.ndarray | None = None,
    mip_rel_gap: float = MIP_REL_GAP,
) -> tuple[HighsRun, SolveStats]:
    """LP first; binaries only at non-physical steps; iterate until physical everywhere.

    ``concave`` marks steps where the LP relaxation may be non-physical (e.g. negative prices);
    binaries are added at violated steps and at concave steps within 4 steps of them, so one
    MILP round usually suffices. Each MILP starts from a physical incumbent (:func:`_incumbent`).
    The MILP is solved to ``mip_rel_gap`` (default 1e-6; HiGHS' own default is 1e-4; the gap is
    reported as ``stats.gap``).
    """
    T = lay.n_steps
    stats = SolveStats()
    pair_steps: dict[int, np.ndarray] = {}
    mode_steps: dict[int, np.ndarray] = {
        d: np.ones(T, dtype=bool) for d, bands in lay.modes.items() if any(b[2] for b in bands)
    }
    model = add_binaries(base, lay, pair_steps, mode_steps) if mode_steps else base
    start_x: np.ndarray | None = None
    t_end = None if time_limit is None else time.perf_counter() + time_limit
    for it in range(max_iterations):
        left = None if t_end is None else max(t_end - time.perf_counter(), 1.0)
        run = run_highs(
            model,
            time_limit=left,
            start=start_x,
            mip_rel_gap=mip_rel_gap,
            options=lay.highs_options,
        )
        stats.iterations = it + 1
        n_bin = int(
            sum(int(m.sum()) for m in pair_steps.values())
            + sum(int(m.sum()) * len(lay.modes[d]) for d, m in mode_steps.items())
        )
        stats.binaries = n_bin
        stats.gap = run.gap
        if n_bin:
            stats.mip_seconds += run.seconds
        else:
            stats.lp_seconds += run.seconds
        if run.status == "Feasible":  # time is up: the incumbent may still be non-physical
            return _physical_at_time_limit(base, lay, run, stats, concave), stats
        if run.status != "Optimal":  # infeasible, or time is up without any incumbent
            return run, stats
        netted = _repair(model, lay, run.x)
        if netted is not None:
            run.x = netted
            run.objective = float(model.arrays()["cost"] @ netted) + model.offset
        bad_pairs, bad_modes = violations(run.x, lay)
        stats.history.append(
            int(
                sum(int(v.sum()) for v in bad_pairs.values())
                + sum(int(v.sum()) for v in bad_modes.values())
            )
        )
        if not bad_pairs and not bad_modes:
            return run, stats
        last = it == max_iterations - 2
        for i, mask in bad_pairs.items():
            prev = pair_steps.get(i, np.zeros(T, dtype=bool))
            grow = mask if concave is None else mask | (_dilate(mask, 4) & concave)
            pair_steps[i] = np.ones(T, dtype=bool) if last else prev | grow
        for d, mask in bad_modes.items():
            prev = mode_steps.get(d, np.zeros(T, dtype=bool))
            mode_steps[d] = np.ones(T, dtype=bool) if last else prev | mask
        inc = None if bad_modes or mode_steps else _incumbent(base, lay, run.x, pair_steps)
        model = add_binaries(base, lay, pair_steps, mode_steps)
        start_x = None
        if inc is not None:
            start_x = np.zeros(model.n_cols)
            start_x[: base.n_cols] = inc.x[: base.n_cols]
            for i, mask in pair_steps.items():
                z = model.cols[f"{lay.pairs[i].name} side"]
                start_x[z] = (inc.x[lay.pairs[i].a[np.flatnonzero(mask)]] > TOL).astype(float)
    return run, stats  # pragma: no cover - the last round has binaries everywhere needed
