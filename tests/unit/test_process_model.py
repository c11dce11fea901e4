"""Parsing process flex-models: FlexMeasures' field names, units, and messages for bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.process_model import (
    OptimizationSense,
    ProcessFlexModelError,
    ProcessType,
    TimeRestriction,
    parse_process_flex_model,
)


def test_full_flex_model_is_read_in_engine_units() -> None:
    fm = parse_process_flex_model(
        {
            "duration": "PT4H",
            "power": "200 kW",
            "process-type": "shiftable",
            "optimization-sense": "MAX",
            "time-restrictions": [
                {"start": "2026-11-26T15:00:00+01:00", "duration": "PT1H"},
                {"start": "2026-11-27T00:00:00+01:00", "end": "2026-11-27T06:00:00+01:00"},
            ],
        }
    )
    assert fm.duration == timedelta(hours=4)
    assert fm.power_mw == pytest.approx(0.2)
    assert fm.process_type is ProcessType.SHIFTABLE
    assert fm.optimization_sense is OptimizationSense.MAX
    assert fm.time_restrictions[0] == TimeRestriction(
        datetime(2026, 11, 26, 14, tzinfo=UTC), datetime(2026, 11, 26, 15, tzinfo=UTC)
    )
    assert fm.time_restrictions[1].duration == timedelta(hours=6)


def test_defaults_are_inflexible_min_and_no_restrictions() -> None:
    fm = parse_process_flex_model({"duration": "PT2H", "power": "1.5 MW"})
    assert fm.process_type is ProcessType.INFLEXIBLE
    assert fm.optimization_sense is OptimizationSense.MIN
    assert fm.time_restrictions == ()


def test_calendar_day_restriction_is_a_local_day_on_dst() -> None:
    fm = parse_process_flex_model(
        {
            "duration": "PT1H",
            "power": "1 kW",
            "time-restrictions": [{"start": "2026-03-29T00:00", "duration": "P1D"}],
        },
        timezone="Europe/Amsterdam",
    )
    r = fm.time_restrictions[0]
    assert r.start == datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert r.duration == timedelta(hours=23)


def test_bare_number_power_takes_the_default_unit_only_when_given() -> None:
    assert parse_process_flex_model(
        {"duration": "PT1H", "power": 200}, default_power_unit="kW"
    ).power_mw == pytest.approx(0.2)
    with pytest.raises(ProcessFlexModelError, match=r"'power' = 200: quantity 200 has no unit"):
        parse_process_flex_model({"duration": "PT1H", "power": 200})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"power": "200 kWh"},
            "'power' = '200 kWh': 'kWh' is an energy unit; give a power such as '200 kW'",
        ),
        (
            {"power": "-200 kW"},
            "'power' = '-200 kW': is negative (production), but this process may only consume",
        ),
        ({"power": "0 kW"}, "'power' = '0 kW': must not be zero"),
        ({"power": "200 EUR/MWh"}, "'power' = '200 EUR/MWh': 'EUR/MWh' is not a power unit"),
        ({"power": "lots"}, "'power' = 'lots': cannot read quantity"),
        ({"duration": "four hours"}, "'duration' = 'four hours': cannot read duration"),
        ({"duration": "PT0H"}, "'duration' = 'PT0H': must be longer than zero"),
        ({"duration": "P1M"}, "'duration' = 'P1M': a duration in months has no fixed length"),
        (
            {"process-type": "FLEXIBLE"},
            "'process-type' = 'FLEXIBLE': is not one of INFLEXIBLE, SHIFTABLE, BREAKABLE",
        ),
        ({"optimization-sense": "best"}, "'optimization-sense' = 'best': is not one of MIN, MAX"),
        ({"process_type": "SHIFTABLE"}, "'process_type' = 'SHIFTABLE': unknown field"),
        ({"time-restrictions": "15:00"}, "'time-restrictions' = '15:00': must be a list"),
    ],
)
def test_bad_fields_are_named_with_their_value(fields: dict, message: str) -> None:
    fm = {"duration": "PT4H", "power": "200 kW", **fields}
    with pytest.raises(ProcessFlexModelError) as exc:
        parse_process_flex_model(fm)
    assert message in str(exc.value)
    assert isinstance(exc.value, FlexPipelinesError)


def test_negative_power_is_allowed_for_a_producing_process() -> None:
    fm = parse_process_flex_model({"duration": "PT1H", "power": "-1 MW"}, allow_production=True)
    assert fm.power_mw == -1.0


@pytest.mark.parametrize(
    ("restriction", "message"),
    [
        (
            {"start": "2026-11-26T15:00", "duration": "PT1H"},
            "'time-restrictions[0].start' = '2026-11-26T15:00': timestamp 2026-11-26T15:00 has no UTC offset",
        ),
        (
            {"start": "2026-11-26T15:00Z"},
            "'time-restrictions[0]' = {'start': '2026-11-26T15:00Z'}: give exactly one of 'duration' and 'end'",
        ),
        (
            {"start": "2026-11-26T15:00Z", "duration": "soon"},
            "'time-restrictions[0].duration' = 'soon': cannot read duration",
        ),
        (
            {"start": "2026-11-26T15:00Z", "end": "2026-11-26T14:00Z"},
            "ends at 2026-11-26T14:00:00+00:00, not after its start 2026-11-26T15:00:00+00:00",
        ),
        (
            {"start": "2026-11-26T15:00Z", "duration": "PT1H", "until": "x"},
            "unknown key(s) ['until']",
        ),
    ],
)
def test_bad_time_restrictions_name_the_entry_and_time(restriction: dict, message: str) -> None:
    with pytest.raises(ProcessFlexModelError) as exc:
        parse_process_flex_model(
            {"duration": "PT1H", "power": "1 MW", "time-restrictions": [restriction]}
        )
    assert message in str(exc.value)


def test_missing_required_fields() -> None:
    with pytest.raises(ProcessFlexModelError, match="'duration' = None: is required"):
        parse_process_flex_model({"power": "1 MW"})
    with pytest.raises(ProcessFlexModelError, match="'power' = None: is required"):
        parse_process_flex_model({"duration": "PT1H"})


def test_a_stored_device_flex_model_may_name_its_sensor() -> None:
    fm = parse_process_flex_model({"sensor": 4, "duration": "PT4H", "power": "200 kW"})
    assert fm.power_mw == pytest.approx(0.2)
