"""Parsing a storage flex-model (FlexMeasures' field names) into a :class:`Device`.

Meanings follow FlexMeasures 1.0 (see docs/extending-the-scheduler.md for the summary):
``soc-min``/``soc-max`` are hard bounds (``soc-max`` defaults to the highest target);
``soc-minima``/``soc-maxima`` are soft when a breach price exists (by default, through
``relax-constraints``); ``soc-targets`` are soft when both SoC breach prices exist, else hard;
``roundtrip-efficiency`` overrides charging/discharging efficiency with its square root each;
``storage-efficiency`` is a loss per step of the problem's resolution; ``power-capacity`` is a
symmetric bound that the directional capacities cannot exceed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from flex_pipelines.scheduling.extensions import DEVICE_FIELDS
from flex_pipelines.scheduling.fields import (
    UnitContext,
    field_scalar,
    field_series,
    sum_components,
)
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.problem import Device

__all__ = [
    "FLEX_MODEL_FIELDS",
    "FLEX_MODEL_OUTPUT_FIELDS",
    "RelaxSettings",
    "parse_storage_flex_model",
]

FLEX_MODEL_FIELDS = frozenset(
    {
        "name",
        "sensor",
        "asset",
        "soc-at-start",
        "soc-min",
        "soc-max",
        "soc-minima",
        "soc-maxima",
        "soc-targets",
        "soc-unit",
        "roundtrip-efficiency",
        "charging-efficiency",
        "discharging-efficiency",
        "storage-efficiency",
        "power-capacity",
        "consumption-capacity",
        "production-capacity",
        "soc-usage",
        "soc-gain",
        "prefer-charging-sooner",
        "prefer-curtailing-later",
        "operation-modes",
        "state-of-charge",
        "consumption",
        "production",
    }
)
#: flex-model fields naming sensors the scheduler writes (the rest it reads)
FLEX_MODEL_OUTPUT_FIELDS = ("sensor", "state-of-charge", "consumption", "production")
_STOCK_FIELDS = (
    "soc-at-start",
    "soc-min",
    "soc-max",
    "soc-minima",
    "soc-maxima",
    "soc-targets",
    "soc-usage",
    "soc-gain",
)


@dataclass(frozen=True)
class RelaxSettings:
    """Which constraints are soft, from the flex-context (prices in CUR per MWh or MW)."""

    soc_minima_breach_price: float | None = None
    soc_maxima_breach_price: float | None = None
    consumption_breach_price: np.ndarray | None = None
    production_breach_price: np.ndarray | None = None


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> int | None:
    idx = np.flatnonzero(bad & ~np.isnan(arr))
    return int(idx[0]) if idx.size else None


def _check_range(
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
    bad = (arr <= lo) if lo_open else (arr < lo)
    bad |= arr > hi
    i = _first_bad(arr, bad)
    if i is not None:
        t = grid.time_at_instant(i) if instant else grid.time_at_step(i)
        raise SchedulingError(
            f"{name} {_fmt_val(arr[i], unit_label)} at {grid.fmt(t)} (device {device!r}): {why}"
        )


def _fmt_val(v: float, unit_label: str) -> str:
    if unit_label == "%":
        return f"{v * 100:g}%"
    if unit_label == "kWh":
        return f"{v * 1000:g} kWh"
    if unit_label == "kW":
        return f"{v * 1000:g} kW"
    return f"{v:g} {unit_label}"


def _sensor_ref(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict) and isinstance(value.get("sensor"), int):
        return int(value["sensor"])
    raise SchedulingError(f"{name} {value!r}: expected a sensor reference such as {{'sensor': 12}}")


def _bool(name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SchedulingError(f"{name} {value!r}: expected true or false")


def parse_storage_flex_model(
    fm: Mapping[str, Any],
    grid: TimeGrid,
    ctx: UnitContext,
    relax: RelaxSettings,
    *,
    site_power_capacity_mw: np.ndarray | None = None,
    default_name: str = "device",
) -> Device:
    """One device's flex-model → :class:`Device` (MW, MWh, fractions), validated."""
    if not isinstance(fm, Mapping):
        raise SchedulingError(f"flex-model {fm!r}: expected an object with fields")
    name = str(fm.get("name", default_name))
    unknown = sorted(set(fm) - FLEX_MODEL_FIELDS - set(DEVICE_FIELDS))
    if unknown:
        raise SchedulingError(
            f"flex-model of device {name!r}: unknown field {unknown[0]!r} "
            f"(value {fm[unknown[0]]!r}); known fields: {', '.join(sorted(FLEX_MODEL_FIELDS | set(DEVICE_FIELDS)))}"
        )
    soc_unit = str(fm.get("soc-unit", "MWh"))
    if soc_unit not in ("MWh", "kWh", "Wh", "GWh"):
        raise SchedulingError(f"soc-unit {soc_unit!r} (device {name!r}): expected MWh or kWh")
    written = " ".join(str(fm.get(k, "")) for k in ("soc-max", "soc-min", "soc-at-start"))
    label = "kWh" if soc_unit == "kWh" or ("soc-unit" not in fm and "kWh" in written) else "MWh"
    n = grid.n_steps
    has_stock = any(fm.get(k) is not None for k in _STOCK_FIELDS)

    # --- SoC bounds and targets --------------------------------------------------------------
    targets_raw = fm.get("soc-targets")
    soc_max = math.inf
    if fm.get("soc-max") is not None:
        soc_max = field_scalar("soc-max", fm["soc-max"], "MWh", ctx, default_unit=soc_unit)
    targets = field_series(
        "soc-targets",
        targets_raw,
        grid,
        "MWh",
        ctx,
        instant=True,
        default_unit=soc_unit,
        pct_base=soc_max,
    )
    if not math.isfinite(soc_max) and has_stock:
        if np.isnan(targets).all():
            raise SchedulingError(
                f"soc-max missing (device {name!r}): give soc-max or soc-targets so the "
                "storage has a capacity"
            )
        soc_max = float(np.nanmax(targets))
    soc_min = 0.0
    if fm.get("soc-min") is not None:
        soc_min = field_scalar(
            "soc-min", fm["soc-min"], "MWh", ctx, default_unit=soc_unit, pct_base=soc_max
        )
    if soc_min > soc_max:
        raise SchedulingError(
            f"soc-min {_fmt_val(soc_min, label)} is above soc-max {_fmt_val(soc_max, label)} "
            f"(device {name!r})"
        )
    soc_start = 0.0
    if fm.get("soc-at-start") is not None:
        soc_start = field_scalar(
            "soc-at-start", fm["soc-at-start"], "MWh", ctx, default_unit=soc_unit, pct_base=soc_max
        )
    if has_stock and not (soc_min - 1e-9 <= soc_start <= soc_max + 1e-9):
        raise SchedulingError(
            f"soc-at-start {_fmt_val(soc_start, label)} at {grid.fmt(grid.start)} (device "
            f"{name!r}) is outside soc-min {_fmt_val(soc_min, label)} .. soc-max "
            f"{_fmt_val(soc_max, label)}"
        )
    why = f"outside soc-min {_fmt_val(soc_min, label)} .. soc-max {_fmt_val(soc_max, label)}"
    _check_range(
        "soc-targets",
        name,
        targets,
        grid,
        soc_min - 1e-9,
        soc_max + 1e-9,
        False,
        label,
        why,
        instant=True,
    )
    minima = field_series(
        "soc-minima",
        fm.get("soc-minima"),
        grid,
        "MWh",
        ctx,
        instant=True,
        combine="max",
        default_unit=soc_unit,
        pct_base=soc_max,
    )
    maxima = field_series(
        "soc-maxima",
        fm.get("soc-maxima"),
        grid,
        "MWh",
        ctx,
        instant=True,
        combine="min",
        default_unit=soc_unit,
        pct_base=soc_max,
    )
    _check_range(
        "soc-minima",
        name,
        minima,
        grid,
        -np.inf,
        soc_max + 1e-9,
        False,
        label,
        f"above soc-max {_fmt_val(soc_max, label)}",
        instant=True,
    )
    _check_range(
        "soc-maxima",
        name,
        maxima,
        grid,
        soc_min - 1e-9,
        np.inf,
        False,
        label,
        f"below soc-min {_fmt_val(soc_min, label)}",
        instant=True,
    )
    minima = np.where(minima < soc_min, np.nan, minima)  # already implied by soc-min
    maxima = np.where(maxima > soc_max, np.nan, maxima)
    for arr in (targets, minima, maxima):
        arr[0] = np.nan  # the start is fixed by soc-at-start

    # --- efficiencies ------------------------------------------------------------------------
    ones = np.ones(n)
    if fm.get("roundtrip-efficiency") is not None:
        rte = field_scalar(
            "roundtrip-efficiency",
            fm["roundtrip-efficiency"],
            "dimensionless",
            ctx,
            default_unit="dimensionless",
        )
        if not 0 < rte <= 1 + 1e-12:
            raise SchedulingError(
                f"roundtrip-efficiency {rte * 100:g}% (device {name!r}): must be in (0, 100%]"
            )
        eta_c = ones * math.sqrt(rte)
        eta_d = ones * math.sqrt(rte)
    else:
        eta_c = np.nan_to_num(
            field_series(
                "charging-efficiency",
                fm.get("charging-efficiency"),
                grid,
                "dimensionless",
                ctx,
                default_unit="dimensionless",
            ),
            nan=1.0,
        )
        eta_d = np.nan_to_num(
            field_series(
                "discharging-efficiency",
                fm.get("discharging-efficiency"),
                grid,
                "dimensionless",
                ctx,
                default_unit="dimensionless",
            ),
            nan=1.0,
        )
        _check_range(
            "charging-efficiency",
            name,
            eta_c,
            grid,
            0.0,
            np.inf,
            True,
            "%",
            "must be above 0% (a COP above 100% is allowed)",
        )
        _check_range(
            "discharging-efficiency",
            name,
            eta_d,
            grid,
            0.0,
            1 + 1e-12,
            True,
            "%",
            "must be in (0, 100%]",
        )
    eff = np.nan_to_num(
        field_series(
            "storage-efficiency",
            fm.get("storage-efficiency"),
            grid,
            "dimensionless",
            ctx,
            default_unit="dimensionless",
            per_step_exponent=True,
        ),
        nan=1.0,
    )
    _check_range(
        "storage-efficiency",
        name,
        eff,
        grid,
        0.0,
        1 + 1e-12,
        True,
        "%",
        "must be in (0, 100%] per step",
    )
    eff = np.minimum(eff, 1.0)

    # --- power capacities --------------------------------------------------------------------
    pc = field_series("power-capacity", fm.get("power-capacity"), grid, "MW", ctx, combine="min")
    cc = field_series(
        "consumption-capacity", fm.get("consumption-capacity"), grid, "MW", ctx, combine="min"
    )
    prc = field_series(
        "production-capacity", fm.get("production-capacity"), grid, "MW", ctx, combine="min"
    )
    for fname, arr in (
        ("power-capacity", pc),
        ("consumption-capacity", cc),
        ("production-capacity", prc),
    ):
        _check_range(fname, name, arr, grid, 0.0, np.inf, False, "MW", "must not be negative")
    given_c, given_p = (
        fm.get("consumption-capacity") is not None,
        fm.get("production-capacity") is not None,
    )
    if fm.get("power-capacity") is None:
        if given_c and not given_p:
            prc = np.zeros(n)
        elif given_p and not given_c:
            cc = np.zeros(n)
        elif not (given_c or given_p):
            if site_power_capacity_mw is None or not np.isfinite(site_power_capacity_mw).all():
                raise SchedulingError(
                    f"power-capacity missing (device {name!r}): give power-capacity, "
                    "consumption-capacity/production-capacity or a site-power-capacity"
                )
            pc = site_power_capacity_mw.copy()
    pc = np.where(np.isnan(pc), np.inf, pc)
    cc = np.fmin(np.where(np.isnan(cc), np.inf, cc), pc)
    prc = np.fmin(np.where(np.isnan(prc), np.inf, prc), pc)
    for fname, arr in (("consumption-capacity", cc), ("production-capacity", prc)):
        i = _first_bad(arr, ~np.isfinite(arr))
        if i is not None:
            raise SchedulingError(
                f"{fname} (device {name!r}) has no value at {grid.fmt(grid.time_at_step(i))}: "
                "give power-capacity for the whole horizon"
            )

    # --- stock changes, preferences, modes, outputs ------------------------------------------
    delta = sum_components("soc-gain", fm.get("soc-gain"), grid, "MW", ctx) - sum_components(
        "soc-usage", fm.get("soc-usage"), grid, "MW", ctx
    )
    modes = _parse_modes(fm.get("operation-modes"), name, ctx)
    soft_min = relax.soc_minima_breach_price is not None
    soft_max = relax.soc_maxima_breach_price is not None
    return Device(
        name=name,
        has_stock=has_stock,
        soc_at_start_mwh=soc_start,
        soc_min_mwh=soc_min if has_stock else -math.inf,
        soc_max_mwh=soc_max if has_stock else math.inf,
        consumption_capacity_mw=cc,
        production_capacity_mw=prc,
        charging_efficiency=eta_c,
        discharging_efficiency=eta_d,
        storage_efficiency=eff,
        stock_delta_mw=delta,
        soc_minima_mwh=minima,
        soc_maxima_mwh=maxima,
        soc_targets_mwh=targets,
        soc_targets_soft=soft_min and soft_max,
        soc_minima_soft=soft_min,
        soc_maxima_soft=soft_max,
        consumption_breach_price=relax.consumption_breach_price,
        production_breach_price=relax.production_breach_price,
        prefer_charging_sooner=_bool(
            "prefer-charging-sooner", fm.get("prefer-charging-sooner"), True
        ),
        prefer_curtailing_later=_bool(
            "prefer-curtailing-later", fm.get("prefer-curtailing-later"), True
        ),
        operation_modes=modes,
        power_sensor=_sensor_ref("sensor", fm.get("sensor")),
        state_of_charge_sensor=_sensor_ref("state-of-charge", fm.get("state-of-charge")),
        consumption_sensor=_sensor_ref("consumption", fm.get("consumption")),
        production_sensor=_sensor_ref("production", fm.get("production")),
        soc_unit=label,
        extensions={
            k: DEVICE_FIELDS[k].parse(fm[k], grid, ctx, name)
            for k in DEVICE_FIELDS
            if fm.get(k) is not None
        },
    )


