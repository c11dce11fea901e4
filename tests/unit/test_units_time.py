"""Units at the edges and DST-safe time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from flex_pipelines.time import (
    TimeError,
    add_duration,
    daily_windows,
    day_window,
    format_duration,
    n_steps,
    parse_datetime,
    parse_duration,
    parse_timedelta,
    to_utc,
)
from flex_pipelines.units import (
    UnitError,
    convert,
    is_energy_unit,
    is_power_unit,
    is_price_unit,
    parse_quantity,
)

Q = timedelta(minutes=15)


@pytest.mark.parametrize(
    "value, src, dst, expected",
    [
        (1.0, "MW", "kW", 1000.0),
        (500.0, "kW", "MW", 0.5),
        (450.0, "kWh", "MWh", 0.45),
        (100.0, "EUR/MWh", "EUR/kWh", 0.1),
        (90.0, "%", "dimensionless", 0.9),
        (500.0, "kVA", "kW", 500.0),
        (1.0, "W/m²", "kW/m²", 0.001),
    ],
)
def test_convert(value, src, dst, expected):
    assert convert(value, src, dst) == pytest.approx(expected)


def test_power_energy_with_resolution_and_arrays():
    assert convert(1.0, "kWh", "kW", Q) == pytest.approx(4.0)
    np.testing.assert_allclose(
        convert(np.array([1.0, 2.0]), "MW", "MWh", timedelta(minutes=30)), [0.5, 1.0]
    )


@pytest.mark.parametrize(
    "src, dst", [("kW", "EUR/MWh"), ("EUR/MWh", "USD/MWh"), ("kWh", "kW"), ("%", "kW")]
)
def test_incompatible_units_are_errors(src, dst):
    with pytest.raises(UnitError, match=f"cannot convert '{src}' to '{dst}'"):
        convert(1.0, src, dst)


def test_quantities_and_unit_kinds():
    assert parse_quantity("500 kW").to("MW") == 0.5
    assert parse_quantity("90%").to("dimensionless") == pytest.approx(0.9)
    assert parse_quantity("-3.5 EUR/MWh").magnitude == -3.5
    assert is_power_unit("kVA") and is_energy_unit("kWh") and is_price_unit("EUR/MWh")
    assert not is_price_unit("kW")
    for bad in ("kW", "five kW", "1 flibbertigibbet"):
        with pytest.raises(UnitError):
            parse_quantity(bad)


@pytest.mark.parametrize(
    "day, hours", [(date(2024, 3, 31), 23), (date(2024, 10, 27), 25), (date(2024, 6, 1), 24)]
)
def test_dst_days_have_92_or_100_quarter_hours(day, hours):
    start, end = day_window(day, "Europe/Amsterdam")
    assert (end - start) == timedelta(hours=hours)
    assert n_steps(start, end, Q) == hours * 4
    # a calendar day added on the local wall clock
    local = parse_datetime(f"{day.isoformat()}T00:00:00", timezone="Europe/Amsterdam")
    assert to_utc(add_duration(local, "P1D")) - to_utc(local) == timedelta(hours=hours)
    assert add_duration(local, "P1D").hour == 0
    assert to_utc(add_duration(local, "PT24H")) - to_utc(local) == timedelta(hours=24)


def test_daily_windows_are_contiguous():
    w = daily_windows(date(2024, 3, 30), date(2024, 4, 1), "Europe/Amsterdam")
    assert len(w) == 3 and all(a[1] == b[0] for a, b in zip(w, w[1:], strict=False))
    with pytest.raises(TimeError, match="before its start"):
        daily_windows(date(2024, 4, 2), date(2024, 4, 1), "UTC")


def test_parse_datetime_requires_offset_or_timezone():
    assert parse_datetime("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_datetime("2024-01-01T01:00:00+01:00") == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(TimeError, match="no UTC offset"):
        parse_datetime("2024-01-01T00:00:00")
    with pytest.raises(TimeError, match="cannot read timestamp"):
        parse_datetime("yesterday")


@pytest.mark.parametrize(
    "text, td",
    [
        ("PT15M", Q),
        ("PT48H", timedelta(hours=48)),
        ("P1D", timedelta(days=1)),
        ("15min", Q),
        ("P1W", timedelta(days=7)),
        ("PT1H30M", timedelta(minutes=90)),
    ],
)
def test_durations(text, td):
    assert parse_timedelta(text) == td
    assert parse_timedelta(format_duration(td)) == td


def test_month_durations_are_calendar_aware():
    assert parse_duration("P1M").months == 1
    with pytest.raises(TimeError, match="months"):
        parse_timedelta("P1M")
    start = parse_datetime("2024-01-31T00:00:00+01:00")
    assert add_duration(start, "P1M").date() == date(2024, 2, 29)
    with pytest.raises(TimeError, match="cannot read duration"):
        parse_duration("soon")


def test_window_must_divide_into_steps():
    t = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(TimeError, match="not a whole number"):
        n_steps(t, t + timedelta(minutes=20), Q)
    with pytest.raises(TimeError, match="not after its start"):
        n_steps(t, t, Q)
