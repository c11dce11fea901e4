"""FlexMeasures 1.0's own scheduling tests, ported: their inputs and their asserted numbers.

Sources (FlexMeasures/flexmeasures, ``flexmeasures/data/models/planning/tests/``):
``test_storage.py::test_battery_solver_multi_commitment`` (commitment prices per MW are charged
per MW per step: 2.4 EUR), ``test_storage.py::test_battery_relaxation`` (a soft device capacity
is breached within the hard power-capacity: 2500 and 10000 EUR), ``test_commitments.py::
test_two_flexible_assets_with_commodity`` / ``test_mixed_gas_and_electricity_assets`` (7.47;
4.32 + 1.20 = 5.52 EUR) and ``test_group_constraints.py`` (intermediate power constraints).
FlexMeasures gives bare SoC numbers in the power sensor's unit (kW → kWh); our stateless problems
have no sensors, so the units are written out. Real HiGHS solves throughout.
"""

from __future__ import annotations

import numpy as np
import pytest

from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.storage import solve_problem_json

D15 = "2015-01-01T00:00+01:00"
D15_END = "2015-01-02T00:00+01:00"


def series(values, start: str = D15, res: str = "PT15M", unit: str = "EUR/MWh") -> dict:
    return {"start": start, "resolution": res, "unit": unit, "values": [float(v) for v in values]}


def test_commitment_prices_per_mw_are_charged_per_mw_per_step():
    """test_battery_solver_multi_commitment: 0.6 MWh charged flat over 96 quarter hours
    (0.025 MW each), so "1 EUR/MW" on deviations above 0 kW costs 96 × 0.025 = 2.4 EUR; the
    same commitment per MWh costs 0.6 EUR. The other terms as FlexMeasures asserts them."""
    fm = {
        "name": "battery",
        "soc-at-start": "0.4 MWh",
        "soc-min": "0 MWh",
        "soc-max": "1 MWh",
        "power-capacity": "1 MVA",
        "prefer-charging-sooner": False,
        "soc-minima": [{"datetime": "2015-01-02T00:00:00+01:00", "value": "1 MWh"}],
    }
    whole_day = {"start": D15, "end": D15_END}
    fc = {
        "consumption-price": series([100] * 96),
        "production-price": series([90] * 96),
        "site-power-capacity": "2 MW",
        "site-consumption-capacity": "1 kW",
        "site-consumption-breach-price": "1000 EUR/kW",
        "site-production-breach-price": "1000 EUR/kW",
        "site-peak-consumption": "20 kW",
        "site-peak-production": "20 kW",
        "site-peak-consumption-price": "260 EUR/MW",
        "site-peak-production-price": series([260] * 96, unit="EUR/MW"),
        "soc-minima-breach-price": "6000 EUR/kWh",
        "commitments": [
            {
                "name": "a sample commitment penalizing peaks",
                "baseline": [{"value": "0 kW", **whole_day}],
                "up-price": "1 EUR/MW",
                "down-price": [{"value": "-1 EUR/MW", **whole_day}],
            },
            {
                "name": "a sample commitment penalizing demand/supply",
                "up-price": "1 EUR/MWh",
                "down-price": "-1 EUR/MWh",
            },
        ],
    }
    r = solve_problem_json(
        {
            "start": D15,
            "duration": "P1D",
            "resolution": "PT15M",
            "flex-model": [fm],
            "flex-context": fc,
        }
    )
    np.testing.assert_allclose(r.devices[0].power_mw, (1 - 0.4) / 24)
    c = r.costs
    assert c["electricity"] == pytest.approx(100 * (1 - 0.4))
    assert c["site consumption breach (worst)"] == pytest.approx(1000 * (25 - 1))
    assert c["site consumption breach (each step)"] == pytest.approx(1000 * (25 - 1) * 96 / 4)
    assert c["site peak consumption"] == pytest.approx(260 / 1000 * (25 - 20))
    assert c["site peak production"] == pytest.approx(0)
    assert c["a sample commitment penalizing peaks"] == pytest.approx(4 * (1 - 0.4))  # 2.4
    assert c["a sample commitment penalizing demand/supply"] == pytest.approx(1 * (1 - 0.4))


