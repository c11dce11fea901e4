"""The exact dynamic programme over the SoC (scheduling/dp.py, scheduling/pwl.py).

Checked against brute force (the piecewise-linear operations) and against HiGHS solving the
full mixed-integer problem — binaries at every step, gap 1e-9 — on randomly drawn problems with
negative prices, separate efficiencies, storage losses, usage and gain, hard SoC bounds, a
production price apart from the consumption price, inflexible load, site limits and commitments.
"""

from __future__ import annotations

import numpy as np
import pytest

from flex_pipelines.scheduling.build_highs import formulate
from flex_pipelines.scheduling.diagnostics import InfeasibleError
from flex_pipelines.scheduling.dp import applicable, solve_dp
from flex_pipelines.scheduling.exact import add_binaries, run_highs
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.pwl import (
    as_convex,
    convex_argmin,
    convex_step,
    inf_convolution,
    restrict,
)
from flex_pipelines.scheduling.storage import parse_problem_json, solve

START = "2026-03-29T00:00+01:00"  # the spring DST day in Amsterdam is not special in UTC offsets


def random_pwl(rng: np.random.Generator, n: int, convex: bool = False):
    x = np.sort(rng.uniform(-2, 2, n))
    x = np.unique(np.round(x, 6))
    if convex:
        slopes = np.sort(rng.normal(0, 30, x.size - 1))
        y = rng.normal() + np.concatenate([[0.0], np.cumsum(slopes * np.diff(x))])
    else:
        y = rng.normal(0, 20, x.size)
    return x, y


def brute_inf_convolution(f, xs, cs, u: float, n: int = 20001) -> float:
    x = np.linspace(xs[0], xs[-1], n)
    ends = np.array([f[0][0] - u, f[0][-1] - u])  # where the window meets the domain's ends
    x = np.concatenate([x, ends[(ends >= xs[0]) & (ends <= xs[-1])]])
    z = u + x
    ok = (z >= f[0][0] - 1e-12) & (z <= f[0][-1] + 1e-12)
    if not ok.any():
        return np.inf
    return float(np.min(np.interp(x[ok], xs, cs) + np.interp(z[ok], *f)))


@pytest.mark.parametrize("seed", range(8))
def test_inf_convolution_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    f = random_pwl(rng, 9)
    xs = np.sort(np.concatenate([[0.0], rng.uniform(-0.6, 0.6, 2)]))
    cs = rng.normal(0, 10, xs.size)  # neither convex nor concave in general
    wx, wy = inf_convolution(f, xs, cs)
    assert wx[0] == pytest.approx(f[0][0] - xs[-1]) and wx[-1] == pytest.approx(f[0][-1] - xs[0])
    lip = np.max(np.abs(np.diff(f[1]) / np.diff(f[0]))) + np.max(np.abs(np.diff(cs) / np.diff(xs)))
    spacing = (xs[-1] - xs[0]) / 20000
    for u in np.linspace(wx[0], wx[-1], 301):
        exact = float(np.interp(u, wx, wy))
        brute = brute_inf_convolution(f, xs, cs, u)
        # sampling can only miss the minimum, and by at most the slope times half a sample
        assert exact <= brute + 1e-9
        assert brute - exact <= lip * spacing + 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_convex_step_agrees_with_the_general_operation(seed):
    rng = np.random.default_rng(100 + seed)
    f = random_pwl(rng, 8, convex=True)
    fc = as_convex(f)
    assert fc is not None
    xs = np.array([-0.5, 0.0, 0.4])
    cs = np.array([0.5 * 30.0, 0.0, 0.4 * 35.0])  # discharging earns 30, charging costs 35
    cs[0] = -cs[0]
    scale, shift, lo, hi = 0.98, 0.05, -1.2, 1.5
    pieces = [((cs[i + 1] - cs[i]) / (xs[i + 1] - xs[i]), xs[i + 1] - xs[i]) for i in range(2)]
    v, info = convex_step(fc, pieces, (xs[-1], cs[-1]), scale, shift, lo, hi)
    u = inf_convolution(f, xs, cs)
    ref = restrict(((u[0] - shift) / scale, u[1]), lo, hi)
    assert v is not None and ref is not None
    vx, vy = v.arrays()
    assert vx[0] == pytest.approx(ref[0][0]) and vx[-1] == pytest.approx(ref[0][-1])
    grid = np.linspace(vx[0], vx[-1], 97)
    assert np.allclose(np.interp(grid, vx, vy), np.interp(grid, *ref), atol=1e-8)
    for s in grid[::8]:  # the argmin read from the merge reaches the value
        uu = scale * s + shift
        x = convex_argmin(info, uu)
        total = np.interp(x, xs, cs) + np.interp(uu + x, *f)
        assert total == pytest.approx(np.interp(s, vx, vy), abs=1e-8)


