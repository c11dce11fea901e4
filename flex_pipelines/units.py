"""Quantities and units at the edges of the system.

Units are spelled as in FlexMeasures ("MW", "kW", "kWh", "EUR/MWh", "%", "kVA", "°C", "W/m²").
Inside the library numbers carry no units; they are converted once, at the edge, to the unit of
the sensor or to the engine's base units (MW, MWh, EUR/MWh). Parsing and dimensional checks are
done by pint (a well-kept units library); the conversion itself is a single float factor so that
whole series convert with one numpy multiplication.

Power and energy are related through a duration (the event resolution):
``energy_mwh = power_mw * hours``. :func:`convert` accepts an optional ``resolution`` for that.

The units energy data is written in (W, Wh, VA and J with the prefixes m, k, M, G, T; h, min,
s; currencies; %, a.u., dimensionless; and quotients of these such as EUR/MWh) are read by a
small table here, with the same factors pint gives (``tests/unit/test_units_fast.py``); pint's
registry is built on first use, for any other unit (°C, W/m², km/h…), so that importing this
module, and a command that needs only those units, stays fast.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from flex_pipelines.errors import FlexPipelinesError

if TYPE_CHECKING:
    import pint

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


CURRENCIES = ("EUR", "USD", "GBP", "KRW", "JPY", "CHF", "NOK", "SEK", "DKK", "PLN", "AUD", "CAD")


@lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry:
    """pint's registry with our definitions, built on first use (it takes a while)."""
    import pint

    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    # Currencies are their own dimension; each currency is its own base unit (no exchange rates).
    for cur in CURRENCIES:
        ureg.define(f"{cur} = [currency_{cur}]")
    # FlexMeasures' arbitrary unit for unitless sensors.
    ureg.define("a_u = [arbitrary] = a.u.")
    # FlexMeasures writes ``kVA`` for power capacities and treats it as kW (unit power factor).
    ureg.define("VA_power = watt = VA_p")
    return ureg


#: a unit the table reads: (factor to the base units, dimensions as sorted (name, exponent))
_Fast = tuple[float, tuple[tuple[str, int], ...]]
_PREFIXES = {"": 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_ATOMS: dict[str, tuple[float, dict[str, int]]] = {
    "h": (3600.0, {"[time]": 1}),
    "min": (60.0, {"[time]": 1}),
    "s": (1.0, {"[time]": 1}),
    "%": (0.01, {}),
    "dimensionless": (1.0, {}),
    "a.u.": (1.0, {"[arbitrary]": 1}),
    **{cur: (1.0, {f"[currency_{cur}]": 1}) for cur in CURRENCIES},
}
for _p, _f in _PREFIXES.items():
    _ATOMS[f"{_p}W"] = (_f, {"[energy]": 1, "[time]": -1})
    _ATOMS[f"{_p}VA"] = (_f, {"[energy]": 1, "[time]": -1})
    _ATOMS[f"{_p}Wh"] = (_f * 3600.0, {"[energy]": 1})
    _ATOMS[f"{_p}J"] = (_f, {"[energy]": 1})
_POWER_DIMS = (("[energy]", 1), ("[time]", -1))
_ENERGY_DIMS = (("[energy]", 1),)


@lru_cache(maxsize=512)
def _fast(unit: str) -> _Fast | None:
    """The unit read by the table (``EUR/MWh``, ``kW``, ``%``…), or None for pint to read."""
    parts = [p.strip() for p in unit.strip().split("/")]
    if unit.strip() == "":
        parts = ["dimensionless"]
    factor, dims = 1.0, {}
    for i, part in enumerate(parts):
        if part not in _ATOMS:
            return None
        f, d = _ATOMS[part]
        sign = 1 if i == 0 else -1
        factor = factor * f if sign > 0 else factor / f
        for k, e in d.items():
            dims[k] = dims.get(k, 0) + sign * e
    return factor, tuple(sorted((k, e) for k, e in dims.items() if e))


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
    """The unit as pint reads it (builds the registry on first use)."""
    try:
        return _registry().Unit(normalize_unit(unit))
    except Exception as exc:  # pint raises several error types
        raise UnitError(f"unknown unit {unit!r}") from exc


def _dims(unit: str) -> tuple[tuple[str, int], ...]:
    """The unit's dimensions in the table's terms (energy and time for W, Wh, J)."""
    fast = _fast(unit)
    if fast is not None:
        return fast[1]
    dims = dict(_unit(unit).dimensionality)
    # pint's base dimensions: energy = [mass][length]²/[time]²
    m = dims.pop("[mass]", 0)
    if m and dims.get("[length]", 0) == 2 * m:
        dims.pop("[length]")
        dims["[time]"] = dims.get("[time]", 0) + 2 * m
        dims["[energy]"] = m
    return tuple(sorted((k, int(e)) for k, e in dims.items() if e))


def validate_unit(unit: str) -> str:
    """Return the unit if it can be read, else raise :class:`UnitError` naming it."""
    if _fast(unit) is None:
        _unit(unit)
    return unit


def is_power_unit(unit: str) -> bool:
    return _dims(unit) == _POWER_DIMS


def is_energy_unit(unit: str) -> bool:
    return _dims(unit) == _ENERGY_DIMS


def is_price_unit(unit: str) -> bool:
    """True for a currency per energy or per power unit (EUR/MWh, EUR/kW)."""
    return any(k.startswith("[currency_") and v == 1 for k, v in _dims(unit))


def is_dimensionless_unit(unit: str) -> bool:
    return not _dims(unit)


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
    validate_unit(unit)
    return Quantity(magnitude, unit)


@lru_cache(maxsize=1024)
def _factor(from_unit: str, to_unit: str, hours: float | None) -> tuple[float, float]:
    """Return (scale, offset) so that ``to = from * scale + offset``."""
    if from_unit == to_unit:
        return 1.0, 0.0
    ff, tf = _fast(from_unit), _fast(to_unit)
    if ff is not None and tf is not None:
        if ff[1] == tf[1]:
            return ff[0] / tf[0], 0.0
        if hours is not None and {ff[1], tf[1]} == {_POWER_DIMS, _ENERGY_DIMS}:
            per_step = hours * 3600.0 if ff[1] == _POWER_DIMS else 1.0 / (hours * 3600.0)
            return ff[0] / tf[0] * per_step, 0.0
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}: incompatible units")
    ureg = _registry()
    fu, tu = _unit(from_unit), _unit(to_unit)
    power, energy = ureg.Unit("W").dimensionality, ureg.Unit("Wh").dimensionality
    if fu.dimensionality == tu.dimensionality:
        q0 = ureg.Quantity(0.0, fu).to(tu).magnitude
        q1 = ureg.Quantity(1.0, fu).to(tu).magnitude
        return q1 - q0, q0
    if hours is not None:
        # energy per step <-> average power over the step
        if fu.dimensionality == energy and tu.dimensionality == power:
            return ureg.Quantity(1.0 / hours, fu / ureg.hour).to(tu).magnitude, 0.0
        if fu.dimensionality == power and tu.dimensionality == energy:
            return ureg.Quantity(hours, fu * ureg.hour).to(tu).magnitude, 0.0
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
