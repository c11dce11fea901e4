"""Flex-model fields that add constraints, registered once: parsing and the rows they add.

A field registered here is accepted in every flex-model (the stateless problem of ``flexpipe
schedule solve``, a scheduling request to the API or the CLI, a flex-model stored on an asset),
its rows are part of the one problem description
(:func:`~flex_pipelines.scheduling.build_highs.formulate`), so they hold on the default path
(HiGHS), in the pyomo model derived from the description, and the dynamic programme declines the
problem when the rows couple steps (it reads that from the row blocks, not from names).

``ramp-limit`` is the worked example (a field FlexMeasures does not have): how far a device's
power may change from one step to the next, in MW per step::

    "ramp-limit": "0.2 MW"                          # the same limit up and down
    "ramp-limit": {"up": "0.2 MW", "down": "0.5 MW"} # each any value form (fixed, list, sensor)

so that ``power[j] - power[j-1] <= up[j]`` and ``power[j-1] - power[j] <= down[j]`` for every
step after the first (consumption positive). Registering another field takes the same three
parts: a parser, a block builder, and :func:`register_device_field`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from flex_pipelines.scheduling.fields import UnitContext, field_series
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.linear_model import STEPS, LinearModel

if TYPE_CHECKING:
    from flex_pipelines.scheduling.build_highs import Layout
    from flex_pipelines.scheduling.problem import Device, SchedulingProblem

__all__ = ["DEVICE_FIELDS", "DeviceField", "device_extension_blocks", "register_device_field"]


@dataclass(frozen=True)
class DeviceField:
    """A flex-model field that adds rows: ``parse(value, grid, ctx, device)`` → what ``build(m,
    lay, problem, device_index, device, parsed)`` needs to add its column and row blocks."""

    name: str
    parse: Callable[[Any, TimeGrid, UnitContext, str], Any]
    build: Callable[[LinearModel, Layout, SchedulingProblem, int, Device, Any], None]


#: the registered flex-model fields, by name
DEVICE_FIELDS: dict[str, DeviceField] = {}


def register_device_field(
    name: str,
    parse: Callable[[Any, TimeGrid, UnitContext, str], Any],
    build: Callable[[LinearModel, Layout, SchedulingProblem, int, Device, Any], None],
) -> DeviceField:
    """Register a flex-model field (kebab-case ``name``) with its parser and block builder."""
    spec = DeviceField(name, parse, build)
    DEVICE_FIELDS[name] = spec
    return spec


def device_extension_blocks(
    m: LinearModel, lay: Layout, p: SchedulingProblem, d_i: int, dev: Device
) -> None:
    """Add the rows of every registered field the device's flex-model sets."""
    for name, parsed in dev.extensions.items():
        DEVICE_FIELDS[name].build(m, lay, p, d_i, dev, parsed)


# --- ramp-limit ---------------------------------------------------------------------------------


def parse_ramp_limit(
    value: Any, grid: TimeGrid, ctx: UnitContext, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """``ramp-limit`` → (up, down) in MW per step, one value per step (inf = no limit)."""
    if isinstance(value, Mapping) and set(value) <= {"up", "down"} and value:
        parts = {k: value.get(k) for k in ("up", "down")}
    else:
        parts = {"up": value, "down": value}
    out = []
    for side in ("up", "down"):
        arr = field_series(f"ramp-limit {side}", parts[side], grid, "MW", ctx, combine="min")
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            t = grid.fmt(grid.time_at_step(int(bad[0])))
            raise SchedulingError(
                f"ramp-limit {side} {arr[bad[0]]:g} MW at {t} (device {device!r}): must not be "
                "negative"
            )
        out.append(np.where(np.isnan(arr), np.inf, arr))
    return out[0], out[1]


def ramp_limit_blocks(
    m: LinearModel,
    lay: Layout,
    p: SchedulingProblem,
    d_i: int,
    dev: Device,
    limits: tuple[np.ndarray, np.ndarray],
) -> None:
    """``±(power[j] - power[j-1]) <= limit[j]`` for j ≥ 1, power = charge − discharge."""
    ch, dis = lay.charge[d_i], lay.discharge[d_i]
    T = ch.size
    if T < 2:
        return
    r = np.arange(T - 1)
    for side, sign, limit in (("up", 1.0, limits[0]), ("down", -1.0, limits[1])):
        lim = limit[1:]
        if not np.isfinite(lim).any():
            continue
        terms = [(r, ch[1:], sign), (r, dis[1:], -sign), (r, ch[:-1], -sign), (r, dis[:-1], sign)]
        m.add_rows(
            f"ramp-limit {side}[{dev.name}]",
            T - 1,
            terms,
            -np.inf,
            lim,
            field="ramp-limit",
            steps=r + 1,
            device=dev.name,
            kind="ramp-limit",
            couples=(STEPS,),
        )


register_device_field("ramp-limit", parse_ramp_limit, ramp_limit_blocks)
