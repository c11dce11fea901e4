"""The units table reads energy units as pint does, without building pint's registry (issue
14: the CLI starts fast); other units still go to pint."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import timedelta

import pytest

from flex_pipelines import units
from flex_pipelines.units import (
    UnitError,
    _factor,
    _unit,
    convert,
    is_dimensionless_unit,
    is_energy_unit,
    is_power_unit,
    is_price_unit,
)

ATOMS = ["W", "kW", "MW", "GW", "mW", "kVA", "MVA", "Wh", "kWh", "MWh", "GWh", "TWh", "J", "kJ"]
ATOMS += ["h", "min", "s", "%", "dimensionless", "a.u.", "EUR", "USD", "KRW"]
FAST = ATOMS + [f"{c}/{e}" for c in ("EUR", "KRW") for e in ("MWh", "kWh", "kW", "MW", "h")]
FAST += ["kW/h", "kWh/h", "MWh/min", "%/h", "EUR/MWh/h"]


def _pint_dims(unit: str) -> dict[str, float]:
    return {k: v for k, v in dict(_unit(unit).dimensionality).items() if v}


def _pint_factor(a: str, b: str, hours: float | None) -> tuple[float, float]:
    units._fast.cache_clear()
    _factor.cache_clear()
    saved = units._fast
    units._fast = lambda unit: None  # type: ignore[assignment]  # force the pint path
    try:
        return _factor.__wrapped__(a, b, hours)
    finally:
        units._fast = saved  # type: ignore[assignment]
        _factor.cache_clear()


@pytest.mark.parametrize("unit", FAST)
def test_the_table_reads_every_unit_as_pint(unit: str) -> None:
    assert units._fast(unit) is not None
    dims = _pint_dims(unit)
    energy = {"[mass]": 1, "[length]": 2, "[time]": -2}
    assert is_power_unit(unit) == (dims == {**energy, "[time]": -3})
    assert is_energy_unit(unit) == (dims == energy)
    assert is_price_unit(unit) == any(
        k.startswith("[currency_") and v == 1 for k, v in dims.items()
    )
    assert is_dimensionless_unit(unit) == _unit(unit).dimensionless


@pytest.mark.parametrize(("a", "b"), list(itertools.permutations(ATOMS[:12], 2)))
@pytest.mark.parametrize("hours", [None, 0.25])
def test_conversion_factors_equal_pints(a: str, b: str, hours: float | None) -> None:
    try:
        expected = _pint_factor(a, b, hours)
    except UnitError:
        with pytest.raises(UnitError, match="incompatible units"):
            _factor(a, b, hours)
        return
    got = _factor(a, b, hours)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("a", "b"), [("EUR/MWh", "EUR/kWh"), ("KRW/kWh", "KRW/MWh"), ("%", "")])
def test_price_and_percent_conversions_equal_pints(a: str, b: str) -> None:
    assert _factor(a, b, None) == pytest.approx(_pint_factor(a, b, None), rel=1e-12)


def test_other_units_still_go_to_pint() -> None:
    assert units._fast("°C") is None and units._fast("W/m²") is None
    assert convert(20.0, "°C", "K") == pytest.approx(293.15)
    assert is_power_unit("W/m²") is False
    assert convert(1.0, "kWh", "kW", resolution=timedelta(minutes=15)) == pytest.approx(4.0)


def test_energy_units_need_no_pint_registry() -> None:
    """In a fresh process: reading and converting the usual units never imports pint."""
    code = (
        "import sys\n"
        "from flex_pipelines.units import convert, parse_quantity, is_price_unit\n"
        "q = parse_quantity('500 kW')\n"
        "assert convert(q.magnitude, q.unit, 'MW') == 0.5\n"
        "assert is_price_unit('EUR/MWh')\n"
        "print('pint' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
