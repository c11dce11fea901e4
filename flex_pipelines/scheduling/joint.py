"""Processes scheduled jointly with storage under one grid connection.

A flex-model list entry with a ``process-type`` is a process device
(:class:`~flex_pipelines.scheduling.process_milp.ProcessDevice`): binary start (SHIFTABLE) or
slot (BREAKABLE) columns in the storage engine's HiGHS build, its power in the site balance, its
energy costed through the site's import and export (see
:func:`~flex_pipelines.scheduling.build_highs.formulate`). INFLEXIBLE processes (and processes
filling the window) have no decision left and count as fixed load.

Besides the process flex-model fields (``duration``, ``power``, ``process-type``,
``time-restrictions``, ``optimization-sense``; only ``MIN`` in the joint solve) an entry may
carry ``name``, ``sensor`` (its power sensor), ``earliest-start`` and ``latest-end`` (ISO 8601;
the process runs entirely inside [earliest-start, latest-end)).

:func:`schedule_sequentially` is the baseline the joint solve is measured against: each process
by the exact standalone search, in order, in the room the earlier ones left under the site's
consumption limit, and then the storage devices around them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.problem import SchedulingProblem
from flex_pipelines.scheduling.process import place_process
from flex_pipelines.scheduling.process_milp import ProcessDevice, process_device
from flex_pipelines.scheduling.process_model import is_process_flex_model, parse_process_flex_model
from flex_pipelines.time import parse_datetime

__all__ = [
    "JOINT_PROCESS_KEYS",
    "is_process_entry",
    "parse_process_entry",
    "process_powers",
    "run_starts",
    "schedule_sequentially",
    "sequential_process_powers",
]

JOINT_PROCESS_KEYS = ("name", "earliest-start", "latest-end")


#: whether a flex-model list entry describes a process (process_model's one test)
is_process_entry = is_process_flex_model


def parse_process_entry(
    flex_model: Mapping[str, Any],
    grid: TimeGrid,
    *,
    default_name: str,
    default_power_unit: str | None = None,
    notes: list[str] | None = None,
) -> ProcessDevice:
    """A process flex-model (plus ``name``, ``sensor``, ``earliest-start``, ``latest-end``) on
    ``grid``; naive times are read in the grid's timezone when it has a named one.

    A bare-number ``power`` is in ``default_power_unit`` (the power sensor's unit, as
    FlexMeasures reads it); without one (a stateless problem knows no sensor units) it is read in
    MW, the problem's power unit, with a note in ``notes``.
    """
    fm = dict(flex_model)
    name = str(fm.pop("name", default_name))
    power = fm.get("power")
    if (
        default_power_unit is None
        and isinstance(power, int | float)
        and not isinstance(power, bool)
    ):
        default_power_unit = "MW"
        if notes is not None:
            notes.append(
                f"process {name!r}: power {power!r} has no unit; read in MW (a stateless problem "
                "knows no sensor unit)"
            )
    tz = getattr(grid.start.tzinfo, "key", None)
    bounds = {}
    for key in ("earliest-start", "latest-end"):
        value = fm.pop(key, None)
        if value is None:
            bounds[key] = None
            continue
        try:
            bounds[key] = parse_datetime(value, tz) if isinstance(value, str) else value
        except FlexPipelinesError as exc:
            raise SchedulingError(
                f"process {name!r}: flex-model field {key!r} = {value!r}: {exc}"
            ) from exc
    if (
        bounds["earliest-start"]
        and bounds["latest-end"]
        and bounds["latest-end"] <= bounds["earliest-start"]
    ):
        raise SchedulingError(
            f"process {name!r}: flex-model field 'latest-end' = {flex_model['latest-end']!r} is "
            f"not after 'earliest-start' = {flex_model['earliest-start']!r}"
        )
    sensor = fm.get("sensor")
    pfm = parse_process_flex_model(fm, timezone=tz, default_power_unit=default_power_unit)
    return process_device(
        pfm,
        grid.start,
        grid.resolution,
        grid.n_steps,
        name=name,
        earliest_start=bounds["earliest-start"],
        latest_end=bounds["latest-end"],
        timezone=tz,
        power_sensor=int(sensor) if isinstance(sensor, int) else None,
    )


def process_powers(
    p: SchedulingProblem, columns: list[np.ndarray], x: np.ndarray
) -> list[np.ndarray]:
    """Power per process (MW per step, consumption positive) from a solution vector."""
    out = []
    for pd, cols in zip(p.processes, columns, strict=True):
        if pd.is_fixed:
            out.append(pd.fixed_power_mw(p.grid.start, p.grid.resolution))
        else:
            out.append(pd.power_from_columns(np.round(x[cols])))
    return out


def run_starts(power_mw: np.ndarray, grid: TimeGrid) -> list[str]:
    """ISO start times of each run of non-zero power (one for a block, several for slots)."""
    on = np.abs(np.asarray(power_mw)) > 1e-9
    first = on & ~np.concatenate(([False], on[:-1]))
    return [grid.time_at_step(int(i)).isoformat() for i in np.flatnonzero(first)]


def sequential_process_powers(p: SchedulingProblem) -> list[np.ndarray]:
    """The greedy baseline's process placements: each process on its own at the cheapest
    consumption price, in order, in the room left under the hard site consumption limit."""
    s, g = p.site, p.grid
    room = s.consumption_hard_mw - s.inflexible_mw
    out = []
    for pd in p.processes:
        if pd.is_fixed:
            power = pd.fixed_power_mw(g.start, g.resolution)
        else:
            on = place_process(
                s.consumption_price,
                pd.blocked | (room < pd.power_mw - 1e-9),
                pd.n_on,
                pd.flex_model,
                g.start,
                g.resolution,
                why=f"the room left under the site limit for process {pd.name!r}",
            )
            power = np.where(on, pd.power_mw, 0.0)
        room = room - power
        out.append(power)
    return out


def schedule_sequentially(p: SchedulingProblem, backend: str = "highs") -> Any:
    """Processes first (:func:`sequential_process_powers`), then the storage devices around
    them; a :class:`~flex_pipelines.scheduling.result.ScheduleResult` with the same devices (and
    cost accounting) as the joint solve, for comparison."""
    from flex_pipelines.scheduling.storage import _result, solve

    powers = sequential_process_powers(p)
    total = sum(powers, np.zeros(p.n_steps))
    rest = replace(
        p, site=replace(p.site, inflexible_mw=p.site.inflexible_mw + total), processes=[]
    )
    r = solve(rest, backend)
    storage_power = [d.power_mw for d in r.devices]
    soc = [d.soc_mwh for d in r.devices]
    out = _result(
        p,
        storage_power,
        soc,
        r.objective,
        r.backend,
        r.timings,
        r.binaries,
        r.iterations,
        processes=powers,
    )
    out.notes.append("sequential baseline: processes placed first, then the storage devices")
    return out
