"""The worked multi-commodity site of docs/extending-the-scheduler.md: a heat pump (an
electricity port and a heat port, coupled at a COP of 3.5), a heat buffer draining a heat
demand, rooftop PV and a battery behind one grid connection. Heat has no grid connection (an
internal node: the heat pump's heat is what the buffer takes).

The schedule's cost is checked against an independent LP written here with scipy (its own
variables and equations, no code of the scheduler), and the pyomo build against the default.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.storage import solve_problem_json

START = "2026-03-02T00:00+01:00"
H = np.arange(24)
PRICE = np.round(
    60
    + 40 * np.exp(-((H - 8) ** 2) / 4)
    + 55 * np.exp(-((H - 19) ** 2) / 5)
    - 35 * np.exp(-((H - 13) ** 2) / 6),
    2,
)  # EUR/MWh; feed-in 20 EUR/MWh less
PV = np.round(np.clip(np.sin((H - 6) / 12 * np.pi), 0, None) * 6.0, 3)  # kW
DEMAND = np.round(4 + 2 * np.cos(2 * np.pi * (H - 4) / 24), 3)  # kW of heat
LOAD = np.round(0.6 + 0.8 * ((H >= 7) & (H <= 9)) + 1.2 * ((H >= 17) & (H <= 21)), 3)  # kW
COP, SITE_KW, HP_KW = 3.5, 9.0, 3.0


def _series(values: np.ndarray, unit: str) -> dict:
    return {"start": START, "resolution": "PT1H", "unit": unit, "values": values.tolist()}


def heat_pump_site() -> dict:
    """The problem as FlexMeasures 1.0 JSON (flex-model list and flex-context)."""
    no_ties = {"prefer-charging-sooner": False, "prefer-curtailing-later": False}
    flex_model = [
        {
            "name": "battery",
            "soc-at-start": "5 kWh",
            "soc-min": "0 kWh",
            "soc-max": "10 kWh",
            "power-capacity": "5 kW",
            "roundtrip-efficiency": "90%",
            **no_ties,
        },
        {"name": "pv", "production-capacity": _series(PV, "kW"), **no_ties},
        {
            "name": "heat pump (electricity)",
            "coupling": "heat pump",
            "consumption-capacity": f"{HP_KW} kW",
            **no_ties,
        },
        {
            "name": "heat pump (heat)",
            "commodity": "heat",
            "coupling": "heat pump",
            "coupling-coefficient": COP,
            "production-capacity": f"{COP * HP_KW} kW",
            **no_ties,
        },
        {
            "name": "heat buffer",
            "commodity": "heat",
            "soc-at-start": "10 kWh",
            "soc-min": "2 kWh",
            "soc-max": "20 kWh",
            "consumption-capacity": "12 kW",
            "soc-usage": [_series(DEMAND, "kW")],
            **no_ties,
        },
    ]
    flex_context = {
        "consumption-price": _series(PRICE, "EUR/MWh"),
        "production-price": _series(PRICE - 20, "EUR/MWh"),
        "site-power-capacity": f"{SITE_KW} kW",
        "inflexible-consumption": [_series(LOAD, "kW")],
        "commodities": [{"commodity": "heat"}],  # no prices, no capacities: an internal node
    }
    return {
        "start": START,
        "duration": "P1D",
        "resolution": "PT1H",
        "flex-model": flex_model,
        "flex-context": flex_context,
    }


def independent_lp_cost_eur() -> float:
    """The same site written as an LP from scratch (kW, hourly steps): per step battery charge
    c and discharge d, its stock s, PV output g, heat pump electricity e, buffer stock b,
    import i and export x."""
    T = 24
    eta = np.sqrt(0.9)
    names = ["c", "d", "s", "g", "e", "b", "i", "x"]
    n = len(names) * T

    def col(v: str, t: int) -> int:
        return names.index(v) * T + t

    cost = np.zeros(n)
    bounds = [(0.0, 0.0)] * n
    for t in range(T):
        cost[col("i", t)] = PRICE[t] / 1000  # EUR per kW for an hour
        cost[col("x", t)] = -(PRICE[t] - 20) / 1000
        for v, lo, hi in (
            ("c", 0, 5),
            ("d", 0, 5),
            ("s", 0, 10),
            ("g", 0, PV[t]),
            ("e", 0, HP_KW),
            ("b", 2, 20),
            ("i", 0, SITE_KW),
            ("x", 0, SITE_KW),
        ):
            bounds[col(v, t)] = (lo, hi)
    rows, rhs = [], []
    for t in range(T):
        r = np.zeros(n)  # site: import - export = load + c - d - g + e
        r[[col("i", t), col("x", t), col("c", t), col("d", t), col("g", t), col("e", t)]] = [
            1,
            -1,
            -1,
            1,
            1,
            -1,
        ]
        rows.append(r)
        rhs.append(LOAD[t])
        r = np.zeros(n)  # battery: s_t = s_{t-1} + eta c - d / eta
        r[[col("s", t), col("c", t), col("d", t)]] = [1, -eta, 1 / eta]
        if t:
            r[col("s", t - 1)] = -1
        rows.append(r)
        rhs.append(5.0 if t == 0 else 0.0)
        r = np.zeros(n)  # buffer: b_t = b_{t-1} + COP e - demand (the heat pump's heat)
        r[[col("b", t), col("e", t)]] = [1, -COP]
        if t:
            r[col("b", t - 1)] = -1
        rows.append(r)
        rhs.append((10.0 if t == 0 else 0.0) - DEMAND[t])
    res = linprog(cost, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=bounds, method="highs")
    assert res.status == 0
    return float(res.fun)


def test_heat_pump_site_equals_the_independent_lp():
    r = solve_problem_json(heat_pump_site())
    assert r.costs["total"] == pytest.approx(independent_lp_cost_eur(), rel=1e-7, abs=1e-9)
    elec = r.device("heat pump (electricity)").power_mw
    heat = r.device("heat pump (heat)").power_mw
    np.testing.assert_allclose(heat, -COP * elec, atol=1e-9)  # the coupling
    np.testing.assert_allclose(r.device("heat buffer").power_mw, -heat, atol=1e-9)  # heat node
    np.testing.assert_allclose(r.commodity_power_mw["heat"], 0.0, atol=1e-9)
    assert elec.max() > 0.5 * HP_KW / 1000  # the heat pump works
    assert (r.site_power_mw <= SITE_KW / 1000 + 1e-9).all()
    pyomo = solve_problem_json(heat_pump_site(), backend="pyomo")
    assert pyomo.costs["total"] == pytest.approx(r.costs["total"], rel=1e-7, abs=1e-9)


def test_the_heat_pump_runs_when_electricity_is_cheap_and_pv_shines():
    """Coupled through the heat node, the buffer shifts the heat pump to the midday dip."""
    r = solve_problem_json(heat_pump_site())
    elec = r.device("heat pump (electricity)").power_mw * 1000
    assert elec[17:23].max() == pytest.approx(0.0, abs=1e-9)  # not in the evening peak
    paid = float(np.average(PRICE, weights=elec))
    assert paid < np.average(PRICE, weights=DEMAND) - 10  # vs heating as the demand comes
    assert elec.sum() * COP == pytest.approx(DEMAND.sum() - (10 - 2), abs=1e-6)  # buffer to min


def test_a_coupling_with_one_port_or_no_direction_is_refused():
    data = heat_pump_site()
    data["flex-model"][3].pop("coupling")
    data["flex-model"][3].pop("coupling-coefficient")
    with pytest.raises(SchedulingError, match="coupling 'heat pump': only device"):
        solve_problem_json(data)
    data = heat_pump_site()
    data["flex-model"][2]["power-capacity"] = "3 kW"  # consumes and produces: which port?
    data["flex-model"][2].pop("consumption-capacity")
    with pytest.raises(SchedulingError, match="a coupled port flows one way"):
        solve_problem_json(data)
