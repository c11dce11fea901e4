"""Processes scheduled jointly with storage under one grid limit (real HiGHS solves): the
joint optimum against sequential and fixed-start schedules, several processes, bad entries, the
pyomo build, the CLI and the time grid. A site with a battery and a process on a real DuckDB
file is in ``test_joint_scheduling_store.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

from flex_pipelines.cli.main import app
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.joint import schedule_sequentially
from flex_pipelines.scheduling.process_milp import solve_processes
from flex_pipelines.scheduling.storage import parse_problem_json, solve, solve_problem_json
from tests.helpers import TOY_PRICES_EUR_PER_MWH

T0 = "2026-11-26T00:00+00:00"
BATTERY = {
    "name": "battery",
    "soc-at-start": "0 MWh",
    "soc-min": "0 MWh",
    "soc-max": "1 MWh",
    "power-capacity": "1 MW",
    "roundtrip-efficiency": "90%",
}
TOY = TOY_PRICES_EUR_PER_MWH


def _problem(prices, devices, duration, cap="1 MW", resolution="PT1H", **extra) -> dict:
    series = {"start": T0, "resolution": "PT1H", "unit": "EUR/MWh", "values": prices}
    fc = {"consumption-price": series, "production-price": series, "site-power-capacity": cap}
    return {
        "start": T0,
        "duration": duration,
        "resolution": resolution,
        "flex-model": devices,
        "flex-context": {**fc, **extra},
    }


def _strict_case() -> dict:
    """The battery must charge in the two cheap hours to sell at 100 EUR/MWh; a process placed
    first takes exactly those hours (the cheapest) and fills the 1 MW connection."""
    proc = {"name": "P", "duration": "PT2H", "power": "1 MW", "process-type": "SHIFTABLE"}
    return _problem([1, 1, 100, 2, 2, 2], [BATTERY, proc], "PT6H")


def test_joint_optimum_is_strictly_cheaper_than_process_first_then_battery():
    p = parse_problem_json(_strict_case())
    joint = solve(p)
    seq = schedule_sequentially(p)
    # sequential: the process takes 00-02 at 1 EUR/MWh (2 EUR) and leaves the battery no room
    assert seq.device("P").power_mw.tolist() == [1, 1, 0, 0, 0, 0]
    assert seq.costs["total"] == pytest.approx(2.0, abs=1e-6)
    # joint: the process moves to 04-06 (4 EUR); the battery buys 1/0.9487 MWh at 1 EUR/MWh and
    # sells 0.9487 MWh at 100 EUR/MWh: 1.0541 - 94.868 + 4 = -89.814 EUR
    eta = np.sqrt(0.9)
    assert joint.device("P").power_mw.tolist() == [0, 0, 0, 0, 1, 1]
    assert joint.device("P").starts == ["2026-11-26T04:00:00+00:00"]
    assert joint.costs["total"] == pytest.approx(1 / eta - 100 * eta + 4, abs=1e-4)
    assert seq.costs["total"] - joint.costs["total"] == pytest.approx(91.814, abs=1e-3)
    assert np.all(joint.site_power_mw <= 1 + 1e-6)


def test_joint_optimum_equals_the_best_fixed_process_start():
    """Brute force: fix the process at every start, schedule the battery around it."""
    data = _problem(
        TOY[:12],
        [
            BATTERY,
            {"name": "P", "duration": "PT3H", "power": "0.8 MW", "process-type": "SHIFTABLE"},
        ],
        "PT12H",
        cap="1.2 MW",
    )
    joint = solve_problem_json(data)
    best = np.inf
    for s in range(12 - 3 + 1):
        fixed = [0.0] * 12
        fixed[s : s + 3] = [0.8] * 3
        other = {"start": T0, "resolution": "PT1H", "unit": "MW", "values": fixed}
        d = _problem(
            TOY[:12], [BATTERY], "PT12H", cap="1.2 MW", **{"inflexible-consumption": other}
        )
        try:
            best = min(best, solve_problem_json(d).costs["total"])
        except FlexPipelinesError:
            continue
    assert joint.costs["total"] == pytest.approx(best, abs=1e-6)


def test_several_processes_share_the_site_limit_with_earliest_start_and_latest_end():
    procs = [
        {"name": "A", "duration": "PT3H", "power": "1 MW", "process-type": "SHIFTABLE"},
        {
            "name": "B",
            "duration": "PT2H",
            "power": "1 MW",
            "process-type": "SHIFTABLE",
            "earliest-start": "2026-11-26T12:00+00:00",
        },
        {
            "name": "C",
            "duration": "PT4H",
            "power": "0.5 MW",
            "process-type": "BREAKABLE",
            "latest-end": "2026-11-26T10:00+00:00",
        },
    ]
    r = solve_problem_json(_problem(TOY, procs, "P1D", cap="1 MW"))
    a, b, c = (r.device(n).power_mw for n in "ABC")
    assert np.count_nonzero(a) == 3 and np.count_nonzero(b) == 2 and np.count_nonzero(c) == 4
    assert not b[:12].any() and not c[10:].any()
    assert np.all(a + b + c <= 1 + 1e-9)  # never two at once above 1 MW
    # the same as the dedicated process MILP (process_milp.solve_processes) on these devices
    p = parse_problem_json(_problem(TOY, procs, "P1D", cap="1 MW"))
    ref = solve_processes(
        np.asarray(TOY, float),
        p.grid.start,
        p.grid.resolution,
        p.processes,
        site_consumption_capacity_mw=1.0,
    )
    assert r.costs["total"] == pytest.approx(ref.cost_eur, abs=1e-6)
    # A and B both want the cheapest hours 13-16 but cannot overlap under 1 MW
    assert r.device("A").starts and r.device("B").starts
    assert len(r.device("C").starts) >= 1


def test_max_optimization_sense_in_the_joint_solve_runs_where_prices_are_highest():
    """MAX: the process's placement maximises its energy value at the consumption price (as on
    its own), the battery minimises the site's cost around it. Checked against every start:
    each solved with the process as fixed load, objective = site cost - 2 × process value."""
    proc = {
        "name": "P",
        "duration": "PT2H",
        "power": "1 MW",
        "process-type": "SHIFTABLE",
        "optimization-sense": "MAX",
    }
    prices = [1, 1, 100, 2, 2, 2]
    data = _problem(prices, [BATTERY, proc], "PT6H", cap="2 MW")
    r = solve_problem_json(data)
    best = None
    for start in range(5):
        load = np.zeros(6)
        load[start : start + 2] = 1.0
        fixed = _problem(
            prices,
            [BATTERY],
            "PT6H",
            cap="2 MW",
            **{
                "inflexible-consumption": [
                    {"start": T0, "resolution": "PT1H", "unit": "MW", "values": load.tolist()}
                ]
            },
        )
        value = float(np.dot(prices, load))
        total = solve_problem_json(fixed).costs["total"] - 2 * value
        best = total if best is None else min(best, total)
    assert r.device("P").starts == ["2026-11-26T02:00:00+00:00"]  # 100 + 2: the dearest block
    assert r.costs["prefer high prices[P]"] == pytest.approx(-2 * 102)
    assert r.costs["total"] - 2 * 102 == pytest.approx(best, abs=1e-6)
    assert r.objective == pytest.approx(best, abs=1e-2)  # + the tiny charge-sooner tie-breaker
    assert solve_problem_json(data, backend="pyomo").objective == pytest.approx(r.objective)


def test_a_bare_number_process_power_is_read_in_mw_in_a_stateless_problem():
    data = _strict_case()
    data["flex-model"][1]["power"] = 1
    r = solve_problem_json(data)
    assert r.device("P").power_mw.tolist() == [0, 0, 0, 0, 1, 1]
    assert any("power 1 has no unit; read in MW" in n for n in r.notes)


def test_inflexible_process_is_fixed_load_at_the_first_allowed_time():
    proc = {
        "name": "P",
        "duration": "PT2H",
        "power": "0.5 MW",
        "process-type": "INFLEXIBLE",
        "time-restrictions": [{"start": T0, "duration": "PT1H"}],
    }
    r = solve_problem_json(_problem([1, 1, 100, 2, 2, 2], [BATTERY, proc], "PT6H"))
    assert r.device("P").power_mw.tolist() == [0, 0.5, 0.5, 0, 0, 0]
    assert r.device("P").starts == ["2026-11-26T01:00:00+00:00"]
    # the battery may only import the 0.5 MW left at 01:00 under the 1 MW limit
    assert np.all(r.site_power_mw <= 1 + 1e-6)
    assert r.device("battery").power_mw[1] <= 0.5 + 1e-6
    assert r.binaries == 0  # no process columns, no pair binaries


def test_process_filling_the_window_and_breakable_slots():
    procs = [
        {"name": "all", "duration": "PT6H", "power": "0.2 MW", "process-type": "SHIFTABLE"},
        {"name": "slots", "duration": "PT2H", "power": "0.3 MW", "process-type": "BREAKABLE"},
    ]
    r = solve_problem_json(_problem([5, 1, 9, 2, 8, 7], procs, "PT6H"))
    assert r.device("all").power_mw.tolist() == [0.2] * 6
    assert r.device("slots").power_mw.tolist() == [0, 0.3, 0, 0.3, 0, 0]
    assert r.device("slots").starts == ["2026-11-26T01:00:00+00:00", "2026-11-26T03:00:00+00:00"]
    assert r.costs["total"] == pytest.approx(0.2 * 32 + 0.3 * 3, abs=1e-9)


def test_bad_process_entries_name_field_value_and_window():
    late = {
        "name": "P",
        "duration": "PT2H",
        "power": "1 MW",
        "process-type": "SHIFTABLE",
        "earliest-start": "2026-11-26T05:00+00:00",
    }
    with pytest.raises(FlexPipelinesError, match="time-restrictions"):
        solve_problem_json(_problem([1, 1, 100, 2, 2, 2], [BATTERY, late], "PT6H"))
    order = {
        **late,
        "earliest-start": "2026-11-26T03:00+00:00",
        "latest-end": "2026-11-26T02:00+00:00",
    }
    with pytest.raises(SchedulingError, match="'latest-end' = '2026-11-26T02:00"):
        solve_problem_json(_problem([1, 1, 100, 2, 2, 2], [BATTERY, order], "PT6H"))
    energy = {"name": "P", "duration": "PT2H", "power": "1 MWh", "process-type": "SHIFTABLE"}
    with pytest.raises(FlexPipelinesError, match="'power'"):
        solve_problem_json(_problem([1, 1, 100, 2, 2, 2], [BATTERY, energy], "PT6H"))
    twice = {"name": "battery", "duration": "PT2H", "power": "1 MW", "process-type": "SHIFTABLE"}
    with pytest.raises(SchedulingError, match="'battery' is used twice"):
        solve_problem_json(_problem([1, 1, 100, 2, 2, 2], [BATTERY, twice], "PT6H"))


def test_a_process_that_cannot_fit_under_the_site_limit_is_named():
    big = {"name": "P", "duration": "PT2H", "power": "2 MW", "process-type": "SHIFTABLE"}
    msg = (
        "process 'P': flex-model field 'power' = 2 MW does not fit under the "
        "site-power-capacity \\(1 MW, with the other load\\) for 2 step\\(s\\) in its allowed "
        "window from 2026-11-26T00:00\\+00:00 to 2026-11-26T06:00\\+00:00"
    )
    with pytest.raises(SchedulingError, match=msg):
        solve_problem_json(_problem([1, 1, 100, 2, 2, 2], [big], "PT6H"))
    fixed = {**big, "process-type": "INFLEXIBLE"}
    with pytest.raises(
        SchedulingError,
        match="site-power-capacity 1 MW is exceeded at "
        "2026-11-26T00:00\\+00:00 by the inflexible load and the INFLEXIBLE",
    ):
        solve_problem_json(_problem([1, 1, 100, 2, 2, 2], [fixed], "PT6H"))


def test_pyomo_build_gives_the_same_joint_optimum():
    procs = [
        {"name": "A", "duration": "PT3H", "power": "1 MW", "process-type": "SHIFTABLE"},
        {
            "name": "C",
            "duration": "PT4H",
            "power": "0.5 MW",
            "process-type": "BREAKABLE",
            "latest-end": "2026-11-26T10:00+00:00",
        },
        {"name": "I", "duration": "PT1H", "power": "0.1 MW", "process-type": "INFLEXIBLE"},
    ]
    data = _problem(TOY, [BATTERY, *procs], "P1D", cap="1.2 MW")
    highs, pyomo = solve_problem_json(data), solve_problem_json(data, backend="pyomo")
    assert pyomo.backend == "pyomo"
    assert pyomo.costs["total"] == pytest.approx(highs.costs["total"], abs=1e-6)
    assert [d.name for d in pyomo.devices] == ["battery", "A", "C", "I"]
    assert pyomo.device("I").power_mw[0] == pytest.approx(0.1)
    assert np.count_nonzero(pyomo.device("C").power_mw[:10]) == 4
    strict = solve_problem_json(_strict_case(), backend="pyomo")
    assert strict.costs["total"] == pytest.approx(-89.814, abs=1e-3)
    assert strict.device("P").starts == ["2026-11-26T04:00:00+00:00"]


def test_cli_schedule_solve_with_a_process_device(tmp_path):
    f = tmp_path / "joint.json"
    f.write_text(json.dumps(_strict_case()))
    res = CliRunner().invoke(app, ["schedule", "solve", str(f), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    devs = {d["name"]: d for d in out["devices"]}
    assert devs["P"]["power"]["values"] == [0, 0, 0, 0, 1, 1]
    assert devs["P"]["soc"] is None and devs["P"]["starts"] == ["2026-11-26T04:00:00+00:00"]
    assert "starts" not in devs["battery"] and len(devs["battery"]["soc"]["values"]) == 7
    assert out["costs"]["total"] == pytest.approx(-89.814, abs=1e-3)
    table = CliRunner().invoke(app, ["schedule", "solve", str(f), "--no-chart"])
    assert table.exit_code == 0, table.output


def test_time_grid_adds_elapsed_time_across_dst():
    ams = ZoneInfo("Europe/Amsterdam")
    g = TimeGrid(datetime(2026, 3, 29, tzinfo=ams), timedelta(minutes=15), 92)  # 23-hour day
    assert g.end == datetime(2026, 3, 30, tzinfo=ams)
    assert g.time_at_step(8).isoformat() == "2026-03-29T03:00:00+02:00"  # 02:00 does not exist
    assert g.time_at_instant(92) == g.end
    fixed = TimeGrid(datetime.fromisoformat("2026-03-29T00:00+01:00"), timedelta(hours=1), 24)
    assert fixed.end.isoformat() == "2026-03-30T00:00:00+01:00"
    assert fixed.time_at_step(3).isoformat() == "2026-03-29T03:00:00+01:00"
