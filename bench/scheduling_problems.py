"""The problems of the storage-scheduling benchmark (``bench_scheduling.py``): a synthetic
day-ahead-like hourly price, the 1 MW / 2 MWh battery, the battery (or 10 batteries behind a
4 MW site limit) over a horizon, and the heat-pump site of docs/extending-the-scheduler.md.

Imported by name (``from scheduling_problems import problem``, with bench/ on ``sys.path``) in
the fresh processes that measure memory and compare revisions, so it imports no other bench
module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

START = "2026-01-05T00:00+00:00"
HEAT_PUMP_CASE = "heat-pump site, week"


def synthetic_prices(days: int, seed: int = 7) -> list[float]:
    """Hourly day-ahead-like prices (EUR/MWh): morning and evening peaks, a midday solar dip
    that goes negative on sunny summer days, windy nights below zero, weekly and seasonal
    swings, noise."""
    rng = np.random.default_rng(seed)
    h = np.arange(days * 24)
    hod, day = h % 24, h // 24
    base = 70 + 15 * np.cos(2 * np.pi * day / 365)
    shape = 25 * np.exp(-((hod - 8) ** 2) / 4) + 35 * np.exp(-((hod - 19) ** 2) / 5)
    solar = (40 + 30 * np.sin(2 * np.pi * (day - 80) / 365)) * np.exp(-((hod - 13) ** 2) / 6)
    weekend = np.where((day % 7) >= 5, -12, 0)
    noise = rng.normal(0, 6, h.size)
    sunny = rng.random(days)[day] < 0.35  # some days the midday dip is deeper than the base
    windy = rng.random(days)[day] < 0.2  # some windy nights push prices below zero
    wind = np.where(windy & ((hod <= 5) | (hod >= 23)), 85, 0)
    price = base + shape - solar * np.where(sunny, 2.2, 1.0) + weekend + noise - wind
    return [round(float(v), 2) for v in price]


def battery(name: str = "battery", mw: float = 1.0, mwh: float = 2.0) -> dict[str, Any]:
    return {
        "name": name,
        "soc-at-start": f"{mwh / 2} MWh",
        "soc-min": "0 MWh",
        "soc-max": f"{mwh} MWh",
        "power-capacity": f"{mw} MW",
        "roundtrip-efficiency": "90%",
    }


def problem(days: int, n_batteries: int = 1, nonnegative: bool = False) -> dict[str, Any]:
    values = synthetic_prices(days)
    if nonnegative:
        values = [max(v, 0.0) for v in values]
    prices = {"start": START, "resolution": "PT1H", "unit": "EUR/MWh", "values": values}
    if n_batteries == 1:
        fms = [battery()]
        fc: dict[str, Any] = {"consumption-price": prices}
    else:
        sizes = [(0.5 + 0.25 * i, 1.0 + 0.6 * i) for i in range(n_batteries)]
        fms = [battery(f"battery {i + 1}", mw, mwh) for i, (mw, mwh) in enumerate(sizes)]
        fc = {"consumption-price": prices, "site-power-capacity": "4 MW"}
    return {
        "start": START,
        "duration": f"P{days}D",
        "resolution": "PT15M",
        "flex-model": fms,
        "flex-context": fc,
    }


def heat_pump_site(days: int = 7) -> dict[str, Any]:
    """The worked multi-commodity site of docs/extending-the-scheduler.md over ``days`` at 15
    minutes: a heat pump (3 kW electricity, COP 3.5, its heat and electricity ports coupled), a
    20 kWh heat buffer draining a heat demand, 6 kWp PV, a 10 kWh / 5 kW battery and a house
    load behind a 9 kW connection; heat is an internal node. Prices: ``synthetic_prices``
    (feed-in 20 EUR/MWh lower)."""
    q = np.arange(days * 96)
    hour = (q % 96) / 4
    pv = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None) * 6.0
    demand = 4 + 2 * np.cos(2 * np.pi * (hour - 4) / 24)
    load = 0.6 + 0.8 * ((hour >= 7) & (hour < 10)) + 1.2 * ((hour >= 17) & (hour < 22))

    def series(values: np.ndarray | list[float], unit: str, res: str = "PT15M") -> dict:
        vals = [round(float(v), 3) for v in values]
        return {"start": START, "resolution": res, "unit": unit, "values": vals}

    prices = np.array(synthetic_prices(days))
    fms = [
        {
            "name": "battery",
            "soc-at-start": "5 kWh",
            "soc-min": "0 kWh",
            "soc-max": "10 kWh",
            "power-capacity": "5 kW",
            "roundtrip-efficiency": "90%",
        },
        {"name": "pv", "production-capacity": series(pv, "kW")},
        {
            "name": "heat pump (electricity)",
            "coupling": "heat pump",
            "consumption-capacity": "3 kW",
        },
        {
            "name": "heat pump (heat)",
            "commodity": "heat",
            "coupling": "heat pump",
            "coupling-coefficient": 3.5,
            "production-capacity": "10.5 kW",
        },
        {
            "name": "heat buffer",
            "commodity": "heat",
            "soc-at-start": "10 kWh",
            "soc-min": "2 kWh",
            "soc-max": "20 kWh",
            "consumption-capacity": "12 kW",
            "storage-efficiency": "99.9%",
            "soc-usage": [series(demand, "kW")],
        },
    ]
    fc = {
        "consumption-price": series(prices, "EUR/MWh", "PT1H"),
        "production-price": series(prices - 20, "EUR/MWh", "PT1H"),
        "site-power-capacity": "9 kW",
        "inflexible-consumption": [series(load, "kW")],
        "commodities": [{"commodity": "heat"}],
    }
    return {
        "start": START,
        "duration": f"P{days}D",
        "resolution": "PT15M",
        "flex-model": fms,
        "flex-context": fc,
    }