def relaxation_problem(consumption_capacity) -> dict:
    t = np.arange(96) / 4
    price = np.full(96, 100.0)
    price[(t >= 16) & (t <= 17)] = 0  # cheap energy (pandas' inclusive slices, as ported)
    price[(t >= 17) & (t <= 18)] = 1000  # expensive energy
    fm = {
        "name": "battery",
        "soc-at-start": "0.4 MWh",
        "soc-min": "0 MWh",
        "soc-max": "1 MWh",
        "power-capacity": "0.025 MVA",
        "consumption-capacity": consumption_capacity,
        "production-capacity": consumption_capacity,
        "prefer-charging-sooner": False,
        "soc-minima": [
            {"start": "2015-01-01T12:00:00+01:00", "duration": "PT6H", "value": "0.8 MWh"}
        ],
    }
    fc = {
        "consumption-price": series(price),
        "production-price": series(price - 10),
        "site-power-capacity": "2 MW",
        "site-consumption-breach-price": "1000 EUR/kW",
        "site-production-breach-price": "1000 EUR/kW",
        "site-peak-consumption": "20 kW",
        "site-peak-production": "20 kW",
        "site-peak-consumption-price": [
            {"start": D15, "duration": "PT2H", "value": "260 EUR/MW"},
            {"start": "2015-01-01T02:00+01:00", "duration": "PT22H", "value": "235 EUR/MW"},
        ],
        "site-peak-production-price": series([260] * 96, unit="EUR/MW"),
        "soc-minima-breach-price": "6000 EUR/kWh",
        "consumption-breach-price": "100 EUR/kW",
        "production-breach-price": "100 EUR/kW",
    }
    return {
        "start": D15,
        "duration": "P1D",
        "resolution": "PT15M",
        "flex-model": [fm],
        "flex-context": fc,
    }


def test_a_soft_device_capacity_is_breached_within_the_hard_power_capacity():
    """test_battery_relaxation: the consumption capacity is 0 from noon to 6 PM, priced at
    100 EUR/kW; reaching the SoC minimum (6000 EUR/kWh) matters more, so the battery keeps
    charging until 4 PM, at its power-capacity of 0.025 MW and no more (it used to charge at
    0.0333 MW), then idles. Breach costs: 2500 EUR for the worst (0.025 MW), 10000 EUR over the
    four hours."""
    t = np.arange(96) / 4
    cap = np.where((t >= 12) & (t <= 18), 0.0, 0.025)
    r = solve_problem_json(relaxation_problem(series(cap, unit="MW")))
    power = r.devices[0].power_mw
    np.testing.assert_allclose(power[:64], 0.025, atol=1e-9)  # until 15:45
    np.testing.assert_allclose(power[64:72], 0.0, atol=1e-9)  # 16:00-17:45
    assert power.max() <= 0.025 + 1e-9  # never above the hard power-capacity
    assert r.costs["consumption breach[battery] (worst)"] == pytest.approx(100 * 0.025 * 1000)
    assert r.costs["consumption breach[battery] (each step)"] == pytest.approx(
        100 * 0.025 * 1000 * 4
    )
    pyomo = solve_problem_json(relaxation_problem(series(cap, unit="MW")), backend="pyomo")
    assert pyomo.objective == pytest.approx(r.objective, rel=1e-7)


D24 = "2024-01-01T00:00:00+01:00"
BATTERY = {
    "name": "battery",
    "sensor": 1,
    "commodity": "electricity",
    "soc-at-start": "20 kWh",
    "soc-min": "0 kWh",
    "soc-max": "100 kWh",
    "power-capacity": "20 kW",
    "soc-targets": [{"datetime": "2024-01-01T23:00:00+01:00", "value": "80 kWh"}],
    "charging-efficiency": 0.95,
    "discharging-efficiency": 0.95,
}


def test_two_flexible_assets_with_commodity():
    """test_two_flexible_assets_with_commodity: 7.47 EUR of electricity; each charges at full
    power for three hours, tops up in the fourth, and the battery sells in the last hour."""
    hp = {
        "name": "heat pump",
        "sensor": 2,
        "commodity": "electricity",
        "soc-at-start": "10 kWh",
        "soc-min": "0 kWh",
        "soc-max": "50 kWh",
        "power-capacity": "10 kW",
        "production-capacity": "0 kW",
        "charging-efficiency": 0.95,
        "soc-targets": [{"datetime": "2024-01-01T23:00:00+01:00", "value": "40 kWh"}],
    }
    fc = {"consumption-price": "100 EUR/MWh", "production-price": "100 EUR/MWh"}
    r = solve_problem_json(
        {
            "start": D24,
            "duration": "P1D",
            "resolution": "PT1H",
            "flex-model": [BATTERY, hp],
            "flex-context": fc,
        }
    )
    assert r.costs["electricity"] == pytest.approx(7.47, rel=1e-2)
    b, h = r.device("battery").power_mw * 1000, r.device("heat pump").power_mw * 1000
    np.testing.assert_allclose(b[:3], 20)
    assert b[3] > 0 and np.allclose(b[4:-1], 0) and b[-1] == pytest.approx(-20)
    np.testing.assert_allclose(h[:3], 10)
    assert h[3] > 0 and np.allclose(h[4:], 0)


