"""Processes as MILP devices (real HiGHS solves): cross-checks against the exact search, and
several processes under one site limit, where joint scheduling beats scheduling one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from flex_pipelines.scheduling.process import schedule_process
from flex_pipelines.scheduling.process_milp import (
    process_device,
    schedule_processes_sequentially,
    solve_processes,
)
from flex_pipelines.scheduling.process_model import ProcessInfeasibleError
from tests.helpers import TOY_PRICES_EUR_PER_MWH

HOUR = timedelta(hours=1)
START = datetime(2026, 11, 26, tzinfo=UTC)
TOY_PRICES = np.array(TOY_PRICES_EUR_PER_MWH)
FORBID = [{"start": "2026-11-26T15:00Z", "duration": "PT1H"}]


def fm(process_type: str, duration: str = "PT4H", power: str = "200 kW", **extra) -> dict:
    return {"duration": duration, "power": power, "process-type": process_type, **extra}


@pytest.mark.parametrize(
    ("process_type", "cost"), [("INFLEXIBLE", 9.60), ("SHIFTABLE", 5.40), ("BREAKABLE", 4.30)]
)
def test_one_process_milp_matches_the_exact_search_on_the_toy_day(process_type, cost) -> None:
    flex = fm(process_type, **{"time-restrictions": FORBID})
    device = process_device(flex, START, HOUR, 24, name="p")
    joint = solve_processes(TOY_PRICES, START, HOUR, [device])
    exact = schedule_process(TOY_PRICES, START, HOUR, flex)
    assert joint.cost_eur == pytest.approx(cost)
    assert np.allclose(joint.power_mw["p"], exact.power_mw)


@pytest.mark.parametrize("process_type", ["SHIFTABLE", "BREAKABLE"])
def test_milp_breaks_ties_towards_the_earliest_like_the_exact_search(process_type) -> None:
    rng = np.random.default_rng(11)
    prices = rng.integers(1, 6, 96).astype(float)  # many equal blocks and slots
    flex = fm(process_type, duration="PT5H", power="1 MW")
    joint = solve_processes(prices, START, HOUR, [process_device(flex, START, HOUR, 96, name="p")])
    exact = schedule_process(prices, START, HOUR, flex)
    assert joint.cost_eur == pytest.approx(exact.cost_eur)
    assert np.array_equal(joint.power_mw["p"], exact.power_mw)


def test_two_processes_under_one_limit_joint_beats_one_by_one() -> None:
    """One process at a time fits the 1 MW connection. Greedy: A takes the cheap hours 1–2 and
    leaves B only expensive ones. Jointly B takes hours 1–3 and A the next cheap pair."""
    prices = np.array([9, 1, 1, 1, 9, 2, 2] + [9] * 17, dtype=float)
    a = process_device(fm("SHIFTABLE", "PT2H", "1 MW"), START, HOUR, 24, name="A")
    b = process_device(fm("SHIFTABLE", "PT3H", "1 MW"), START, HOUR, 24, name="B")
    seq = schedule_processes_sequentially(
        prices, START, HOUR, [a, b], site_consumption_capacity_mw=1.0
    )
    joint = solve_processes(prices, START, HOUR, [a, b], site_consumption_capacity_mw=1.0)
    assert seq.cost_eur == pytest.approx(2 + 12)  # A 01–03, B 03–06 (1 + 9 + 2)
    assert joint.cost_eur == pytest.approx(3 + 4)  # B 01–04, A 05–07
    assert seq.cost_eur - joint.cost_eur == pytest.approx(7.0)
    assert np.flatnonzero(joint.power_mw["B"]).tolist() == [1, 2, 3]
    assert np.flatnonzero(joint.power_mw["A"]).tolist() == [5, 6]
    assert joint.site_power_mw().max() <= 1.0 + 1e-9
    # without the limit both take the cheapest hours and overlap
    free = solve_processes(prices, START, HOUR, [a, b])
    assert free.site_power_mw().max() == pytest.approx(2.0)


def test_breakable_and_inflexible_processes_share_room_with_an_inflexible_load() -> None:
    prices = np.array([5.0, 1, 1, 1, 1, 5, 5, 5])
    base = np.array([0.0, 0.5, 0.5, 0, 0, 0, 0, 0])  # other load at 01:00–03:00
    inflex = process_device(fm("INFLEXIBLE", "PT2H", "0.5 MW"), START, HOUR, 8, name="I")
    brk = process_device(fm("BREAKABLE", "PT3H", "1 MW"), START, HOUR, 8, name="B")
    joint = solve_processes(
        prices, START, HOUR, [inflex, brk], site_consumption_capacity_mw=1.0, inflexible_mw=base
    )
    assert joint.power_mw["I"].tolist() == [0.5, 0.5] + [0.0] * 6  # at once, whatever the price
    # hours 0–2 have only 0.5 MW left for the 1 MW process: B takes 3, 4 and the first 5-priced
    assert np.flatnonzero(joint.power_mw["B"]).tolist() == [3, 4, 5]


def test_earliest_start_and_latest_end() -> None:
    prices = np.array([1.0, 1, 9, 9, 3, 2, 9, 1])
    d = process_device(
        fm("SHIFTABLE", "PT2H", "1 MW"),
        START,
        HOUR,
        8,
        name="p",
        earliest_start=START + 2 * HOUR,
        latest_end=START + 7 * HOUR,
    )
    joint = solve_processes(prices, START, HOUR, [d])
    assert np.flatnonzero(joint.power_mw["p"]).tolist() == [4, 5]
    with pytest.raises(ProcessInfeasibleError, match="with earliest start / latest end"):
        process_device(fm("SHIFTABLE", "PT2H", "1 MW"), START, HOUR, 8, latest_end=START + HOUR)


def test_site_limit_too_low_is_an_error_naming_the_time() -> None:
    inflex = process_device(fm("INFLEXIBLE", "PT2H", "2 MW"), START, HOUR, 8, name="I")
    with pytest.raises(ProcessInfeasibleError, match=r"exceeded at 2026-11-26T00:00:00\+00:00"):
        solve_processes(np.ones(8), START, HOUR, [inflex], site_consumption_capacity_mw=1.0)
    a = process_device(fm("SHIFTABLE", "PT5H", "1 MW"), START, HOUR, 8, name="A")
    b = process_device(fm("SHIFTABLE", "PT4H", "1 MW"), START, HOUR, 8, name="B")
    with pytest.raises(ProcessInfeasibleError, match="cannot all run in the window"):
        solve_processes(np.ones(8), START, HOUR, [a, b], site_consumption_capacity_mw=1.0)
    with pytest.raises(
        ProcessInfeasibleError, match="room left under the site limit for process 'B'"
    ):
        schedule_processes_sequentially(
            np.ones(8), START, HOUR, [a, b], site_consumption_capacity_mw=1.0
        )
