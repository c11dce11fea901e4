"""The hard limits a schedule must keep, as the scheduler itself reads them from the flex-model
and flex-context (its parsers, not a second reading of the JSON): what asset checks compare
saved schedules with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flex_pipelines.scheduling.build_highs import _soc_bounds
from flex_pipelines.scheduling.fields import SensorResolver, UnitContext
from flex_pipelines.scheduling.flex_context import parse_flex_context
from flex_pipelines.scheduling.flex_model import (
    entry_kind,
    group_key,
    parse_storage_flex_model,
    unwrap_entry,
)
from flex_pipelines.scheduling.grid import TimeGrid
from flex_pipelines.scheduling.process_model import is_process_flex_model, parse_process_flex_model

__all__ = ["DeviceLimits", "SiteLimits", "schedule_limits"]


@dataclass(frozen=True)
class DeviceLimits:
    """One device's hard limits per step (MW, consumption positive) and per step end (MWh)."""

    power_sensor_id: int
    name: str
    max_consumption_mw: np.ndarray
    max_production_mw: np.ndarray
    soc_min_mwh: np.ndarray | None = None  # None: no stock (processes)
    soc_max_mwh: np.ndarray | None = None


@dataclass(frozen=True)
class SiteLimits:
    """The site's hard connection limits per step (MW; inf = none) and its devices' limits."""

    max_consumption_mw: np.ndarray
    max_production_mw: np.ndarray
    devices: list[DeviceLimits]


def schedule_limits(
    flex_models: Sequence[Mapping[str, Any]],
    flex_context: Mapping[str, Any],
    grid: TimeGrid,
    resolver: SensorResolver | None = None,
    *,
    timezone: str = "UTC",
    power_units: Mapping[int, str] | None = None,
) -> SiteLimits:
    """Read the hard limits of devices and site on ``grid`` with the scheduler's parsers.

    Prices do not bound power, so missing prices are no error here; a flex-model without
    ``soc-at-start`` is read as starting at its ``soc-min``.

    Parameters
    ----------
    flex_models
        Device flex-models, each with its power ``"sensor"``.
    flex_context
        The site's merged flex-context.
    grid
        The steps to read limits for.
    resolver
        Reads sensor references (capacities given as sensors).
    timezone
        For process time restrictions given without an offset.
    power_units
        Power sensor id → its unit: a process ``power`` given as a bare number is in it.

    Returns
    -------
    SiteLimits
        Power limits in MW, SoC limits in MWh.
    """
    fc = {**flex_context, "consumption-price": "0 EUR/MWh", "production-price": "0 EUR/MWh"}
    fc.pop("commitments", None)  # commitments cost money; they do not limit power
    ctx = UnitContext(resolver=resolver)
    site, relax, spc = parse_flex_context(fc, grid, ctx)
    devices: list[DeviceLimits] = []
    entries = [unwrap_entry(fm, ctx.notes) for fm in flex_models]
    groups = {group_key(fm["group"], "?") for fm in entries if fm.get("group") is not None}
    for fm in entries:
        if entry_kind(fm) == "inflexible" or f"sensor:{fm.get('sensor')}" in groups:
            continue  # measured, or a group's sum: no schedule of its own
        sid = int(fm["sensor"])
        if is_process_flex_model(fm):
            p = parse_process_flex_model(
                {k: v for k, v in fm.items() if k not in ("sensor", "name")},
                timezone=timezone,
                default_power_unit=(power_units or {}).get(sid),
            )
            mw = abs(p.power_mw)
            cons = np.full(grid.n_steps, mw if p.power_mw > 0 else 0.0)
            prod = np.full(grid.n_steps, mw if p.power_mw < 0 else 0.0)
            devices.append(DeviceLimits(sid, str(fm.get("name", sid)), cons, prod))
            continue
        fm = dict(fm)
        if fm.get("soc-at-start") is None and fm.get("soc-min") is not None:
            fm["soc-at-start"] = fm["soc-min"]
        dev = parse_storage_flex_model(
            fm, grid, ctx, relax, site_power_capacity_mw=spc, default_name=str(sid)
        )
        cons = dev.consumption_hard_mw  # a soft capacity is breached within the hard limit
        prod = dev.production_hard_mw
        lo, hi, _, _ = _soc_bounds(dev)
        stock = np.isfinite(dev.soc_max_mwh)
        devices.append(
            DeviceLimits(
                sid,
                dev.name,
                cons if cons is not None else np.full(grid.n_steps, np.inf),
                prod if prod is not None else np.full(grid.n_steps, np.inf),
                lo if stock else None,
                hi if stock else None,
            )
        )
    return SiteLimits(site.consumption_hard_mw, site.production_hard_mw, devices)
