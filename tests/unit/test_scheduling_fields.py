"""Flex-model / flex-context fields: value forms, units, defaults, inheritance, bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from flex_pipelines.scheduling.diagnostics import InfeasibleError
from flex_pipelines.scheduling.fields import UnitContext, field_series
from flex_pipelines.scheduling.flex_context import merge_flex_contexts
from flex_pipelines.scheduling.grid import SchedulingError, make_grid
from flex_pipelines.scheduling.storage import parse_problem_json, solve_problem_json

START = "2026-01-02T07:00+01:00"


def battery(**kw) -> dict:
    fm = {
        "name": "battery",
        "soc-at-start": "225 kWh",
        "soc-min": "50 kWh",
        "soc-max": "450 kWh",
        "power-capacity": "500 kW",
        "roundtrip-efficiency": "90%",
    }
    fm.update(kw)
    return fm


def problem(fm=None, fc=None, **kw) -> dict:
    p = {
        "start": START,
        "duration": "PT12H",
        "resolution": "PT15M",
        "flex-model": [fm or battery()],
        "flex-context": fc if fc is not None else {"consumption-price": "50 EUR/MWh"},
    }
    p.update(kw)
    return p


def test_value_forms_on_the_grid():
    g = make_grid("2026-01-01T00:00+00:00", "PT15M", duration="PT2H")
    ctx = UnitContext()
    assert np.allclose(field_series("x", "500 kW", g, "MW", ctx), 0.5)
    ranged = [
        {"start": "2026-01-01T00:30+00:00", "duration": "PT30M", "value": "1 MW"},
        {"start": "2026-01-01T00:00+00:00", "end": "2026-01-01T01:00+00:00", "value": "2 MW"},
    ]
    got = field_series("x", ranged, g, "MW", ctx, combine="min")
    assert np.allclose(got[:4], [2, 2, 1, 1]) and np.isnan(got[4:]).all()
    inline = {
        "start": "2026-01-01T00:00+00:00",
        "resolution": "PT1H",
        "unit": "EUR/kWh",
        "values": [0.1, 0.2],
    }
    assert np.allclose(field_series("p", inline, g, "CUR/MWh", ctx), [100] * 4 + [200] * 4)
    fine = {
        "start": "2026-01-01T00:00+00:00",
        "resolution": "PT5M",
        "unit": "kW",
        "values": list(range(24)),
    }
    assert np.allclose(field_series("x", fine, g, "kW", ctx)[:2], [1, 4])  # means of 3 values
    resolved = UnitContext(resolver=lambda sid, s, e, st=None: _raw(sid))
    assert np.allclose(field_series("x", {"sensor": 3}, g, "MW", resolved), 0.003)


def _raw(sid):
    from datetime import datetime, timedelta

    from flex_pipelines.scheduling.fields import RawSeries

    return RawSeries(
        datetime.fromisoformat("2026-01-01T00:00+00:00"),
        timedelta(hours=1),
        "kW",
        np.array([float(sid)] * 2),
    )


def test_soc_in_percent_equals_soc_in_kwh():
    a = solve_problem_json(problem(battery(**{"soc-at-start": "50%", "soc-min": "50 kWh"})))
    b = solve_problem_json(problem(battery(**{"soc-at-start": 0.225, "soc-unit": "MWh"})))
    c = solve_problem_json(problem(battery(**{"soc-at-start": 225, "soc-unit": "kWh"})))
    assert np.allclose(a.devices[0].soc_mwh, b.devices[0].soc_mwh)
    assert np.allclose(a.devices[0].soc_mwh, c.devices[0].soc_mwh)


def test_dst_days_have_92_and_100_quarter_hours():
    spring = parse_problem_json(
        problem(start="2026-03-29T00:00+01:00", duration="P1D", timezone="Europe/Amsterdam")
    )
    autumn = parse_problem_json(
        problem(start="2026-10-25T00:00+02:00", end="2026-10-26T00:00+01:00", duration=None) | {}
    )
    assert spring.n_steps == 92
    assert autumn.n_steps == 100
    r = solve_problem_json(
        problem(start="2026-10-25T00:00+02:00", duration="P1D", timezone="Europe/Amsterdam")
    )
    assert r.devices[0].power_mw.size == 100 and r.devices[0].soc_mwh.size == 101


@pytest.mark.parametrize("resolution,steps", [("PT5M", 144), ("PT1H", 12)])
def test_five_minute_and_hourly_resolutions(resolution, steps):
    prices = {
        "start": START,
        "resolution": "PT15M",
        "unit": "EUR/MWh",
        "values": [10.0] * 16 + [100.0] * 16 + [10.0] * 16,
    }
    r = solve_problem_json(problem(resolution=resolution, fc={"consumption-price": prices}))
    p = r.devices[0].power_mw
    assert p.size == steps
    hours = np.arange(steps) * (12 / steps)
    dear = (hours >= 4) & (hours < 8)
    assert (p[dear] <= 1e-9).all()  # sells (or idles) in the dear hours
    # fills up (225 → 450 kWh) while cheap, then sells down to soc-min (400 kWh of stock)
    assert -p[dear].sum() * 12 / steps == pytest.approx(0.4 * np.sqrt(0.9))
    assert r.devices[0].soc_mwh.max() == pytest.approx(0.45)


def test_production_price_defaults_to_consumption_price():
    a = solve_problem_json(problem(fc={"consumption-price": "50 EUR/MWh"}))
    b = solve_problem_json(
        problem(fc={"consumption-price": "50 EUR/MWh", "production-price": "50 EUR/MWh"})
    )
    assert a.objective == pytest.approx(b.objective)


def test_merge_flex_contexts_nearest_wins():
    request = {"consumption-price": {"sensor": 1}}
    asset = {"consumption-price": {"sensor": 2}, "site-power-capacity": "1 MW"}
    parent = {"site-power-capacity": "2 MW", "production-price": "10 EUR/MWh"}
    assert merge_flex_contexts([request, asset, parent]) == {
        "consumption-price": {"sensor": 1},
        "site-power-capacity": "1 MW",
        "production-price": "10 EUR/MWh",
    }
    assert merge_flex_contexts([None, {}, parent]) == parent


BAD = [
    (battery(**{"soc-maxx": "1 MWh"}), None, ["unknown field 'soc-maxx'", "1 MWh"]),
    (battery(**{"power-capacity": "500 kWh"}), None, ["power-capacity", "500 kWh", "MW"]),
    (battery(**{"soc-min": "500 kWh"}), None, ["soc-min 500 kWh", "above soc-max 450 kWh"]),
    (
        battery(**{"soc-targets": [{"datetime": "2026-01-02T10:00+01:00", "value": "500 kWh"}]}),
        None,
        ["soc-targets 500 kWh", "2026-01-02T10:00+01:00", "outside"],
    ),
    (battery(**{"roundtrip-efficiency": "120%"}), None, ["roundtrip-efficiency 120%", "(0, 100%]"]),
    (
        battery(**{"roundtrip-efficiency": None, "discharging-efficiency": "0%"}),
        None,
        ["discharging-efficiency 0%", START[:16]],
    ),
    (
        battery(**{"roundtrip-efficiency": None, "storage-efficiency": "101%"}),
        None,
        ["storage-efficiency 101%"],
    ),
    (
        battery(**{"soc-at-start": "50%", "soc-max": None, "soc-targets": None}),
        None,
        ["soc-max missing"],
    ),
    (battery(), {}, ["consumption-price missing", "without prices"]),
    (
        battery(),
        {
            "consumption-price": {
                "start": START,
                "resolution": "PT1H",
                "unit": "EUR/MWh",
                "values": [10] * 6,
            }
        },
        ["consumption-price has no value at 2026-01-02T13:00+01:00"],
    ),
    (
        battery(),
        {"consumption-price": "50 EUR/MWh", "site-power-capasity": "1 MW"},
        ["unknown field 'site-power-capasity'"],
    ),
    (battery(), {"consumption-price": "50 kW"}, ["consumption-price", "50 kW", "not a price"]),
    (
        battery(),
        {"consumption-price": "50 EUR/MWh", "production-price": "40 USD/MWh"},
        ["one currency"],
    ),
    (battery(**{"soc-minima": {"sensor": 4}}), None, ["soc-minima", "needs a belief store"]),
]


@pytest.mark.parametrize("fm,fc,fragments", BAD)
def test_bad_input_names_field_value_and_time(fm, fc, fragments):
    fm = {k: v for k, v in fm.items() if v is not None}
    with pytest.raises(SchedulingError) as info:
        solve_problem_json(problem(fm, fc))
    for frag in fragments:
        assert frag in str(info.value)


def test_charging_efficiency_may_exceed_100_percent():
    fm = battery(**{"charging-efficiency": "300%"})
    del fm["roundtrip-efficiency"]
    r = solve_problem_json(problem(fm))
    assert r.status == "optimal"


def test_unreachable_hard_target_names_the_bound():
    fm = battery(
        **{
            "soc-at-start": "75 kWh",
            "roundtrip-efficiency": "100%",
            "soc-targets": [{"datetime": "2026-01-02T07:30+01:00", "value": "400 kWh"}],
        }
    )
    fc = {"consumption-price": "50 EUR/MWh", "relax-constraints": False}
    with pytest.raises(InfeasibleError) as info:
        solve_problem_json(problem(fm, fc))
    assert str(info.value) == (
        "soc-targets 400 kWh at 2026-01-02T07:30+01:00 unreachable (device 'battery'): "
        "at most 325 kWh by then at 500 kW"
    )


def test_unreachable_soft_target_is_reported_not_raised():
    fm = battery(
        **{
            "soc-at-start": "75 kWh",
            "roundtrip-efficiency": "100%",
            "soc-targets": [{"datetime": "2026-01-02T07:30+01:00", "value": "400 kWh"}],
        }
    )
    r = solve_problem_json(problem(fm))  # relax-constraints defaults to true
    assert r.devices[0].soc_mwh[2] == pytest.approx(0.325)
    assert r.unmet and r.unmet[0]["field"] == "soc-targets"
    assert r.unmet[0]["required_mwh"] == pytest.approx(0.4)
    assert r.costs["soc minima breach[battery]"] > 0


def test_competing_devices_fall_back_to_solver_diagnosis():
    t = [{"datetime": "2026-01-02T07:15+01:00", "value": "0.125 MWh"}]
    a = {
        "name": "a",
        "soc-at-start": "0 MWh",
        "soc-max": "1 MWh",
        "power-capacity": "0.5 MW",
        "soc-targets": t,
    }
    b = dict(a, name="b")
    fc = {
        "consumption-price": "50 EUR/MWh",
        "site-power-capacity": "0.6 MW",
        "relax-constraints": False,
    }
    p = problem(a, fc)
    p["flex-model"] = [a, b]
    with pytest.raises(InfeasibleError) as info:
        solve_problem_json(p)
    assert "infeasible" in str(info.value) and "2026-01-02T07:" in str(info.value)


def test_target_beyond_soc_bounds_is_an_error_even_when_soft():
    fm = battery(**{"soc-minima": [{"start": START, "duration": "PT1H", "value": "460 kWh"}]})
    with pytest.raises(SchedulingError, match="soc-minima 460 kWh .* above soc-max 450 kWh"):
        solve_problem_json(problem(fm))


def test_deep_copy_of_problem_is_not_mutated():
    p = problem()
    before = copy.deepcopy(p)
    solve_problem_json(p)
    assert p == before
