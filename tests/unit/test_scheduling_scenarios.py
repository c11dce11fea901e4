"""Scenarios: negative prices (exactness of the lazy binaries), PV beyond the site limit, V2G,
heat pump as storage, many devices behind one connection, commitments, both builds agreeing,
and the pyomo extension point."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pe
import pytest

from flex_pipelines.scheduling.build_highs import formulate
from flex_pipelines.scheduling.diagnostics import InfeasibleError
from flex_pipelines.scheduling.exact import add_binaries, run_highs
from flex_pipelines.scheduling.storage import parse_problem_json, solve, solve_problem_json

START = "2026-06-01T00:00+02:00"


def hourly(values, unit="EUR/MWh", start=START) -> dict:
    return {"start": start, "resolution": "PT1H", "unit": unit, "values": list(values)}


def battery(name="battery", **kw) -> dict:
    fm = {
        "name": name,
        "soc-at-start": "1 MWh",
        "soc-min": "0 MWh",
        "soc-max": "2 MWh",
        "power-capacity": "1 MW",
        "roundtrip-efficiency": "90%",
    }
    fm.update(kw)
    return fm


NEG_PRICES = [
    60,
    55,
    50,
    45,
    40,
    30,
    10,
    -5,
    -20,
    -40,
    -60,
    -60,
    -50,
    -30,
    -10,
    5,
    30,
    60,
    80,
    90,
    85,
    70,
    65,
    60,
]


def negative_day(**fm) -> dict:
    return {
        "start": START,
        "duration": "P1D",
        "resolution": "PT1H",
        "flex-model": [battery(**fm)],
        "flex-context": {"consumption-price": hourly(NEG_PRICES)},
    }


@pytest.mark.parametrize("method", ["milp", "dp"])
def test_negative_prices_reach_the_full_milp_optimum(method):
    """Both exact methods: lazy binaries (LP first) and the dynamic programme over the SoC."""
    p = parse_problem_json(negative_day(**{"soc-at-start": "1.8 MWh"}))
    r = solve(p, "highs", method=method)
    assert r.method == method
    ch = np.maximum(r.devices[0].power_mw, 0)
    # the LP relaxation burned energy, so the lazy method needed binaries (the DP needs none)
    assert r.binaries > 0 if method == "milp" else r.binaries == 0
    # the true MILP: binaries at every step, solved to a tiny gap
    base, lay = formulate(p)
    full = add_binaries(base, lay, {i: np.ones(p.n_steps, bool) for i in range(len(lay.pairs))}, {})
    ref = run_highs(full, mip_rel_gap=1e-9)
    assert ref.status == "Optimal"
    assert r.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-6)
    lp = run_highs(base)
    assert lp.objective < r.objective - 1e-3  # the relaxation alone would have been wrong
    assert (ch[np.array(NEG_PRICES) <= -60] > 0).all()  # charges while paid most to consume
    assert r.devices[0].soc_mwh.max() <= 2 + 1e-9


def test_negative_prices_both_builds_agree():
    p = parse_problem_json(negative_day(**{"soc-at-start": "1.8 MWh"}))
    a, b = solve(p, "highs"), solve(p, "pyomo")
    assert b.objective == pytest.approx(a.objective, rel=1e-6)


def test_nonnegative_prices_need_no_binaries():
    prob = negative_day()
    prob["flex-context"]["consumption-price"] = hourly(np.abs(NEG_PRICES))
    r = solve(parse_problem_json(prob), method="milp")
    assert r.binaries == 0 and r.iterations == 1 and r.method == "lp"


def test_inflexible_pv_beyond_the_site_limit_is_absorbed_by_the_battery():
    pv = [0] * 10 + [0.8, 0.9, 0.9, 0.8] + [0] * 10
    prob = negative_day(**{"soc-at-start": "0 MWh"})
    prob["flex-context"] = {
        "consumption-price": "50 EUR/MWh",
        "site-power-capacity": "0.5 MW",
        "inflexible-production": hourly(pv, "MW"),
    }
    r = solve_problem_json(prob)
    p = r.devices[0].power_mw
    assert np.allclose(p[10:14] >= np.array(pv[10:14]) - 0.5 - 1e-9, True)
    assert (r.site_power_mw >= -0.5 - 1e-9).all()
    prob["flex-context"]["inflexible-production"] = hourly([0] * 10 + [1.8] + [0] * 13, "MW")
    with pytest.raises(InfeasibleError) as info:
        solve_problem_json(prob)
    msg = str(info.value)
    assert msg.startswith("site-power-capacity 0.5 MW at 2026-06-01T10:00+02:00 cannot hold")
    assert "absorb at most 1 MW" in msg


def test_soft_site_production_capacity_prices_the_breach():
    pv = [0] * 10 + [1.8] + [0] * 13
    prob = negative_day(**{"soc-at-start": "0 MWh"})
    prob["flex-context"] = {
        "consumption-price": "50 EUR/MWh",
        "site-power-capacity": "2 MW",
        "site-production-capacity": "0.5 MW",
        "site-production-breach-price": "100 EUR/MW",
        "inflexible-production": hourly(pv, "MW"),
    }
    r = solve_problem_json(prob)
    assert r.devices[0].power_mw[10] == pytest.approx(1.0)  # charges flat out
    assert r.costs["site production breach (worst)"] == pytest.approx(100 * 0.3)
    assert r.costs["site production breach (each step)"] == pytest.approx(100 * 0.3)


def test_v2g_ev_with_reservations():
    """An EV (60 kWh, 11 kW, V2G) away 08:00–17:00; must hold 80% when leaving, drives 20 kWh."""
    away = [{"start": "2026-06-01T08:00+02:00", "end": "2026-06-01T17:00+02:00", "value": "0 kW"}]
    ev = {
        "name": "ev",
        "soc-at-start": "30 kWh",
        "soc-min": "6 kWh",
        "soc-max": "60 kWh",
        "power-capacity": "11 kW",
        "consumption-capacity": away,
        "production-capacity": away,
        "roundtrip-efficiency": "85%",
        "soc-minima": [{"datetime": "2026-06-01T08:00+02:00", "value": "80%"}],
        "soc-maxima": [
            {"start": "2026-06-01T12:00+02:00", "end": "2026-06-01T17:00+02:00", "value": "60 kWh"}
        ],
        "soc-usage": [{"start": "2026-06-01T08:00+02:00", "duration": "PT2H", "value": "10 kW"}],
    }
    prices = [30] * 6 + [20, 25] + [40] * 9 + [120, 150, 130, 90, 60, 40, 35]
    r = solve_problem_json(
        {
            "start": START,
            "duration": "P1D",
            "resolution": "PT15M",
            "flex-model": [ev],
            "flex-context": {"consumption-price": hourly(prices)},
        }
    )
    p, soc = r.devices[0].power_mw * 1000, r.devices[0].soc_mwh * 1000
    assert soc[32] >= 48 - 1e-6  # 80% of 60 kWh at 08:00
    assert np.allclose(p[32:68], 0)  # away
    assert soc[40] == pytest.approx(soc[32] - 20)  # driving used 20 kWh, not subject to efficiency
    assert p[68:].min() == pytest.approx(-11)  # sells back in the evening peak
    assert not r.unmet


def test_heat_pump_as_storage():
    """COP 3 as charging efficiency, heat demand as soc-usage, a 20 kWh buffer."""
    demand = [4] * 6 + [6] * 4 + [2] * 8 + [5] * 6
    prices = [50] * 4 + [20] * 4 + [80] * 8 + [30] * 4 + [90] * 4
    hp = {
        "name": "heat pump",
        "soc-at-start": "10 kWh",
        "soc-min": "0 kWh",
        "soc-max": "20 kWh",
        "consumption-capacity": "4 kW",
        "production-capacity": "0 kW",
        "charging-efficiency": "300%",
        "soc-usage": [hourly(demand, "kW")],
        "soc-targets": [{"datetime": "2026-06-02T00:00+02:00", "value": "10 kWh"}],
    }
    r = solve_problem_json(
        {
            "start": START,
            "duration": "P1D",
            "resolution": "PT1H",
            "flex-model": [hp],
            "flex-context": {"consumption-price": hourly(prices), "relax-constraints": False},
        }
    )
    elec = r.devices[0].power_mw * 1000
    assert (elec >= -1e-9).all() and elec.max() <= 4 + 1e-9
    assert elec.sum() * 3 == pytest.approx(sum(demand))  # heat = COP × electricity, same stock
    assert elec[4:8].sum() > elec[8:16].sum()  # runs when cheap, coasts on the buffer


def test_many_batteries_share_one_connection():
    fms = [battery(f"b{i}", **{"power-capacity": f"{0.5 + 0.25 * i} MW"}) for i in range(4)]
    prob = {
        "start": START,
        "duration": "P1D",
        "resolution": "PT1H",
        "flex-model": fms,
        "flex-context": {
            "consumption-price": hourly(np.abs(NEG_PRICES)),
            "site-power-capacity": "1.5 MW",
        },
    }
    a = solve(parse_problem_json(prob), "highs")
    b = solve(parse_problem_json(prob), "pyomo")
    assert np.abs(a.site_power_mw).max() == pytest.approx(1.5)
    assert (np.abs(a.site_power_mw) <= 1.5 + 1e-9).all()
    assert b.objective == pytest.approx(a.objective, rel=1e-6)


def test_commitment_costs_are_reported_per_commitment():
    prob = negative_day(**{"soc-at-start": "1 MWh"})
    prob["flex-context"] = {
        "consumption-price": "50 EUR/MWh",
        "commitments": [
            {
                "name": "sold block",
                "baseline": [
                    {"start": "2026-06-01T18:00+02:00", "duration": "PT2H", "value": "-0.5 MW"}
                ],
                "up-price": "200 EUR/MWh",
                "down-price": "20 EUR/MWh",
            }
        ],
    }
    r = solve_problem_json(prob)
    p = r.devices[0].power_mw
    assert p[18] <= -0.5 + 1e-9 and p[19] <= -0.5 + 1e-9  # delivers the block (more earns 20)
    assert r.costs["sold block"] < 0
    block = (np.arange(24) >= 18) & (np.arange(24) < 20)
    dev = np.where(block, p + 0.5, 0.0)  # no baseline outside the block: no commitment there
    expected = float(np.sum(200 * np.maximum(dev, 0) - 20 * np.maximum(-dev, 0)))
    assert r.costs["sold block"] == pytest.approx(expected)
    assert r.costs["total"] == pytest.approx(r.costs["electricity"] + r.costs["sold block"])


def test_prefer_charging_sooner_breaks_ties_early():
    prob = negative_day(
        **{
            "soc-at-start": "0 MWh",
            "roundtrip-efficiency": "100%",
            "soc-targets": [{"datetime": "2026-06-02T00:00+02:00", "value": "2 MWh"}],
        }
    )
    prob["flex-context"] = {"consumption-price": "50 EUR/MWh"}
    p = solve_problem_json(prob).devices[0].power_mw
    assert np.allclose(p[:2], 1.0) and np.allclose(p[2:], 0.0)
    prob["flex-model"][0]["prefer-charging-sooner"] = False
    assert solve_problem_json(prob).devices[0].power_mw.sum() == pytest.approx(2.0)


def test_pyomo_extension_adds_a_constraint_and_a_cost_term():
    prob = negative_day()
    prob["flex-context"]["consumption-price"] = hourly(np.abs(NEG_PRICES))
    p = parse_problem_json(prob)
    plain = solve(p, "pyomo")

    def no_charging_at_night_and_wear(m, problem):
        m.quiet = pe.Constraint(range(6), rule=lambda m, t: m.charge[0, t] == 0)
        m.cost_terms["battery wear"] = 2.0 * sum(m.discharge[0, t] for t in m.T)

    r = solve(p, "pyomo", extend=no_charging_at_night_and_wear)
    assert np.allclose(np.maximum(r.devices[0].power_mw[:6], 0), 0)
    wear = 2.0 * np.maximum(-r.devices[0].power_mw, 0).sum()
    assert r.costs["battery wear"] == pytest.approx(wear)
    assert r.costs["total"] == pytest.approx(r.costs["electricity"] + wear)
    assert r.objective > plain.objective
    with pytest.raises(Exception, match="pyomo"):
        solve(p, "highs", extend=no_charging_at_night_and_wear)


def test_free_simultaneous_flows_are_netted_not_branched():
    """At a price ≥ 0 charging and discharging at once can be netted to one side at no cost;
    at a negative price it cannot (that is where binaries are needed)."""
    from flex_pipelines.scheduling.exact import _repair

    prob = negative_day(**{"soc-at-start": "1 MWh"})
    prob["duration"] = "PT4H"
    prob["flex-context"]["consumption-price"] = hourly([10, 0, -5, 10])
    p = parse_problem_json(prob)
    base, lay = formulate(p)
    x = run_highs(base).x
    ch, dis = lay.charge[0], lay.discharge[0]
    eta_c, eta_d = lay.eta[0][0][0], lay.eta[0][1][0]
    assert x[ch[0]] == 0 and 0 < x[dis[0]] < 1  # sells at 10 EUR/MWh in the first hour
    y = x.copy()
    y[ch[0]] += 0.02  # burn energy: the stock change stays the same
    y[dis[0]] += 0.02 * eta_c * eta_d
    netted = _repair(base, lay, y)
    assert netted is not None and np.allclose(netted, x, atol=1e-9)
    lay.repair_price = lay.repair_price.copy()
    lay.repair_price[0] = -1.0  # were the price negative, burning could pay: no netting
    assert _repair(base, lay, y) is None