def _parse_modes(
    value: Any, device: str, ctx: UnitContext
) -> list[tuple[float, float, float]] | None:
    """``operation-modes``: allowed power bands ``[{"min": Q, "max": Q} | {"power": Q}, ...]``.

    Consumption positive (a production band has negative bounds); optional ``fixed-cost`` per
    step the mode is on (a number in the problem's currency).
    """
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise SchedulingError(
            f"operation-modes {value!r} (device {device!r}): expected a list of bands"
        )
    out: list[tuple[float, float, float]] = []
    for band in value:
        if not isinstance(band, dict):
            raise SchedulingError(
                f"operation-modes entry {band!r} (device {device!r}): expected an object"
            )
        unknown = set(band) - {"name", "power", "min", "max", "fixed-cost"}
        if unknown:
            raise SchedulingError(
                f"operation-modes entry {band!r} (device {device!r}): unknown key(s) {sorted(unknown)}"
            )
        if "power" in band:
            lo = hi = field_scalar("operation-modes power", band["power"], "MW", ctx)
        elif "min" in band and "max" in band:
            lo = field_scalar("operation-modes min", band["min"], "MW", ctx)
            hi = field_scalar("operation-modes max", band["max"], "MW", ctx)
        else:
            raise SchedulingError(
                f"operation-modes entry {band!r} (device {device!r}): needs 'power' or 'min' and 'max'"
            )
        if lo > hi:
            raise SchedulingError(
                f"operation-modes entry {band!r} (device {device!r}): min is above max"
            )
        cost = band.get("fixed-cost", 0.0)
        if isinstance(cost, str):
            cost = float(cost.split()[0])
        out.append((lo, hi, float(cost)))
    return out