def hourly(values, unit="EUR/MWh") -> dict:
    return {
        "start": START,
        "resolution": "PT1H",
        "unit": unit,
        "values": [float(v) for v in values],
    }


def random_problem(rng: np.random.Generator, n_devices: int = 1) -> dict:
    hours = int(rng.choice([6, 12, 24]))
    res = str(rng.choice(["PT1H", "PT15M"]))
    prices = np.round(rng.normal(30, 45, hours), 2)
    # hard SoC bounds, or soft ones at the default breach prices (worst breach charged once)
    fc: dict = {"consumption-price": hourly(prices), "relax-constraints": bool(rng.random() < 0.3)}
    single = n_devices == 1  # several devices qualify only on a site that does not couple them
    if single and rng.random() < 0.4:  # a production price apart from the consumption price
        fc["production-price"] = hourly(prices - rng.uniform(-15, 25, hours))
    if rng.random() < 0.4:
        fc["inflexible-consumption"] = hourly(rng.uniform(-0.8, 0.8, hours), "MW")
    if single and rng.random() < 0.4:
        fc["site-power-capacity"] = f"{rng.uniform(0.9, 1.6):.2f} MW"
    if single and rng.random() < 0.3:  # soft when relaxed: priced per step and on the worst
        fc["site-consumption-capacity"] = f"{rng.uniform(0.5, 1.5):.2f} MW"
        fc["site-production-capacity"] = f"{rng.uniform(0.5, 1.5):.2f} MW"
    if single and rng.random() < 0.3:
        fc["commitments"] = [
            {
                "name": "block",
                "baseline": hourly(rng.uniform(-1, 1, hours), "MW"),
                "up-price": f"{rng.uniform(0, 90):.1f} EUR/MWh",
                "down-price": f"{rng.uniform(-10, 40):.1f} EUR/MWh",
            }
        ]
    fms = []
    for d in range(n_devices):
        cap = float(rng.uniform(0.3, 1.2))
        mwh = float(rng.uniform(0.5, 3.0))
        fm: dict = {
            "name": f"battery {d}",
            "soc-at-start": f"{mwh * rng.uniform(0.2, 0.8):.3f} MWh",
            "soc-min": "0 MWh",
            "soc-max": f"{mwh:.3f} MWh",
            "power-capacity": f"{cap:.3f} MW",
        }
        if rng.random() < 0.5:
            fm["charging-efficiency"] = f"{rng.uniform(80, 100):.1f}%"
            fm["discharging-efficiency"] = f"{rng.uniform(80, 100):.1f}%"
        else:
            fm["roundtrip-efficiency"] = f"{rng.uniform(75, 100):.1f}%"
        if rng.random() < 0.4:
            fm["storage-efficiency"] = f"{rng.uniform(97, 100):.2f}%"
        if rng.random() < 0.3:
            fm["soc-usage"] = [hourly(rng.uniform(0, 0.2 * cap, hours), "MW")]
        if rng.random() < 0.3:
            fm["soc-gain"] = [hourly(rng.uniform(0, 0.2 * cap, hours), "MW")]
        if rng.random() < 0.4:
            fm["soc-minima"] = [
                {
                    "datetime": f"2026-03-29T0{int(rng.integers(2, 6))}:00+01:00",
                    "value": f"{0.3 * mwh:.3f} MWh",
                }
            ]
            fm["soc-maxima"] = [
                {
                    "datetime": f"2026-03-29T0{int(rng.integers(2, 6))}:00+01:00",
                    "value": f"{0.8 * mwh:.3f} MWh",
                }
            ]
        if rng.random() < 0.2:
            fm["prefer-charging-sooner"] = False
        fms.append(fm)
    return {
        "start": START,
        "duration": f"PT{hours}H",
        "resolution": res,
        "flex-model": fms,
        "flex-context": fc,
    }


