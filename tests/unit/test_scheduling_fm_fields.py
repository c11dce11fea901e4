"""Each flex-model and flex-context field FlexMeasures 1.0 added (issue 15), with its effect on the
optimum (real HiGHS solves): commodity, coupling (a CHP), inflexible devices as flex-model
entries, the deprecated sensor-flex-model nesting, commodities and commodity in the
flex-context, commitment scopes (sensors, group, commodity), FlexMeasures' operation-mode form,
and the deprecated price-sensor fields with a note in the run record."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from flex_pipelines.scheduling.fields import RawSeries
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.storage import solve_problem_json

START = "2026-03-02T00:00+01:00"


def hourly(values, unit: str = "EUR/MWh") -> dict:
    return {
        "start": START,
        "resolution": "PT1H",
        "unit": unit,
        "values": [float(v) for v in values],
    }


def day(flex_model: list, flex_context: dict, hours: int = 4) -> dict:
    return {
        "start": START,
        "duration": f"PT{hours}H",
        "resolution": "PT1H",
        "flex-model": flex_model,
        "flex-context": flex_context,
    }


BATTERY = {
    "name": "battery",
    "sensor": 1,
    "soc-at-start": "1 MWh",
    "soc-min": "0 MWh",
    "soc-max": "2 MWh",
    "power-capacity": "1 MW",
    "prefer-charging-sooner": False,
}


def test_a_chp_makes_power_and_heat_from_one_gas_flow():
    """Gas in (1), electricity out (0.35), heat out (0.45) into a heat buffer: it runs in the
    dear hours, and every port follows the one gas flow."""
    ports = [
        {"name": "chp gas", "commodity": "gas", "coupling": "chp", "consumption-capacity": "2 MW"},
        {
            "name": "chp power",
            "coupling": "chp",
            "coupling-coefficient": 0.35,
            "production-capacity": "0.7 MW",
        },
        {
            "name": "chp heat",
            "commodity": "heat",
            "coupling": "chp",
            "coupling-coefficient": 0.45,
            "production-capacity": "0.9 MW",
        },
        {
            "name": "buffer",
            "commodity": "heat",
            "soc-at-start": "1 MWh",
            "soc-min": "0 MWh",
            "soc-max": "3 MWh",
            "consumption-capacity": "1 MW",
            "soc-usage": ["0.3 MW"],
            "prefer-charging-sooner": False,
        },
    ]
    fc = {
        "consumption-price": hourly([20, 200, 200, 20]),
        "production-price": hourly([10, 190, 190, 10]),
        "commodities": [
            {"commodity": "gas", "consumption-price": "40 EUR/MWh"},
            {"commodity": "heat"},
        ],
    }
    r = solve_problem_json(day(ports, fc))
    gas = r.device("chp gas").power_mw
    np.testing.assert_allclose(r.device("chp power").power_mw, -0.35 * gas, atol=1e-9)
    np.testing.assert_allclose(r.device("chp heat").power_mw, -0.45 * gas, atol=1e-9)
    assert gas[1:3].min() == pytest.approx(2.0)  # full power when power sells at 190
    assert gas[[0, 3]].max() < 2.0  # heat alone (40 / 0.45 = 89 EUR/MWh) is not worth it
    # gas: 40 EUR/MWh in; power: 190 EUR/MWh × 0.35 out, per MWh of gas at full power
    assert r.costs["gas"] == pytest.approx(40 * gas.sum())
    assert r.costs["electricity"] == pytest.approx(
        -190 * 0.35 * gas[1:3].sum() - 10 * 0.35 * gas[[0, 3]].sum()
    )
    # gas exported? no: a gas context with only a consumption price has no way back
    assert (r.commodity_power_mw["gas"] >= -1e-9).all()


def test_inflexible_production_entry_counts_on_the_site():
    """A flex-model entry with inflexible-production (e.g. PV the site cannot curtail) lowers
    the site's net power; the battery sees less room to import under the site limit."""
    pv = {"name": "pv", "sensor": 7, "inflexible-production": hourly([0, 0.5, 0.5, 0], "MW")}
    fc = {"consumption-price": hourly([10, 100, 100, 10]), "site-power-capacity": "1 MW"}
    r = solve_problem_json(day([BATTERY, pv], fc))
    without = solve_problem_json(day([BATTERY], fc))
    np.testing.assert_allclose(r.site_power_mw, r.device("battery").power_mw - [0, 0.5, 0.5, 0])
    # the PV's 0.5 MW leaves the battery 0.5 MW of the 1 MW connection at 100 EUR/MWh: it sells
    # its 1 MWh then (-100) and the PV 1 MWh (-100); alone it would buy 1 MWh at 10 and sell 2
    np.testing.assert_allclose(r.device("battery").power_mw[1:3], -0.5, atol=1e-9)
    assert r.costs["electricity"] == pytest.approx(-200)
    assert without.costs["electricity"] == pytest.approx(10 - 200)
    assert [d.name for d in r.devices] == ["battery"]  # measured, not scheduled
    with pytest.raises(SchedulingError, match="does not apply to an inflexible device"):
        solve_problem_json(day([BATTERY, {**pv, "soc-max": "1 MWh"}], fc))


