"""The stock part of a storage flex-model: SoC bounds, targets, minima and maxima, and the
efficiencies (FlexMeasures 1.0 meanings, see :mod:`~flex_pipelines.scheduling.flex_model`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from flex_pipelines.scheduling.fields import UnitContext, field_scalar, field_series
from flex_pipelines.scheduling.flex_values import check_range, fmt_val
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid

__all__ = ["STOCK_FIELDS", "Efficiencies", "Stock", "parse_efficiencies", "parse_stock"]

STOCK_FIELDS = (
    "soc-at-start",
    "soc-min",
    "soc-max",
    "soc-minima",
    "soc-maxima",
    "soc-targets",
    "soc-usage",
    "soc-gain",
)


@dataclass
class Stock:
    """SoC bounds (MWh), constraints per instant (MWh, NaN = none) and the unit to show."""

    has_stock: bool
    soc_start: float
    soc_min: float
    soc_max: float
    targets: np.ndarray
    minima: np.ndarray
    maxima: np.ndarray
    label: str


@dataclass
class Efficiencies:
    """Charging and discharging efficiency per step, storage efficiency per step (fractions)."""

    charging: np.ndarray
    discharging: np.ndarray
    storage: np.ndarray


def parse_stock(
    fm: Mapping[str, Any],
    grid: TimeGrid,
    ctx: UnitContext,
    name: str,
    default_soc_unit: str = "MWh",
) -> Stock:
    """``soc-*`` fields: hard bounds, targets (the highest is ``soc-max``'s default), minima,
    maxima, in MWh; percentages are of ``soc-max``. A bare number is in ``soc-unit``, else in
    ``default_soc_unit`` (FlexMeasures: the power sensor's unit with "h", e.g. kWh for kW)."""
    soc_unit = str(fm.get("soc-unit", default_soc_unit))
    if soc_unit not in ("MWh", "kWh", "Wh", "GWh"):
        raise SchedulingError(f"soc-unit {soc_unit!r} (device {name!r}): expected MWh or kWh")
    written = " ".join(str(fm.get(k, "")) for k in ("soc-max", "soc-min", "soc-at-start"))
    label = "kWh" if soc_unit == "kWh" or ("soc-unit" not in fm and "kWh" in written) else "MWh"
    if "soc-unit" not in fm and default_soc_unit == "kWh":
        label = "kWh"
    has_stock = any(fm.get(k) is not None for k in STOCK_FIELDS)
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
            f"soc-min {fmt_val(soc_min, label)} is above soc-max {fmt_val(soc_max, label)} "
            f"(device {name!r})"
        )
    soc_start = 0.0
    if fm.get("soc-at-start") is not None:
        soc_start = field_scalar(
            "soc-at-start", fm["soc-at-start"], "MWh", ctx, default_unit=soc_unit, pct_base=soc_max
        )
    if has_stock and not (soc_min - 1e-9 <= soc_start <= soc_max + 1e-9):
        raise SchedulingError(
            f"soc-at-start {fmt_val(soc_start, label)} at {grid.fmt(grid.start)} (device "
            f"{name!r}) is outside soc-min {fmt_val(soc_min, label)} .. soc-max "
            f"{fmt_val(soc_max, label)}"
        )
    why = f"outside soc-min {fmt_val(soc_min, label)} .. soc-max {fmt_val(soc_max, label)}"
    check_range(
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
    check_range(
        "soc-minima",
        name,
        minima,
        grid,
        -np.inf,
        soc_max + 1e-9,
        False,
        label,
        f"above soc-max {fmt_val(soc_max, label)}",
        instant=True,
    )
    check_range(
        "soc-maxima",
        name,
        maxima,
        grid,
        soc_min - 1e-9,
        np.inf,
        False,
        label,
        f"below soc-min {fmt_val(soc_min, label)}",
        instant=True,
    )
    minima = np.where(minima < soc_min, np.nan, minima)  # already implied by soc-min
    maxima = np.where(maxima > soc_max, np.nan, maxima)
    for arr in (targets, minima, maxima):
        arr[0] = np.nan  # the start is fixed by soc-at-start

    return Stock(has_stock, soc_start, soc_min, soc_max, targets, minima, maxima, label)


def parse_efficiencies(
    fm: Mapping[str, Any], grid: TimeGrid, ctx: UnitContext, name: str
) -> Efficiencies:
    """``roundtrip-efficiency`` (√ each way, overriding the others), ``charging-efficiency``
    (may exceed 100%: a COP), ``discharging-efficiency``, ``storage-efficiency`` (per step of
    the problem's resolution; a series is converted with ``eff ** (step / resolution)``)."""
    n = grid.n_steps
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
        check_range(
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
        check_range(
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
    check_range(
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

    return Efficiencies(eta_c, eta_d, eff)
