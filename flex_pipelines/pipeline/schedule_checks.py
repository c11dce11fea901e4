"""Saved schedules against the hard limits the scheduler reads (device power, site connection,
state-of-charge bounds): what the ``schedules_within_limits`` asset check evaluates. No dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.pipeline.sites import Site, list_sites

__all__ = ["ScheduleCheck", "check_saved_schedules", "schedule_violations"]


def _step_of(start: datetime, step: timedelta, n: int, t: datetime) -> int | None:
    """The index of the step starting at ``t`` (None when off the grid or outside it)."""
    i, rest = divmod(t - start, step)
    return int(i) if not rest and 0 <= i < n else None


def schedule_violations(
    store: BeliefStore, site: Site, start: datetime, end: datetime
) -> tuple[int, list[str]]:
    """Check the latest saved schedules of a site against the hard limits the scheduler reads
    from its flex-models and flex-context (:func:`~flex_pipelines.scheduling.limits.schedule_limits`):
    device power, site connection and SoC bounds.

    Returns (values checked, violations naming device, value, limit and time).
    """
    from flex_pipelines.scheduling.grid import make_grid
    from flex_pipelines.scheduling.limits import schedule_limits
    from flex_pipelines.scheduling.storage_store import store_resolver
    from flex_pipelines.units import convert

    if not site.devices:
        return 0, []
    sensors = {d.power_sensor_id: store.get_sensor(d.power_sensor_id) for d in site.devices}
    res = min(s.event_resolution for s in sensors.values())
    grid = make_grid(start, res, end=end)
    limits = schedule_limits(
        [{**d.flex_model, "name": d.name} for d in site.devices],
        site.flex_context,
        grid,
        store_resolver(store, None),
        timezone=site.timezone,
        power_units={i: s.unit for i, s in sensors.items()},
    )
    checked, bad = 0, []
    net = np.zeros(grid.n_steps)
    tol = 1e-6
    for lim in limits.devices:
        sensor = sensors[lim.power_sensor_id]
        frame = store.search_beliefs(
            sensor.id, start, end, source_types=["scheduler"], one_per_event=True
        )
        mw = np.asarray(
            convert(
                frame["event_value"].to_numpy(),
                sensor.unit,
                "MW",
                resolution=sensor.event_resolution or None,
            ),
            dtype=float,
        )
        idx = [_step_of(grid.start, grid.resolution, grid.n_steps, t) for t in frame["event_start"]]
        for t, i, v in zip(frame["event_start"], idx, mw, strict=True):
            if i is None:
                continue
            checked += 1
            net[i] += v
            cap = lim.max_consumption_mw[i] if v >= 0 else lim.max_production_mw[i]
            if abs(v) > cap * (1 + tol) + tol:
                bad.append(
                    f"device {lim.name} power {v * 1000:g} kW exceeds its {'consumption' if v >= 0 else 'production'} capacity {cap * 1000:g} kW at {t.isoformat()}"
                )
        soc_id = next(
            (
                d.state_of_charge_sensor_id
                for d in site.devices
                if d.power_sensor_id == lim.power_sensor_id
            ),
            None,
        )
        if soc_id is None or lim.soc_min_mwh is None or lim.soc_max_mwh is None:
            continue
        soc_sensor = store.get_sensor(soc_id)
        if soc_sensor.unit.strip() == "%":
            continue  # a percentage of soc-max: the scheduler only writes values within it
        sf = store.search_beliefs(
            soc_id,
            start + grid.resolution,
            end + timedelta(microseconds=1),
            source_types=["scheduler"],
            one_per_event=True,
        )
        mwh = np.asarray(convert(sf["event_value"].to_numpy(), soc_sensor.unit, "MWh"), dtype=float)
        for t, v in zip(sf["event_start"], mwh, strict=True):
            i = _step_of(grid.start, grid.resolution, grid.n_steps, t - grid.resolution)
            if i is None:
                continue
            checked += 1
            lo, hi = lim.soc_min_mwh[i], lim.soc_max_mwh[i]
            if v < lo - 1e-6 * max(1, abs(lo)) or v > hi + 1e-6 * max(1, abs(hi)):
                bad.append(
                    f"device {lim.name} state of charge {v * 1000:g} kWh outside [{lo * 1000:g}, {hi * 1000:g}] kWh at {t.isoformat()}"
                )
    for i in range(grid.n_steps):
        cap = limits.max_consumption_mw[i] if net[i] >= 0 else limits.max_production_mw[i]
        if abs(net[i]) > cap * (1 + tol) + tol:
            bad.append(
                f"site {site.id} ({site.name}) devices draw {net[i] * 1000:g} kW, over its {'consumption' if net[i] >= 0 else 'production'} capacity {cap * 1000:g} kW at {grid.time_at_step(i).isoformat()}"
            )
    return checked, bad


@dataclass
class ScheduleCheck:
    """Every site's saved schedules against their hard limits (:func:`check_saved_schedules`)."""

    values_checked: int = 0
    violations: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)  # sites whose limits cannot be read


def check_saved_schedules(store: BeliefStore, start: datetime, end: datetime) -> ScheduleCheck:
    """:func:`schedule_violations` of every site for [start, end), their inputs and saved
    schedules read once for all of them (:func:`~flex_pipelines.service.prefetch.site_reads`).
    A site whose flex-model cannot be read is listed as not checked (its schedule failed for the
    same reason)."""
    from flex_pipelines.service.prefetch import site_reads
    from flex_pipelines.sites import AssetTree

    tree = AssetTree.load(store)
    sites = list_sites(store, tree)
    scopes = [x.scope() for x in sites]
    reads = site_reads(store, tree, scopes, start, end, datetime.now(UTC), schedules=True)
    out = ScheduleCheck()
    for site in sites:
        try:
            n, bad = schedule_violations(reads, site, start, end)  # type: ignore[arg-type]
        except FlexPipelinesError as exc:
            out.not_checked.append(f"site {site.id} ({site.name}): {exc}")
            continue
        out.values_checked += n
        out.violations += bad
    return out