def test_mixed_gas_and_electricity_assets():
    """test_mixed_gas_and_electricity_assets (FlexMeasures' list form of the flex-context, one
    context per commodity): electricity 4.32 EUR, gas 1.20 EUR (a boiler draining 1 kW), 5.52."""
    boiler = {
        "name": "boiler",
        "sensor": 3,
        "commodity": "gas",
        "power-capacity": "30 kW",
        "consumption-capacity": "30 kW",
        "production-capacity": "0 kW",
        "soc-usage": ["1 kW"],
        "soc-min": 0.0,
        "soc-max": 0.0,
        "soc-at-start": 0.0,
    }
    fc = [
        {
            "commodity": "electricity",
            "consumption-price": "100 EUR/MWh",
            "production-price": "100 EUR/MWh",
        },
        {"commodity": "gas", "consumption-price": "50 EUR/MWh", "production-price": "50 EUR/MWh"},
    ]
    r = solve_problem_json(
        {
            "start": D24,
            "duration": "P1D",
            "resolution": "PT1H",
            "flex-model": [BATTERY, boiler],
            "flex-context": fc,
        }
    )
    assert r.costs["electricity"] == pytest.approx(4.32, rel=1e-2)
    assert r.costs["gas"] == pytest.approx(1.20, rel=1e-2)
    assert r.costs["electricity"] + r.costs["gas"] == pytest.approx(5.52, rel=1e-2)
    np.testing.assert_allclose(r.device("boiler").power_mw * 1000, 1.0)
    b = r.device("battery").power_mw * 1000
    assert (b[:3] > 0).all() and b[-1] < 0 and np.allclose(b[4:-2], 0)
    np.testing.assert_allclose(r.commodity_power_mw["gas"] * 1000, 1.0)
    # the gas site's price changes the gas cost and nothing else
    fc[1]["consumption-price"] = "80 EUR/MWh"
    r2 = solve_problem_json(
        {
            "start": D24,
            "duration": "P1D",
            "resolution": "PT1H",
            "flex-model": [BATTERY, boiler],
            "flex-context": fc,
        }
    )
    assert r2.costs["gas"] == pytest.approx(24 * 0.001 * 80)
    assert r2.costs["electricity"] == pytest.approx(r.costs["electricity"])


D23 = "2023-01-01T00:00:00+01:00"


def group_case(group_entry: dict | None, price: str = "100 EUR/MWh", load_in_group=None):
    battery = {
        "name": "battery",
        "sensor": 1,
        "soc-at-start": "1 MWh",
        "soc-min": "0 MWh",
        "soc-max": "2 MWh",
        "power-capacity": "2 MW",
        "consumption-capacity": "2 MW",
        "production-capacity": "2 MW",
    }
    pv = {
        "name": "pv",
        "sensor": 2,
        "power-capacity": "2 MW",
        "consumption-capacity": "0 MW",
        "production-capacity": "2 MW",
    }
    fms = [battery, pv]
    if group_entry is not None:
        for f in fms:
            f["group"] = {"sensor": 5}
        fms.append({"sensor": 5, **group_entry})
    fc = {"consumption-price": price, "production-price": "100 EUR/MWh"}
    return {
        "start": D23,
        "duration": "PT4H",
        "resolution": "PT1H",
        "flex-model": fms,
        "flex-context": fc,
    }


def test_group_hard_power_capacity_caps_the_sum_of_its_members():
    """test_group_hard_power_capacity_caps_aggregate / test_group_absent_allows_larger_aggregate:
    the battery and the PV may each produce 2 MW, their shared inverter only 2.5 MW."""
    r = solve_problem_json(group_case({"power-capacity": "2.5 MW"}))
    agg = r.group_power_mw["5"]
    assert (np.abs(agg) <= 2.5 + 1e-6).all()
    np.testing.assert_allclose(agg, r.device("battery").power_mw + r.device("pv").power_mw)
    assert np.abs(agg).max() == pytest.approx(2.5)  # the inverter is the bottleneck
    free = solve_problem_json(group_case(None))
    assert np.abs(free.device("battery").power_mw + free.device("pv").power_mw).max() > 2.5
    assert r.device("battery").power_mw.min() >= -0.5 - 1e-6  # 2.5 MW less the PV's 2 MW


