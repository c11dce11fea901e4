"""The standalone process scheduler against FlexMeasures' published process cases and our rules.

Reference cases: ``reference/scheduling-cases.md`` ("Toy process", "Process scheduler rules").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.process import schedule_process
from flex_pipelines.scheduling.process_model import (
    OptimizationSense,
    ProcessFlexModelError,
    ProcessInfeasibleError,
    ProcessType,
)
from tests.helpers import TOY_PRICES_EUR_PER_MWH

AMS = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)

# The toy account's day-ahead prices (EUR/MWh), hourly, 00:00–23:00 local.
TOY_PRICES = TOY_PRICES_EUR_PER_MWH
TOY_DAY = datetime(2026, 11, 26, tzinfo=AMS)


def toy_flex_model(process_type: str) -> dict:
    return {
        "duration": "PT4H",
        "power": "200 kW",
        "process-type": process_type,
        "time-restrictions": [{"start": "2026-11-26T15:00:00+01:00", "duration": "PT1H"}],
    }


def hours_on(schedule) -> list[int]:
    return [i for i, p in enumerate(schedule.power_mw) if p != 0]


# --- Toy process (published costs) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("process_type", "cost_eur", "on_hours"),
    [
        ("INFLEXIBLE", 9.60, [0, 1, 2, 3]),  # starts at once: 10 + 11 + 12 + 15 EUR/MWh
        ("SHIFTABLE", 5.40, [11, 12, 13, 14]),  # 10 + 8 + 5 + 4, stops before 15:00
        ("BREAKABLE", 4.30, [13, 14, 16, 23]),  # 5 + 4 + 5.5 + 7 (the 4 at 15:00 is forbidden)
    ],
)
def test_toy_process_costs(process_type: str, cost_eur: float, on_hours: list[int]) -> None:
    s = schedule_process(TOY_PRICES, TOY_DAY, HOUR, toy_flex_model(process_type))
    assert s.cost_eur == pytest.approx(cost_eur, abs=1e-9)
    assert hours_on(s) == on_hours
    assert s.power_mw[on_hours] == pytest.approx([0.2] * 4)
    assert s.energy_mwh == pytest.approx(0.8)
    assert s.status == "optimal"
    assert s.process_type is ProcessType(process_type)
    assert s.block_starts[0] == TOY_DAY + on_hours[0] * HOUR


def test_toy_breakable_block_starts_are_each_run() -> None:
    s = schedule_process(TOY_PRICES, TOY_DAY, HOUR, toy_flex_model("BREAKABLE"))
    assert [t.hour for t in s.block_starts] == [13, 16, 23]


def test_toy_process_at_15_minutes_costs_the_same() -> None:
    """The same day with hourly prices repeated per quarter hour: the same blocks and costs."""
    prices = np.repeat(TOY_PRICES, 4)
    costs = {
        t: schedule_process(prices, TOY_DAY, QUARTER, toy_flex_model(t)).cost_eur
        for t in ("INFLEXIBLE", "SHIFTABLE", "BREAKABLE")
    }
    assert costs == pytest.approx({"INFLEXIBLE": 9.6, "SHIFTABLE": 5.4, "BREAKABLE": 4.3})


# --- Process scheduler rules (hourly, 24 steps, flat-valley prices) ----------------------------

RULE_PRICES = [100.0] * 8 + [90.0] * 8 + [100.0] * 8
RULE_DAY = datetime(2015, 1, 2, tzinfo=AMS)


def rule_model(process_type: str, forbid: list[tuple[int, int]] = (), duration: str = "PT4H"):
    return {
        "duration": duration,
        "power": "4 MW",
        "process-type": process_type,
        "time-restrictions": [
            {"start": (RULE_DAY + h * HOUR).isoformat(), "duration": f"PT{d}H"} for h, d in forbid
        ],
    }


def test_inflexible_runs_at_the_start() -> None:
    s = schedule_process(RULE_PRICES, RULE_DAY, HOUR, rule_model("INFLEXIBLE"))
    assert s.power_mw.tolist() == [4.0] * 4 + [0.0] * 20


def test_shiftable_takes_the_first_of_equally_cheap_blocks() -> None:
    s = schedule_process(RULE_PRICES, RULE_DAY, HOUR, rule_model("SHIFTABLE"))
    assert hours_on(s) == [8, 9, 10, 11]
    assert s.cost_eur == pytest.approx(4 * 4 * 90)


def test_shiftable_moves_past_a_restriction() -> None:
    s = schedule_process(RULE_PRICES, RULE_DAY, HOUR, rule_model("SHIFTABLE", [(8, 2)]))
    assert hours_on(s) == [10, 11, 12, 13]
    assert s.block_starts == (RULE_DAY + 10 * HOUR,)


def test_breakable_fills_the_allowed_cheap_hours() -> None:
    forbid = [(9, 1), (11, 1), (13, 1), (15, 1)]
    s = schedule_process(RULE_PRICES, RULE_DAY, HOUR, rule_model("BREAKABLE", forbid))
    assert s.power_mw.tolist() == [0.0] * 8 + [4.0, 0.0] * 4 + [0.0] * 8
    assert len(s.block_starts) == 4


@pytest.mark.parametrize("process_type", ["INFLEXIBLE", "SHIFTABLE", "BREAKABLE"])
def test_duration_longer_than_the_window_runs_everywhere(process_type: str) -> None:
    s = schedule_process(RULE_PRICES, RULE_DAY, HOUR, rule_model(process_type, duration="PT48H"))
    assert s.power_mw.tolist() == [4.0] * 24
    assert any("longer than the window" in n for n in s.notes)


def test_breakable_with_the_whole_day_forbidden_is_infeasible() -> None:
    with pytest.raises(ProcessInfeasibleError) as exc:
        schedule_process(RULE_PRICES, RULE_DAY, HOUR, rule_model("BREAKABLE", [(0, 24)]))
    msg = str(exc.value)
    assert "time-restrictions" in msg
    assert "2015-01-02T00:00:00+01:00–2015-01-03T00:00:00+01:00" in msg  # the window
    assert "'time-restrictions': only PT0S free in the window" in msg


@pytest.mark.parametrize("process_type", ["INFLEXIBLE", "SHIFTABLE"])
def test_block_that_fits_nowhere_is_infeasible(process_type: str) -> None:
    with pytest.raises(ProcessInfeasibleError) as exc:
        schedule_process(RULE_PRICES, RULE_DAY, HOUR, rule_model(process_type, [(3, 21)]))
    msg = str(exc.value)
    assert f"'time-restrictions': no start left for a PT4H {process_type} block" in msg
    assert "2015-01-02T00:00:00+01:00–2015-01-03T00:00:00+01:00" in msg
    # names the room that is left and the restriction that takes the rest
    assert "longest allowed stretch is PT3H from 2015-01-02T00:00:00+01:00" in msg
    assert "2015-01-02T03:00:00+01:00–2015-01-03T00:00:00+01:00" in msg


def test_duration_filling_the_window_with_a_restriction_is_infeasible() -> None:
    with pytest.raises(
        ProcessInfeasibleError,
        match=r"running at 2015-01-02T05:00:00\+01:00 is forbidden by process flex-model field 'time-restrictions'",
    ):
        schedule_process(
            RULE_PRICES, RULE_DAY, HOUR, rule_model("SHIFTABLE", [(5, 1)], duration="PT48H")
        )


# --- optimisation sense, ties, rounding, resolution, DST ----------------------------------------


def test_max_sense_picks_the_most_valuable_block_and_slots() -> None:
    prices = [1.0, 5, 5, 1, 9, 1, 9, 9, 1, 1]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    shift = schedule_process(
        prices,
        start,
        HOUR,
        {
            "duration": "PT2H",
            "power": "1 MW",
            "process-type": "SHIFTABLE",
            "optimization-sense": "MAX",
        },
    )
    assert hours_on(shift) == [6, 7]
    assert shift.optimization_sense is OptimizationSense.MAX
    brk = schedule_process(
        prices,
        start,
        HOUR,
        {
            "duration": "PT3H",
            "power": "1 MW",
            "process-type": "BREAKABLE",
            "optimization-sense": "max",
        },
    )
    assert hours_on(brk) == [4, 6, 7]
    assert brk.cost_eur == pytest.approx(27.0)


def test_breakable_ties_go_to_the_earliest_slots() -> None:
    prices = [3.0, 1, 2, 1, 1, 2, 1]
    s = schedule_process(
        prices,
        datetime(2026, 1, 1, tzinfo=UTC),
        HOUR,
        {"duration": "PT3H", "power": "1 MW", "process-type": "BREAKABLE"},
    )
    assert hours_on(s) == [1, 3, 4]


def test_shiftable_ties_survive_float_rounding_on_a_long_window() -> None:
    """Equal blocks of awkward floats: rolling sums differ in the last bits, still earliest."""
    prices = np.full(35_040, 0.1 + 0.2)
    prices[:1000] = 1e3  # expensive start so cumsum magnitudes grow before the flat part
    s = schedule_process(
        prices,
        datetime(2026, 1, 1, tzinfo=UTC),
        QUARTER,
        {"duration": "PT4H", "power": "1 MW", "process-type": "SHIFTABLE"},
    )
    assert hours_on(s)[0] == 1000


def test_duration_not_a_whole_number_of_steps_is_rounded_up_and_noted() -> None:
    fm = {"duration": "PT50M", "power": "1 MW", "process-type": "SHIFTABLE"}
    s = schedule_process([5.0, 1, 1, 1, 1, 5], datetime(2026, 1, 1, tzinfo=UTC), QUARTER, fm)
    assert s.n_steps_on == 4
    assert s.energy_mwh == pytest.approx(1.0)
    assert s.notes == ("duration PT50M rounded up to 4 × PT15M = PT1H",)


def test_duration_not_a_whole_number_of_steps_can_be_refused() -> None:
    fm = {"duration": "PT50M", "power": "1 MW"}
    with pytest.raises(ProcessFlexModelError) as exc:
        schedule_process(
            [1.0] * 8, datetime(2026, 1, 1, tzinfo=UTC), QUARTER, fm, duration_rounding="refuse"
        )
    assert "'duration' = 'PT50M'" in str(exc.value)
    assert "not a whole number of PT15M steps" in str(exc.value)


def test_a_restriction_blocks_every_step_it_touches() -> None:
    """15:05–15:20 touches the 15:00 and 15:15 quarter hours: neither may be used."""
    prices = [1.0] * 8
    start = datetime(2026, 1, 1, 14, 30, tzinfo=UTC)
    fm = {
        "duration": "PT1H15M",
        "power": "1 MW",
        "process-type": "BREAKABLE",
        "time-restrictions": [{"start": "2026-01-01T15:05Z", "end": "2026-01-01T15:20Z"}],
    }
    s = schedule_process(prices, start, QUARTER, fm)
    assert hours_on(s) == [0, 1, 4, 5, 6]


def test_dst_day_has_92_quarter_hours_and_local_restrictions_land_right() -> None:
    """29 March 2026 in Amsterdam is 23 hours long; 15:00 local is then UTC+2."""
    start = datetime(2026, 3, 29, tzinfo=AMS)
    n = 92
    prices = np.full(n, 50.0)
    # cheapest hour: 14:00–15:00 local = 12:00–13:00 UTC = steps 48..51 since 23:00 UTC
    utc_start = start.astimezone(UTC)
    cheap = int((datetime(2026, 3, 29, 12, tzinfo=UTC) - utc_start) / QUARTER)
    prices[cheap : cheap + 4] = 10.0
    prices[cheap + 4 : cheap + 8] = 5.0  # 15:00–16:00 local is cheaper still, but forbidden
    fm = {
        "duration": "PT1H",
        "power": "200 kW",
        "process-type": "SHIFTABLE",
        "time-restrictions": [{"start": "2026-03-29T15:00:00", "duration": "PT1H"}],
    }
    s = schedule_process(prices, start, QUARTER, fm, timezone="Europe/Amsterdam")
    assert s.n_steps == n
    assert s.end == datetime(2026, 3, 30, tzinfo=AMS)
    assert s.block_starts[0] == datetime(2026, 3, 29, 14, tzinfo=AMS)
    assert s.cost_eur == pytest.approx(0.2 * 10.0)
    # the INFLEXIBLE run starts at local midnight, before the clock jump, and crosses it
    infl_fm = dict(fm, **{"process-type": "INFLEXIBLE", "duration": "PT3H"})
    infl = schedule_process(prices, start, QUARTER, infl_fm, timezone="Europe/Amsterdam")
    assert infl.block_starts[0] == start
    assert hours_on(infl) == list(range(12))
    steps = infl.event_starts()
    assert (steps[7].hour, steps[7].minute, steps[8].hour) == (1, 45, 3)  # 02:00 is skipped


def test_year_of_quarter_hours_breakable_matches_a_full_sort() -> None:
    rng = np.random.default_rng(6)
    prices = np.round(rng.normal(80, 30, 35_040), 0)  # many ties
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fm = {
        "duration": "PT100H",
        "power": "2 MW",
        "process-type": "BREAKABLE",
        "time-restrictions": [{"start": "2026-02-01T00:00Z", "duration": "P7D"}],
    }
    s = schedule_process(prices, start, QUARTER, fm)
    key = prices.copy()
    key[31 * 96 : 38 * 96] = np.inf
    expected = np.sort(np.argsort(key, kind="stable")[:400])
    assert np.array_equal(np.flatnonzero(s.power_mw), expected)


def test_year_of_quarter_hours_shiftable_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    prices = rng.normal(80, 30, 35_040)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    s = schedule_process(
        prices, start, QUARTER, {"duration": "PT6H", "power": "1 MW", "process-type": "SHIFTABLE"}
    )
    sums = np.lib.stride_tricks.sliding_window_view(prices, 24).sum(axis=1)
    assert int(np.flatnonzero(s.power_mw)[0]) == int(np.argmin(sums))
    assert s.cost_eur == pytest.approx(sums.min() * 0.25)


# --- bad input --------------------------------------------------------------------------------


def test_missing_price_names_the_time() -> None:
    prices = [1.0, 2.0, float("nan"), 4.0]
    with pytest.raises(FlexPipelinesError) as exc:
        schedule_process(
            prices, datetime(2026, 1, 1, tzinfo=UTC), HOUR, {"duration": "PT1H", "power": "1 MW"}
        )
    assert "consumption-price is missing (nan) at 2026-01-01T02:00:00+00:00" in str(exc.value)


def test_naive_start_is_refused() -> None:
    with pytest.raises(FlexPipelinesError, match="no UTC offset"):
        schedule_process([1.0], datetime(2026, 1, 1), HOUR, {"duration": "PT1H", "power": "1 MW"})


def test_a_producing_process_minimises_cost_by_selling_at_the_highest_prices() -> None:
    fm = {"duration": "PT2H", "power": "-1 MW", "process-type": "BREAKABLE"}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ProcessFlexModelError, match="negative"):
        schedule_process([1.0, 9, 3, 8], start, HOUR, fm)
    s = schedule_process([1.0, 9, 3, 8], start, HOUR, fm, allow_production=True)
    assert s.power_mw.tolist() == [0.0, -1.0, 0.0, -1.0]
    assert s.cost_eur == pytest.approx(-17.0)
