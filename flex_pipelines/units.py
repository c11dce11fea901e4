"""Quantities and units at the edges of the system.

Units are spelled as in FlexMeasures ("MW", "kW", "kWh", "EUR/MWh", "%", "kVA", "°C", "W/m²").
Inside the library numbers carry no units; they are converted once, at the edge, to the unit of
the sensor or to the engine's base units (MW, MWh, EUR/MWh). Parsing and dimensional checks are
done by pint (a well-kept units library); the conversion itself is a single float factor so that
whole series convert with one numpy multiplication.

Power and energy are related through a duration (the event resolution):
``energy_mwh = power_mw * hours``. :func:`convert` accepts an optional ``resolution`` for that.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import numpy as np
import pint

from flex_pipelines.errors import FlexPipelinesError

__all__ = [
    "UnitError",
    "Quantity",
    "parse_quantity",
    "convert",
    "conversion_factor",
    "is_power_unit",
    "is_energy_unit",
    "is_price_unit",
    "is_dimensionless_unit",
    "units_compatible",
    "normalize_unit",
    "validate_unit",
]


class UnitError(FlexPipelinesError):
    """A unit that cannot be read, or two units that cannot be converted into each other."""


_ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
# Currencies are their own dimension; each currency is its own base unit (no exchange rates).
for _cur in ("EUR", "USD", "GBP", "KRW", "JPY", "CHF", "NOK", "SEK", "DKK", "PLN", "AUD", "CAD"):
    _ureg.define(f"{_cur} = [currency_{_cur}]")
# FlexMeasures' arbitrary unit for unitless sensors.
_ureg.define("a_u = [arbitrary] = a.u.")
# FlexMeasures writes ``kVA`` for power capacities and treats it as kW (unit power factor).
_ureg.define("VA_power = watt = VA_p")

_SUPERSCRIPTS = {"²": "**2", "³": "**3"}


def normalize_unit(unit: str) -> str:
    """Rewrite a FlexMeasures-style unit string into something pint parses.

    >>> normalize_unit("EUR/MWh")
    'EUR/MWh'
    """
    u = unit.strip()
    if u in ("", "a.u.", "dimensionless"):
        return "dimensionless" if u != "a.u." else "a_u"
    if u == "%":
        return "percent"
    for sup, rep in _SUPERSCRIPTS.items():
        u = u.replace(sup, rep)
    u = u.replace("°C", "degC").replace("°F", "degF")
    # kVA, MVA, VA → power (FlexMeasures convention: apparent power capacity counts as power).
    u = re.sub(r"(?<![A-Za-z])([kMG]?)VA(?![A-Za-z])", r"\1VA_power", u)
    return u


@lru_cache(maxsize=512)
def _unit(unit: str) -> pint.Unit:
    try:
        return _ureg.Unit(normalize_unit(unit))
    except Exception as exc:  # pint raises several error types
        raise UnitError(f"unknown unit {unit!r}") from exc


_POWER = _ureg.Unit("W").dimensionality
_ENERGY = _ureg.Unit("Wh").dimensionality


def validate_unit(unit: str) -> str:
    """Return the unit if it can be read, else raise :class:`UnitError` naming it."""
    _unit(unit)
    return unit


def is_power_unit(unit: str) -> bool:
    return _unit(unit).dimensionality == _POWER


def is_energy_unit(unit: str) -> bool:
    return _unit(unit).dimensionality == _ENERGY


def is_price_unit(unit: str) -> bool:
    """True for a currency per energy or per power unit (EUR/MWh, EUR/kW)."""
    dims = dict(_unit(unit).dimensionality)
    return any(k.startswith("[currency_") and v == 1 for k, v in dims.items())


def is_dimensionless_unit(unit: str) -> bool:
    return _unit(unit).dimensionless


@dataclass(frozen=True)
class Quantity:
    """A number with a unit, as written in a flex-model (``"500 kW"``, ``"90%"``)."""

    magnitude: float
    unit: str

    def to(self, unit: str, resolution: timedelta | None = None) -> float:
        return float(convert(self.magnitude, self.unit, unit, resolution=resolution))

    def __str__(self) -> str:
        return f"{self.magnitude:g} {self.unit}"


_QTY_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def parse_quantity(text: str | float | int, default_unit: str | None = None) -> Quantity:
    """Parse ``"500 kW"``, ``"90%"``, ``"-3.5 EUR/MWh"``; bare numbers take ``default_unit``."""
    if isinstance(text, bool):
        raise UnitError(f"not a quantity: {text!r}")
    if isinstance(text, int | float):
        if default_unit is None:
            raise UnitError(f"quantity {text!r} has no unit")
        if not math.isfinite(float(text)):
            raise UnitError(f"quantity {text!r} is not a finite number")
        return Quantity(float(text), default_unit)
    m = _QTY_RE.match(str(text))
    if not m:
        raise UnitError(
            f"cannot read quantity {text!r}: expected a number and a unit, e.g. '500 kW'"
        )
    magnitude = float(m.group(1))
    if not math.isfinite(magnitude):  # 1e309 overflows to inf
        raise UnitError(f"quantity {text!r} is not a finite number")
    unit = m.group(2) or default_unit
    if not unit:
        raise UnitError(f"quantity {text!r} has no unit")
    _unit(unit)  # validate
    return Quantity(magnitude, unit)


@lru_cache(maxsize=1024)
def _factor(from_unit: str, to_unit: str, hours: float | None) -> tuple[float, float]:
    """Return (scale, offset) so that ``to = from * scale + offset``."""
    if from_unit == to_unit:
        return 1.0, 0.0
    fu, tu = _unit(from_unit), _unit(to_unit)
    if fu.dimensionality == tu.dimensionality:
        q0 = _ureg.Quantity(0.0, fu).to(tu).magnitude
        q1 = _ureg.Quantity(1.0, fu).to(tu).magnitude
        return q1 - q0, q0
    if hours is not None:
        # energy per step <-> average power over the step
        if fu.dimensionality == _ENERGY and tu.dimensionality == _POWER:
            return _ureg.Quantity(1.0 / hours, fu / _ureg.hour).to(tu).magnitude, 0.0
        if fu.dimensionality == _POWER and tu.dimensionality == _ENERGY:
            return _ureg.Quantity(hours, fu * _ureg.hour).to(tu).magnitude, 0.0
    raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}: incompatible units")


def conversion_factor(from_unit: str, to_unit: str, resolution: timedelta | None = None) -> float:
    """Multiplicative factor from one unit to another (errors for offset units such as °C→°F)."""
    scale, offset = _factor(from_unit, to_unit, _hours(resolution))
    if offset != 0.0:
        raise UnitError(f"{from_unit!r} to {to_unit!r} is not a pure scaling")
    return scale


def _hours(resolution: timedelta | None) -> float | None:
    if resolution is None or resolution == timedelta(0):
        return None
    return resolution.total_seconds() / 3600.0


def units_compatible(from_unit: str, to_unit: str, resolution: timedelta | None = None) -> bool:
    try:
        _factor(from_unit, to_unit, _hours(resolution))
    except UnitError:
        return False
    return True


def convert(
    values: float | np.ndarray,
    from_unit: str,
    to_unit: str,
    resolution: timedelta | None = None,
) -> float | np.ndarray:
    """Convert a number or a numpy array from one unit to another.

    ``resolution`` allows energy-per-step ↔ average-power conversions (kWh per 15 min → kW).
    Incompatible units raise :class:`UnitError` naming both units.
    """
    scale, offset = _factor(from_unit, to_unit, _hours(resolution))
    if scale == 1.0 and offset == 0.0:
        return values
    return values * scale + offset