def test_group_soft_consumption_capacity_is_priced_and_the_hard_cap_holds():
    """test_group_soft_directional_capacity: a group consumption-capacity is soft (FlexMeasures'
    default 10000 EUR/kW), breached only when a negative price pays more than that."""
    entry = {"power-capacity": "2.5 MW", "consumption-capacity": "1 MW"}
    r = solve_problem_json(group_case(entry))
    assert (r.group_power_mw["5"] <= 1 + 1e-6).all()
    assert "group consumption breach[5] (worst)" in r.costs
    # paid 3e7 EUR/MWh to consume in the first hour (an empty battery): charging 2 MW there,
    # 1 MW over the soft limit, earns 3e7 more than the 2e7 the breach costs (1e7 EUR/MW once,
    # 1e7 EUR/MW per hour), within the hard 2.5 MW
    data = group_case(entry)
    data["flex-model"][0]["soc-at-start"] = "0 MWh"
    data["flex-context"]["consumption-price"] = [
        {"start": D23, "duration": "PT1H", "value": "-30000000 EUR/MWh"},
        {"start": "2023-01-01T01:00:00+01:00", "duration": "PT3H", "value": "100 EUR/MWh"},
    ]
    paid = solve_problem_json(data)
    assert paid.group_power_mw["5"][0] == pytest.approx(2.0)
    assert paid.costs["group consumption breach[5] (worst)"] == pytest.approx(1.0 * 1e7)
    assert paid.costs["group consumption breach[5] (each step)"] == pytest.approx(1.0 * 1e7)


def test_an_inflexible_device_counts_towards_its_group():
    """test_inflexible_device_counts_towards_group: a battery paid to consume under a 2 MW group
    shared with a fixed 1 MW load gets 1 MW; without the load in the group, 2 MW."""
    load = {"start": D23, "resolution": "PT1H", "unit": "MW", "values": [1.0] * 4}

    def case(in_group: bool) -> dict:
        entry = {"name": "load", "inflexible-consumption": load}
        if in_group:
            entry["group"] = {"sensor": 5}
        battery = {
            "name": "battery",
            "sensor": 1,
            "soc-at-start": "0 MWh",
            "soc-min": "0 MWh",
            "soc-max": "100 MWh",
            "power-capacity": "2 MW",
            "group": {"sensor": 5},
        }
        return {
            "start": D23,
            "duration": "PT4H",
            "resolution": "PT1H",
            "flex-model": [battery, entry, {"sensor": 5, "power-capacity": "2 MW"}],
            "flex-context": {
                "consumption-price": "-100 EUR/MWh",
                "production-price": "100 EUR/MWh",
            },
        }

    r = solve_problem_json(case(True))
    b = r.device("battery").power_mw
    np.testing.assert_allclose(b, 1.0, atol=1e-6)
    np.testing.assert_allclose(r.group_power_mw["5"], b + 1.0)
    np.testing.assert_allclose(r.site_power_mw, b + 1.0)  # the load is on the site too
    assert solve_problem_json(case(False)).device("battery").power_mw.max() == pytest.approx(2.0)


@pytest.mark.parametrize(
    "entry, match",
    [
        ({"power-capacity": "2.5 MW", "soc-at-start": "0.5 MWh"}, "device-only"),
        ({}, "none of"),
    ],
)
def test_group_entries_that_are_not_groups_are_refused(entry, match):
    with pytest.raises(SchedulingError, match=match):
        solve_problem_json(group_case(entry))


def test_a_dangling_group_and_mixed_commodities_are_refused():
    data = group_case({"power-capacity": "2.5 MW"})
    data["flex-model"].pop()  # no entry for sensor 5
    with pytest.raises(SchedulingError, match="group '5' has no flex-model entry"):
        solve_problem_json(data)
    data = group_case({"power-capacity": "2.5 MW"})
    data["flex-model"][1]["commodity"] = "gas"
    with pytest.raises(SchedulingError, match="a group sums the power of one commodity"):
        solve_problem_json(data)


def test_nested_groups_limit_their_leaf_devices():
    """test_nested_group_leaf_resolution: battery -> inner group -> outer group; the outer
    group's sum is the battery's (and the PV's), and its tighter cap holds."""
    data = group_case({"power-capacity": "2.5 MW", "group": {"sensor": 6}})
    data["flex-model"].append({"sensor": 6, "power-capacity": "1.5 MW"})
    r = solve_problem_json(data)
    total = r.device("battery").power_mw + r.device("pv").power_mw
    np.testing.assert_allclose(r.group_power_mw["6"], total)
    np.testing.assert_allclose(r.group_power_mw["5"], total)
    assert np.abs(total).max() == pytest.approx(1.5)  # the outer cap binds
