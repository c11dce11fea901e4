"""The ``operation-modes`` flex-model field: the power bands a device may run in.

Two forms, both a list with one entry per mode (the device's power lies in one of them at every
step; consumption positive):

- FlexMeasures' (1.0, after the S2 standard's operation modes):
  ``[{"consumption-range": ["0 kW", "0 kW"]}, {"consumption-range": ["400 kW", "500 kW"]}]``,
  with ``production-range`` for production (non-negative bounds, production positive); a mode
  with both ranges allows either;
- ours: ``[{"power": "0 kW"}, {"min": "400 kW", "max": "500 kW", "fixed-cost": 1.5}]`` with signed
  bounds and an optional ``fixed-cost`` per step the mode is on (a number in the problem's
  currency; FlexMeasures' modes carry none).
"""

from __future__ import annotations

from typing import Any

from flex_pipelines.scheduling.fields import UnitContext, field_scalar
from flex_pipelines.scheduling.grid import SchedulingError

__all__ = ["parse_operation_modes"]

Band = tuple[float, float, float]  # (lowest MW, highest MW, fixed cost per step)


def _range(key: str, value: Any, device: str, ctx: UnitContext) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise SchedulingError(
            f"operation-modes {key} {value!r} (device {device!r}): expected [min, max]"
        )
    lo = field_scalar(f"operation-modes {key}", value[0], "MW", ctx)
    hi = field_scalar(f"operation-modes {key}", value[1], "MW", ctx)
    if lo < 0 or hi < lo:
        raise SchedulingError(
            f"operation-modes {key} {value!r} (device {device!r}): expected 0 <= min <= max"
        )
    return lo, hi


def _fm_mode(mode: dict[str, Any], device: str, ctx: UnitContext) -> list[Band]:
    """FlexMeasures' form: one band per range (a production range becomes a negative band)."""
    out: list[Band] = []
    if "consumption-range" in mode:
        lo, hi = _range("consumption-range", mode["consumption-range"], device, ctx)
        out.append((lo, hi, 0.0))
    if "production-range" in mode:
        lo, hi = _range("production-range", mode["production-range"], device, ctx)
        out.append((-hi, -lo, 0.0))
    return out


def _our_mode(mode: dict[str, Any], device: str, ctx: UnitContext) -> Band:
    if "power" in mode:
        lo = hi = field_scalar("operation-modes power", mode["power"], "MW", ctx)
    elif "min" in mode and "max" in mode:
        lo = field_scalar("operation-modes min", mode["min"], "MW", ctx)
        hi = field_scalar("operation-modes max", mode["max"], "MW", ctx)
    else:
        raise SchedulingError(
            f"operation-modes entry {mode!r} (device {device!r}): needs 'consumption-range' / "
            "'production-range', 'power', or 'min' and 'max'"
        )
    if lo > hi:
        raise SchedulingError(
            f"operation-modes entry {mode!r} (device {device!r}): min is above max"
        )
    cost = mode.get("fixed-cost", 0.0)
    if isinstance(cost, str):
        cost = float(cost.split()[0])
    return lo, hi, float(cost)


def parse_operation_modes(value: Any, device: str, ctx: UnitContext) -> list[Band] | None:
    """``operation-modes`` → power bands ``(lo_mw, hi_mw, fixed_cost)`` (None when not given)."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise SchedulingError(
            f"operation-modes {value!r} (device {device!r}): expected a list of modes"
        )
    out: list[Band] = []
    for mode in value:
        if not isinstance(mode, dict):
            raise SchedulingError(
                f"operation-modes entry {mode!r} (device {device!r}): expected an object"
            )
        fm_keys = {"consumption-range", "production-range"}
        allowed = {"name", "power", "min", "max", "fixed-cost", *fm_keys}
        unknown = set(mode) - allowed
        if unknown:
            raise SchedulingError(
                f"operation-modes entry {mode!r} (device {device!r}): unknown key(s) "
                f"{sorted(unknown)}"
            )
        if fm_keys & set(mode):
            out += _fm_mode(mode, device, ctx)
        else:
            out.append(_our_mode(mode, device, ctx))
    return out