def full_milp_objective(p) -> float:
    base, lay = formulate(p)
    full = add_binaries(base, lay, {i: np.ones(p.n_steps, bool) for i in range(len(lay.pairs))}, {})
    ref = run_highs(full, mip_rel_gap=1e-9)
    assert ref.status == "Optimal"
    return ref.objective


@pytest.mark.parametrize(("n_devices", "seed"), [(1, 11), (1, 12), (3, 13)])
def test_dp_reaches_the_full_milp_optimum_on_random_problems(n_devices, seed):
    rng = np.random.default_rng(seed)
    compared = negative = 0
    for _ in range(40 if n_devices == 1 else 15):
        data = random_problem(rng, n_devices)
        p = parse_problem_json(data)
        try:
            r = solve(p)
        except InfeasibleError:
            continue  # drawn SoC bounds out of reach: the pre-check names them (tested elsewhere)
        if r.method != "dp":  # a soft bound the DP's optimum breaches: the MILP decided
            assert r.unmet
        assert r.binaries == 0 or r.method == "milp"
        ref = full_milp_objective(p)
        assert r.objective == pytest.approx(ref, rel=1e-7, abs=1e-6), data
        # the schedule is physical: within limits, and its SoC follows from its power
        for dev, sched in zip(p.devices, r.devices, strict=True):
            assert (sched.power_mw <= dev.consumption_capacity_mw + 1e-7).all()
            assert (sched.power_mw >= -dev.production_capacity_mw - 1e-7).all()
            assert (sched.soc_mwh >= dev.soc_min_mwh - 1e-7).all()
            assert (sched.soc_mwh <= dev.soc_max_mwh + 1e-7).all()
        compared += r.method == "dp"
        negative += r.method == "dp" and bool((p.site.consumption_price < 0).any())
    assert compared >= (25 if n_devices == 1 else 8)
    assert negative >= compared // 2  # most draws have negative prices: the concave case


def test_dp_with_pinned_soc_and_zero_capacity_steps():
    """Hard targets pin the stock to a point; a step without capacity fixes the flow."""
    data = {
        "start": START,
        "duration": "PT8H",
        "resolution": "PT1H",
        "flex-model": [
            {
                "name": "b",
                "soc-at-start": "1 MWh",
                "soc-min": "0 MWh",
                "soc-max": "2 MWh",
                "power-capacity": "1 MW",
                "roundtrip-efficiency": "81%",
                "consumption-capacity": [
                    {"start": "2026-03-29T02:00+01:00", "duration": "PT1H", "value": "0 MW"}
                ],
                "soc-targets": [
                    {"datetime": "2026-03-29T03:00+01:00", "value": "1.5 MWh"},
                    {"datetime": "2026-03-29T06:00+01:00", "value": "0.2 MWh"},
                ],
            }
        ],
        "flex-context": {
            "consumption-price": hourly([-20, 10, 40, -30, -30, 60, 80, 5]),
            "relax-constraints": False,
        },
    }
    p = parse_problem_json(data)
    r = solve(p, method="dp")
    soc = r.devices[0].soc_mwh
    assert soc[3] == pytest.approx(1.5, abs=1e-9) and soc[6] == pytest.approx(0.2, abs=1e-9)
    assert r.devices[0].power_mw[2] <= 1e-9  # no charging in the blocked hour
    assert r.objective == pytest.approx(full_milp_objective(p), rel=1e-7, abs=1e-6)