def test_the_deprecated_sensor_flex_model_nesting_is_unwrapped_with_a_note():
    nested = {"sensor": 1, "sensor-flex-model": {k: v for k, v in BATTERY.items() if k != "sensor"}}
    fc = {"consumption-price": hourly([10, 100, 100, 10])}
    r, flat = solve_problem_json(day([nested], fc)), solve_problem_json(day([BATTERY], fc))
    np.testing.assert_allclose(r.devices[0].power_mw, flat.devices[0].power_mw)
    assert any("deprecated: flex-model field 'sensor-flex-model'" in n for n in r.notes)
    with pytest.raises(SchedulingError, match="given both inside and next to it"):
        solve_problem_json(day([{**nested, "soc-min": "0 MWh"}], fc))


def test_flex_context_commodity_is_electricity_and_commodities_add_sites():
    fc = {"consumption-price": hourly([10, 100, 100, 10]), "commodity": "electricity"}
    assert solve_problem_json(day([BATTERY], fc)).costs["electricity"] < 0
    with pytest.raises(SchedulingError, match="the top-level context is electricity's"):
        solve_problem_json(day([BATTERY], {**fc, "commodity": "gas"}))
    # an electricity entry in 'commodities' is electricity's context (FlexMeasures' rule)
    listed = {
        "commodities": [
            {"commodity": "electricity", "consumption-price": hourly([10, 100, 100, 10])}
        ]
    }
    r = solve_problem_json(day([BATTERY], listed))
    # smart defaults: only a consumption price given, so no export (production capacity 0,
    # soft at 10000 EUR/kW): the battery cannot sell its stock, unlike with the top-level form
    assert r.device("battery").power_mw.min() >= -1e-9
    assert solve_problem_json(day([BATTERY], fc)).device("battery").power_mw.min() < -0.5
    with pytest.raises(SchedulingError, match="'gas' is listed twice"):
        solve_problem_json(day([BATTERY], {**fc, "commodities": [{"commodity": "gas"}] * 2}))


