"""Small readers and checks shared by the flex-model and flex-context parsers: booleans, sensor
references, range checks whose messages name field, value, device and time."""

from __future__ import annotations

from typing import Any

import numpy as np

from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid

__all__ = ["check_range", "first_bad", "fmt_val", "parse_bool", "sensor_ref"]


def first_bad(arr: np.ndarray, bad: np.ndarray) -> int | None:
    """The first index where ``bad`` holds and ``arr`` has a value."""
    idx = np.flatnonzero(bad & ~np.isnan(arr))
    return int(idx[0]) if idx.size else None


def fmt_val(v: float, unit_label: str) -> str:
    """A value in engine units as the user wrote it (``%``, ``kWh``, ``kW`` or as is)."""
    if unit_label == "%":
        return f"{v * 100:g}%"
    if unit_label == "kWh":
        return f"{v * 1000:g} kWh"
    if unit_label == "kW":
        return f"{v * 1000:g} kW"
    return f"{v:g} {unit_label}"


def check_range(
    name: str,
    device: str,
    arr: np.ndarray,
    grid: TimeGrid,
    lo: float,
    hi: float,
    lo_open: bool,
    unit_label: str,
    why: str,
    instant: bool = False,
) -> None:
    """Raise for the first value outside ``lo .. hi`` (``lo`` excluded when ``lo_open``)."""
    bad = (arr <= lo) if lo_open else (arr < lo)
    bad |= arr > hi
    i = first_bad(arr, bad)
    if i is not None:
        t = grid.time_at_instant(i) if instant else grid.time_at_step(i)
        raise SchedulingError(
            f"{name} {fmt_val(arr[i], unit_label)} at {grid.fmt(t)} (device {device!r}): {why}"
        )


def sensor_ref(name: str, value: Any) -> int | None:
    """A sensor id from ``12`` or ``{"sensor": 12}`` (None when not given)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict) and isinstance(value.get("sensor"), int):
        return int(value["sensor"])
    raise SchedulingError(f"{name} {value!r}: expected a sensor reference such as {{'sensor': 12}}")


def parse_bool(name: str, value: Any, default: bool) -> bool:
    """``true``/``false`` (JSON or text); ``default`` when not given."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SchedulingError(f"{name} {value!r}: expected true or false")
