"""Published scheduling cases (shared/reference/scheduling-cases.md), solved with real HiGHS.

Toy battery with and without PV, the 24-step cost cases, operation modes and storage losses;
each through the direct HiGHS build, and the pyomo build where it cross-checks the optimum.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from flex_pipelines.scheduling.problem import integrate_soc
from flex_pipelines.scheduling.storage import parse_problem_json, solve, solve_problem_json
from tests.helpers import TOY_PRICES_EUR_PER_MWH

CASES = Path(__file__).parent / "scheduling_cases"
TOY_PRICES = TOY_PRICES_EUR_PER_MWH
PV_KW = [
    0,
    0,
    0,
    0,
    10,
    30,
    60,
    100,
    140,
    170,
    190,
    210,
    220,
    210,
    190,
    170,
    140,
    100,
    60,
    30,
    10,
    0,
    0,
    0,
]


def toy_problem() -> dict:
    return json.loads((CASES / "toy_battery.json").read_text())


def hourly(values, start="2026-01-01T00:00+00:00", unit="EUR/MWh") -> dict:
    return {"start": start, "resolution": "PT1H", "unit": unit, "values": list(values)}


def test_toy_battery_two_cycles_buy_low_sell_high():
    r = solve_problem_json(toy_problem())
    assert r.status == "optimal"
    p = r.devices[0].power_mw * 1000  # kW, 15-minute steps from 07:00
    soc = r.devices[0].soc_mwh * 1000
    assert soc[0] == pytest.approx(225)  # 50% of 450 kWh
    assert soc.min() >= 50 - 1e-6 and soc.max() <= 450 + 1e-6
    assert np.abs(p).max() <= 500 + 1e-6
    # two full cycles: the stock reaches soc-max twice with a full discharge between
    full = np.flatnonzero(soc > 450 - 1e-3)
    empty = np.flatnonzero(soc < 50 + 1e-3)
    assert full.size and empty.size
    hour = 7 + np.arange(48) // 4
    # the second cycle buys at the window's lowest price (14:00) and sells at its highest (18:00)
    assert (p[hour == 14] > 0).all() and np.isclose(p[hour == 14].sum() * 0.25, 400 / np.sqrt(0.9))
    assert (p[hour == 18] < 0).all()
    assert r.costs["total"] < 0
    assert r.costs["total"] == pytest.approx(r.costs["electricity"])


def test_toy_battery_with_pv_has_less_room():
    base = solve_problem_json(toy_problem())
    prob = toy_problem()
    prob["flex-context"]["inflexible-production"] = hourly(
        PV_KW, start="2026-01-02T00:00+01:00", unit="kW"
    )
    r = solve_problem_json(prob)
    pv = np.repeat(PV_KW, 4)[28:76] / 1000  # MW on the 15-minute steps from 07:00
    site = r.site_power_mw
    assert np.allclose(site, r.devices[0].power_mw - pv)
    assert (site >= -0.5 - 1e-9).all() and (site <= 0.5 + 1e-9).all()
    # the battery's room to feed in shrinks with PV: at 12:00 it may discharge at most 280 kW
    room = 0.5 - pv
    assert (r.devices[0].power_mw >= -room - 1e-9).all()
    assert np.isclose(room[20], 0.28)
    assert not np.allclose(r.devices[0].power_mw, base.devices[0].power_mw)
    assert r.costs["total"] < base.costs["total"]  # PV feed-in earns on top


def cost_case() -> dict:
    j = np.arange(24)
    return {
        "start": "2026-01-01T00:00+00:00",
        "duration": "PT24H",
        "resolution": "PT1H",
        "flex-model": [
            {
                "name": "battery",
                "soc-at-start": "0.4 MWh",
                "soc-min": "0 MWh",
                "soc-max": "1 MWh",
                "power-capacity": "1 MW",
            }
        ],
        "flex-context": {
            "consumption-price": hourly(100 + j / 23),
            "production-price": hourly(90 + j / 23),
        },
    }


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_24_step_cost_cases(backend):
    prob = cost_case()
    r = solve(parse_problem_json(prob), backend)
    expected = np.zeros(24)
    expected[-1] = -0.4
    assert np.allclose(r.devices[0].power_mw, expected, atol=1e-7)
    assert r.costs["total"] == pytest.approx(-36.4, abs=1e-9)

    prob["flex-context"] |= {
        "site-production-capacity": "0.1 MW",
        "site-production-breach-price": "1000 EUR/MW",
    }
    r = solve(parse_problem_json(prob), backend)
    expected = np.zeros(24)
    expected[-4:] = -0.1
    assert np.allclose(r.devices[0].power_mw, expected, atol=1e-7)
    assert r.costs["site production breach (worst)"] == pytest.approx(0.0, abs=1e-9)

    prob["flex-context"] |= {
        "site-peak-consumption-price": "80 EUR/MW",
        "site-peak-production-price": "80 EUR/MW",
    }
    r = solve(parse_problem_json(prob), backend)
    assert np.allclose(r.devices[0].power_mw, -0.4 / 24, atol=1e-7)
    assert r.costs["site peak production"] == pytest.approx(80 * 0.4 / 24)
    assert r.costs["electricity"] == pytest.approx(-0.4 / 24 * sum(90 + j / 23 for j in range(24)))


def modes_case(target: float, modes=None) -> dict:
    fm = {
        "name": "device",
        "soc-at-start": "0 MWh",
        "soc-min": "0 MWh",
        "soc-max": "10 MWh",
        "consumption-capacity": "0.5 MW",
        "production-capacity": "0 MW",
        "soc-targets": [{"datetime": "2026-01-01T04:00+01:00", "value": f"{target} MWh"}],
        "prefer-charging-sooner": False,
    }
    if modes is not None:
        fm["operation-modes"] = modes
    return {
        "start": "2026-01-01T00:00+01:00",
        "duration": "PT4H",
        "resolution": "PT1H",
        "flex-model": [fm],
        "flex-context": {
            "consumption-price": hourly([10, 1, 10, 1], "2026-01-01T00:00+01:00"),
            "production-price": "0 EUR/MWh",
            "relax-constraints": False,
        },
    }


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_operation_modes(backend):
    r = solve(parse_problem_json(modes_case(1.2)), backend)
    p = r.devices[0].power_mw
    assert p[1] == pytest.approx(0.5) and p[3] == pytest.approx(0.5)
    assert p[0] + p[2] == pytest.approx(0.2)
    assert r.costs["total"] == pytest.approx(3.0)

    on_off = [{"name": "off", "power": "0 MW"}, {"name": "on", "power": "0.5 MW"}]
    r = solve(parse_problem_json(modes_case(1.0, on_off)), backend)
    assert np.allclose(r.devices[0].power_mw, [0, 0.5, 0, 0.5], atol=1e-7)
    assert r.costs["total"] == pytest.approx(1.0)

    band = [{"power": "0 MW"}, {"min": "0.4 MW", "max": "0.5 MW"}]
    r = solve(parse_problem_json(modes_case(1.2, band)), backend)
    assert np.allclose(sorted(r.devices[0].power_mw), [0, 0.4, 0.4, 0.4], atol=1e-7)
    assert r.costs["total"] == pytest.approx(4.8)
    assert r.binaries > 0


def test_operation_mode_fixed_cost_is_charged():
    prob = modes_case(1.0, [{"power": "0 MW"}, {"power": "0.5 MW", "fixed-cost": 0.25}])
    r = solve_problem_json(prob)
    assert np.allclose(r.devices[0].power_mw, [0, 0.5, 0, 0.5], atol=1e-7)
    assert r.costs["operation modes[device]"] == pytest.approx(0.5)
    assert r.costs["total"] == pytest.approx(1.5)


def test_storage_losses_compound_as_published():
    assert np.allclose(
        integrate_soc(1000, [100, -100, -100, 100], 0.99),
        [1000, 1089, 979.11, 870.3189, 960.615711],
    )
    assert np.allclose(integrate_soc(2.5, [-0.5] * 4, 0.9), [2.5, 1.8, 1.17, 0.603, 0.0927])


def test_storage_losses_in_the_optimiser_decay_an_idle_stock():
    prob = copy.deepcopy(cost_case())
    fm = prob["flex-model"][0]
    fm |= {"soc-at-start": "1 MWh", "power-capacity": "0 MW", "storage-efficiency": "99%"}
    r = solve_problem_json(prob)
    assert np.allclose(r.devices[0].soc_mwh, 0.99 ** np.arange(25))


def test_storage_efficiency_of_a_series_is_converted_to_the_step():
    prob = copy.deepcopy(cost_case())
    prob["resolution"] = "PT15M"
    prob["duration"] = "PT2H"
    fm = prob["flex-model"][0]
    fm |= {
        "soc-at-start": "1 MWh",
        "power-capacity": "0 MW",
        "storage-efficiency": hourly([0.9, 0.9], unit="dimensionless"),
    }
    r = solve_problem_json(prob)
    assert r.devices[0].soc_mwh[4] == pytest.approx(0.9)  # 0.9 per hour = 0.9**0.25 per step
    assert r.devices[0].soc_mwh[8] == pytest.approx(0.81)