def test_commitments_scoped_to_sensors_to_a_group_and_to_a_commodity():
    """A commitment on the battery alone (sensors), on a group, or on the gas site, instead of
    the electricity site's net power."""
    load = {"name": "load", "sensor": 9, "inflexible-consumption": hourly([0.5] * 4, "MW")}
    base = {"consumption-price": "50 EUR/MWh"}
    full = {**BATTERY, "soc-targets": [{"datetime": "2026-03-02T04:00+01:00", "value": "2 MWh"}]}
    # deviating above 0 MW costs 100 EUR/MWh: on the battery alone (sensors) that is its 1 MWh
    # of charging; on the site's net power the 0.5 MW load as well
    scoped = {
        **base,
        "commitments": [{"name": "battery only", "sensors": [1], "up-price": "100 EUR/MWh"}],
    }
    r = solve_problem_json(day([full, load], scoped))
    assert r.costs["battery only"] == pytest.approx(100 * 1.0)
    on_site = {**base, "commitments": [{"name": "site", "up-price": "100 EUR/MWh"}]}
    s = solve_problem_json(day([full, load], on_site))
    assert s.costs["site"] == pytest.approx(100 * (1.0 + 0.5 * 4))
    with pytest.raises(SchedulingError, match="sensor 3 is not the power sensor"):
        solve_problem_json(
            day(
                [BATTERY, load],
                {**base, "commitments": [{"name": "x", "sensors": [3], "up-price": "1 EUR/MWh"}]},
            )
        )
    with pytest.raises(SchedulingError, match="by 'sensors' or by 'group', not both"):
        solve_problem_json(
            day(
                [BATTERY, load],
                {
                    **base,
                    "commitments": [
                        {"name": "x", "sensors": [1], "group": "g", "up-price": "1 EUR/MWh"}
                    ],
                },
            )
        )
    # a group: the battery and the load under one inverter; deviating below -0.2 MW costs
    grouped = [
        {**BATTERY, "group": "inverter"},
        {**load, "group": "inverter"},
        {"name": "inverter", "power-capacity": "2 MW"},
    ]
    fc = {
        "consumption-price": hourly([10, 100, 100, 10]),
        "commitments": [
            {
                "name": "feed-in",
                "group": "inverter",
                "baseline": "-0.2 MW",
                "down-price": "-1000 EUR/MWh",
            }
        ],
    }
    g = solve_problem_json(day(grouped, fc))
    assert (g.group_power_mw["inverter"] >= -0.2 - 1e-6).all()
    assert (g.group_power_mw["inverter"].min()) == pytest.approx(-0.2, abs=1e-6)
    free = solve_problem_json(day(grouped, {k: v for k, v in fc.items() if k != "commitments"}))
    assert free.group_power_mw["inverter"].min() < -0.2
    # a commitment inside the gas context binds the gas site's net power
    boiler = {
        "name": "boiler",
        "commodity": "gas",
        "soc-at-start": "0 MWh",
        "soc-min": "0 MWh",
        "soc-max": "4 MWh",
        "consumption-capacity": "2 MW",
        "soc-targets": [{"datetime": "2026-03-02T04:00+01:00", "value": "4 MWh"}],
    }
    gas = {
        "commodity": "gas",
        "consumption-price": "30 EUR/MWh",
        "commitments": [{"name": "gas band", "baseline": "1 MW", "up-price": "500 EUR/MWh"}],
    }
    b = solve_problem_json(day([BATTERY, boiler], {**base, "commodities": [gas]}))
    np.testing.assert_allclose(b.device("boiler").power_mw, 1.0, atol=1e-6)  # flat at the band
    assert b.costs["gas band"] == pytest.approx(0.0, abs=1e-6)


