"""``ramp-limit``: a flex-model field registered once (scheduling/extensions.py), reachable from
``flexpipe schedule solve``, ``flexpipe add schedule for-storage`` with a flex-model stored on
the asset, and ``solve`` (the API's door is in tests/api/test_scheduling_fields_api.py), with
the same optimum on the HiGHS and the pyomo path. Real HiGHS solves, a real DuckDB store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from flex_pipelines.scheduling.build_highs import formulate
from flex_pipelines.scheduling.dp import applicable
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.storage import parse_problem_json, solve, solve_problem_json
from tests.helpers import TOY_PRICES_EUR_PER_MWH, belief_frame

START = "2026-01-02T00:00+01:00"
PRICES = TOY_PRICES_EUR_PER_MWH


def battery(**extra) -> dict:
    return {
        "name": "battery",
        "soc-at-start": "225 kWh",
        "soc-min": "50 kWh",
        "soc-max": "450 kWh",
        "power-capacity": "500 kW",
        "roundtrip-efficiency": "90%",
        **extra,
    }


def problem(**extra) -> dict:
    prices = {"start": START, "resolution": "PT1H", "unit": "EUR/MWh", "values": PRICES}
    return {
        "start": START,
        "duration": "P1D",
        "resolution": "PT15M",
        "flex-model": [battery(**extra)],
        "flex-context": {"consumption-price": prices},
    }


def steps_kw(power_mw: np.ndarray) -> np.ndarray:
    return np.diff(np.asarray(power_mw) * 1000)


def test_ramp_limit_bounds_every_change_and_costs_something():
    free = solve_problem_json(problem())
    assert np.abs(steps_kw(free.devices[0].power_mw)).max() > 400  # bang-bang without it
    r = solve_problem_json(problem(**{"ramp-limit": "100 kW"}))
    assert np.abs(steps_kw(r.devices[0].power_mw)).max() <= 100 + 1e-6
    assert r.costs["total"] > free.costs["total"] + 1e-3
    assert r.method in ("lp", "milp")  # the DP declines, read from the rows' description
    p = parse_problem_json(problem(**{"ramp-limit": "100 kW"}))
    assert "ramp-limit up[battery]" in applicable(*formulate(p), p)
    assert "couples steps" in applicable(*formulate(p), p)
    pyomo = solve(p, "pyomo")
    assert pyomo.objective == pytest.approx(r.objective, rel=1e-7)
    np.testing.assert_allclose(pyomo.devices[0].power_mw, r.devices[0].power_mw, atol=1e-6)


def test_ramp_limit_up_and_down_apart_and_as_a_series():
    r = solve_problem_json(problem(**{"ramp-limit": {"up": "50 kW", "down": "500 kW"}}))
    d = steps_kw(r.devices[0].power_mw)
    assert d.max() <= 50 + 1e-6 and d.min() < -50  # slow up, fast down
    limits = [{"start": START, "duration": "PT12H", "value": "20 kW"}]
    r = solve_problem_json(problem(**{"ramp-limit": limits}))
    d = steps_kw(r.devices[0].power_mw)
    assert np.abs(d[:47]).max() <= 20 + 1e-6  # changes into steps 1..47 (before noon)
    with pytest.raises(SchedulingError, match="ramp-limit up -1 MW at .* must not be negative"):
        solve_problem_json(problem(**{"ramp-limit": "-1 MW"}))


def test_schedule_solve_cli_reads_ramp_limit(tmp_path):
    f = tmp_path / "problem.json"
    f.write_text(json.dumps(problem(**{"ramp-limit": "100 kW"})))
    res = CliRunner().invoke(app, ["schedule", "solve", str(f), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert np.abs(steps_kw(out["devices"][0]["power"]["values"])).max() <= 100 + 1e-6


def test_stored_flex_model_ramp_limit_through_the_cli(tmp_path):
    path = tmp_path / "site.duckdb"
    with open_store(path) as store:
        acc = store.add_account("a")
        price = store.add_sensor("prices", "EUR/MWh", timedelta(hours=1))
        site = store.add_asset(
            "building", "building", acc.id, flex_context={"consumption-price": {"sensor": price.id}}
        )
        bat = store.add_asset("battery", "battery", acc.id, parent_id=site.id)
        power = store.add_sensor("power", "kW", timedelta(minutes=15), asset_id=bat.id)
        store.update_asset(
            bat.id, flex_model={"sensor": power.id, **battery(), "ramp-limit": "100 kW"}
        )
        src = store.get_or_create_source("market", "market")
        day = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
        store.save_beliefs(
            belief_frame(price.id, src.id, PRICES, day, timedelta(hours=1), day - timedelta(days=1))
        )
    res = CliRunner().invoke(
        app,
        [
            "add",
            "schedule",
            "for-storage",
            "--asset",
            str(site.id),
            "--start",
            START,
            "--duration",
            "P1D",
            "--no-chart",
            "--db",
            str(path),
        ],
    )
    assert res.exit_code == 0, res.output
    with open_store(path) as store:
        saved = store.search_beliefs(power.id, source_types=["scheduler"]).sort("event_start")
    kw = saved["event_value"].to_numpy()
    assert kw.size == 96 and np.abs(np.diff(kw)).max() <= 100 + 1e-6
    assert np.abs(kw).max() > 100  # it does move, just not in jumps