def test_soft_bounds_the_dp_meets_are_certified_else_the_milp_decides():
    """Soft SoC bounds carry a once-charged worst-breach term the DP cannot see. Its optimum
    without that term is certified when it breaches nothing; else auto falls back."""
    fm = {
        "name": "battery 0",
        "soc-at-start": "1 MWh",
        "soc-min": "0 MWh",
        "soc-max": "2 MWh",
        "power-capacity": "1 MW",
        "roundtrip-efficiency": "85%",
        "soc-maxima": [{"datetime": "2026-03-29T03:00+01:00", "value": "0.4 MWh"}],
    }
    prices = [-20, 10, 40, -30, -30, 60, 80, 5, -10, -40, 20, 90]
    data = {
        "start": START,
        "duration": "PT12H",
        "resolution": "PT15M",
        "flex-model": [fm],
        "flex-context": {"consumption-price": hourly(prices)},
    }
    data["flex-context"]["relax-constraints"] = True  # soft, at the default breach prices
    p = parse_problem_json(data)
    base, lay = formulate(p)
    assert applicable(base, lay, p) is None
    run = solve_dp(base, lay, p)
    assert run.rejected is None
    r = solve(p)
    assert r.method == "dp" and not r.unmet
    assert r.objective == pytest.approx(full_milp_objective(p), rel=1e-7, abs=1e-6)
    # a soft target out of reach: the relaxation breaches it, so no certificate
    fm["power-capacity"] = "0.05 MW"
    fm["soc-targets"] = [{"datetime": "2026-03-29T01:00+01:00", "value": "2 MWh"}]
    p = parse_problem_json(data)
    assert solve_dp(*formulate(p), p).rejected == "soft SoC bound of 'battery 0' not met"
    with pytest.raises(SchedulingError, match="method 'dp' cannot certify"):
        solve(p, method="dp")
    r = solve(p)
    assert r.method in ("lp", "milp") and r.unmet
    assert r.objective == pytest.approx(full_milp_objective(p), rel=1e-7, abs=1e-6)


def test_problems_the_dp_cannot_take_go_to_the_milp():
    data = random_problem(np.random.default_rng(5))
    data["flex-context"]["site-peak-consumption"] = "0.2 MW"
    data["flex-context"]["site-peak-consumption-price"] = "100 EUR/MW"
    p = parse_problem_json(data)
    base, lay = formulate(p)
    assert "couples steps" in applicable(base, lay, p)
    assert solve(p).method in ("lp", "milp")
    with pytest.raises(SchedulingError, match="method 'dp' does not apply"):
        solve(p, method="dp")
    with pytest.raises(SchedulingError, match="method 'dp' runs on the highs backend"):
        solve(p, "pyomo", method="dp")


def test_dp_devices_that_share_a_site_limit_go_to_the_milp():
    data = random_problem(np.random.default_rng(9), n_devices=2)
    data["flex-context"]["site-power-capacity"] = "0.5 MW"
    data["flex-context"].pop("production-price", None)
    p = parse_problem_json(data)
    base, lay = formulate(p)
    assert applicable(base, lay, p) == "devices share the site"
    assert solve(p).method in ("lp", "milp")


def week_with_negative_prices() -> dict:
    rng = np.random.default_rng(3)
    h = np.arange(24 * 7)
    prices = 40 + 30 * np.sin(2 * np.pi * h / 24) - 70 * (rng.random(h.size) < 0.25)
    fm = {
        "name": "b",
        "soc-at-start": "1 MWh",
        "soc-min": "0 MWh",
        "soc-max": "2 MWh",
        "power-capacity": "1 MW",
        "roundtrip-efficiency": "90%",
    }
    return {
        "start": START,
        "duration": "P7D",
        "resolution": "PT15M",
        "flex-model": [fm],
        "flex-context": {"consumption-price": hourly(prices.round(2))},
    }


def test_milp_stopped_early_still_returns_a_physical_schedule():
    """At a time limit the MILP's incumbent is physical only where binaries were added; the
    schedule handed out is made physical first, and its gap is measured against the bound."""
    from flex_pipelines.scheduling.exact import (
        SolveStats,
        _physical_at_time_limit,
        violations,
    )

    p = parse_problem_json(week_with_negative_prices())
    base, lay = formulate(p)
    lp = run_highs(base)
    bad, _ = violations(lp.x, lay)
    some = bad[0] & (np.cumsum(bad[0]) % 2 == 0)  # binaries at every other step that needs one
    run = run_highs(add_binaries(base, lay, {0: some}, {}))
    assert violations(run.x[: base.n_cols], lay)[0]  # still burning elsewhere: the case at hand
    run.status = "Feasible"  # as if the time limit had stopped it here
    stats = SolveStats()
    fixed = _physical_at_time_limit(base, lay, run, stats, p.site.consumption_price < 0)
    assert fixed.status == "Feasible"
    assert violations(fixed.x, lay) == ({}, {})
    best = solve(p, method="dp").objective
    assert fixed.objective >= best - 1e-6  # a feasible schedule, not better than the optimum
    assert run.objective <= best + 1e-6  # the relaxation's optimum bounds it from below
    assert stats.gap == pytest.approx((fixed.objective - run.bound) / abs(fixed.objective))