def test_flexmeasures_operation_mode_form_equals_ours():
    """The reference case "operation modes (4 hourly steps)" in FlexMeasures' consumption-range
    form: {off, exactly 0.5} to 1.0 MWh costs 1.0; {off, 0.4..0.5} to 1.2 MWh costs 4.8."""

    def case(modes, target):
        fm = {
            "name": "d",
            "soc-at-start": "0 MWh",
            "soc-min": "0 MWh",
            "soc-max": "10 MWh",
            "consumption-capacity": "0.5 MW",
            "prefer-charging-sooner": False,
            "soc-targets": [{"datetime": "2026-03-02T04:00+01:00", "value": f"{target} MWh"}],
            "operation-modes": modes,
        }
        fc = {
            "consumption-price": hourly([10, 1, 10, 1]),
            "production-price": "0 EUR/MWh",
            "relax-constraints": False,
        }
        return solve_problem_json(day([fm], fc))

    off = {"consumption-range": ["0 kW", "0 kW"]}
    r = case([off, {"consumption-range": ["500 kW", "500 kW"]}], 1.0)
    assert r.devices[0].power_mw.tolist() == pytest.approx([0, 0.5, 0, 0.5])
    assert r.costs["total"] == pytest.approx(1.0)
    r = case([off, {"consumption-range": ["0.4 MW", "0.5 MW"]}], 1.2)
    assert sorted(r.devices[0].power_mw.tolist()) == pytest.approx([0, 0.4, 0.4, 0.4])
    assert r.costs["total"] == pytest.approx(4.8)
    ours = case([{"power": "0 kW"}, {"min": "0.4 MW", "max": "0.5 MW"}], 1.2)
    assert ours.costs["total"] == pytest.approx(4.8)
    with pytest.raises(SchedulingError, match="expected 0 <= min <= max"):
        case([{"production-range": ["1 MW", "0 MW"]}], 1.0)


def _resolver(series: dict[int, tuple[str, list[float]]]):
    def resolve(sensor_id: int, start: datetime, end: datetime, source_types=None) -> RawSeries:
        unit, values = series[sensor_id]
        return RawSeries(
            datetime.fromisoformat(START), timedelta(hours=1), unit, np.array(values, dtype=float)
        )

    return resolve


def test_deprecated_price_sensor_fields_are_read_with_a_note():
    resolver = _resolver({3: ("EUR/MWh", [10, 100, 100, 10]), 4: ("EUR/MWh", [5, 90, 90, 5])})
    old = {"consumption-price-sensor": 3, "production-price-sensor": 4}
    new = {"consumption-price": {"sensor": 3}, "production-price": {"sensor": 4}}
    r = solve_problem_json(day([BATTERY], old), resolver=resolver)
    m = solve_problem_json(day([BATTERY], new), resolver=resolver)
    assert r.costs["total"] == pytest.approx(m.costs["total"]) and r.costs["total"] < 0
    assert sum("deprecated: flex-context field" in n for n in r.notes) == 2 and not m.notes
    with pytest.raises(SchedulingError, match="not both"):
        solve_problem_json(day([BATTERY], {**old, **new}), resolver=resolver)


def test_deprecated_inflexible_device_sensors_get_a_note_and_cannot_mix():
    resolver = _resolver({5: ("MW", [0.5, 0.5, 0.5, 0.5])})
    fc = {"consumption-price": hourly([10, 100, 100, 10]), "inflexible-device-sensors": [5]}
    r = solve_problem_json(day([BATTERY], fc), resolver=resolver)
    assert any("'inflexible-device-sensors'" in n for n in r.notes)
    np.testing.assert_allclose(r.site_power_mw - r.device("battery").power_mw, 0.5)
    with pytest.raises(SchedulingError, match="cannot be mixed"):
        solve_problem_json(
            day([BATTERY], {**fc, "inflexible-consumption": ["1 MW"]}), resolver=resolver
        )


def test_a_deprecated_name_and_its_replacement_merge_as_one_field():
    """Nearest wins across the alias: a request's consumption-price-sensor replaces a stored
    consumption-price (the API passes deprecated names on so the run record notes them)."""
    from flex_pipelines.scheduling.flex_context import merge_flex_contexts

    merged = merge_flex_contexts(
        [{"consumption-price-sensor": 3}, {"consumption-price": "9 EUR/MWh", "x": 1}]
    )
    assert merged == {"consumption-price-sensor": 3, "x": 1}
    merged = merge_flex_contexts(
        [{"consumption-price": "9 EUR/MWh"}, {"consumption-price-sensor": 3}]
    )
    assert merged == {"consumption-price": "9 EUR/MWh"}
