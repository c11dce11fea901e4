"""Schedule a site or a device: the one use case behind the API's triggers, the CLI's
``add schedule`` commands and the Dagster schedules asset.

:func:`prepare_schedule` resolves what a request covers (the site model's scopes), checks the
caller may read every input and write every output it names, and validates process flex-models:
the API calls it at trigger time (403/400 before a job exists). :func:`schedule` does that and
runs the schedulers:

- a site with storage devices: the storage scheduler for all of them, with the site's processes
  of the same resolution scheduled jointly under the same grid limits;
- every other process (no storage at the site, another resolution, or ``kinds`` without
  ``storage``): the process scheduler, one process at a time;

so each device gets exactly one schedule per request. Saves happen in one transaction per site.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.service.access import Caller, authorize
from flex_pipelines.service.records import (
    RunWarning,
    ScheduleRecord,
    SchedulerRun,
    warnings_from_result,
)
from flex_pipelines.sites import AssetTree, Scope, Site
from flex_pipelines.time import n_steps

__all__ = ["MissingInputsError", "SchedulePlan", "input_gaps", "prepare_schedule", "schedule"]

FlexModel = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MissingInputsError(FlexPipelinesError):
    """A window cannot be scheduled because inputs are not in the store (a skip, not a failure)."""


@dataclass(frozen=True)
class SchedulePlan:
    """What a schedule request covers, checked: one scope per site."""

    scopes: tuple[Scope, ...]

    @property
    def power_sensor_ids(self) -> list[int]:
        return [int(f["sensor"]) for sc in self.scopes for f in sc.flex_models]


def prepare_schedule(
    caller: Caller,
    store: BeliefStore,
    *,
    asset_id: int | None = None,
    sensor_id: int | None = None,
    flex_model: FlexModel = None,
    flex_context: Mapping[str, Any] | None = None,
    tree: AssetTree | None = None,
) -> SchedulePlan:
    """Resolve and check a schedule request without running it.

    Raises
    ------
    AccessDenied
        When the caller may not write a device's power sensor or any output the flex-model or
        flex-context names, or may not read one of its inputs.
    FlexPipelinesError
        For requests that name no device, sensors outside the asset, bad process fields or
        bad risk-aware fields (``risk-aversion``, ``cvar-alpha``, ``scenarios``,
        ``scenario-seed``).
    """
    from flex_pipelines.scheduling.flex_context import parse_risk
    from flex_pipelines.scheduling.process_model import parse_process_flex_model
    from flex_pipelines.scheduling.references import flex_references
    from flex_pipelines.units import is_power_unit

    tree = tree or AssetTree.load(store)
    fm: Any = flex_model
    if sensor_id is not None and isinstance(fm, Sequence) and not isinstance(fm, Mapping):
        fm = fm[0] if len(fm) == 1 else fm
    given = [fm] if isinstance(fm, Mapping) else list(fm or [])
    authorize(caller, store, flex_references(given, flex_context))  # the request's own first
    scopes = tree.scopes(
        asset_id=asset_id, sensor_id=sensor_id, flex_model=fm, flex_context=flex_context
    )
    authorize(caller, store, [r for sc in scopes for r in sc.references()])
    for sc in scopes:  # risk-aware fields: a bad value is refused before any job runs
        parse_risk(sc.flex_context)
    for sc in scopes:
        for f in sc.of_kind("process"):
            sensor = tree.sensor(int(f["sensor"]))
            parse_process_flex_model(
                {k: v for k, v in f.items() if k not in ("sensor", "name")},
                timezone=sensor.timezone,
                default_power_unit=sensor.unit if is_power_unit(sensor.unit) else None,
            )
    return SchedulePlan(tuple(scopes))


def schedule(
    caller: Caller,
    store: BeliefStore,
    start: datetime,
    end: datetime,
    *,
    asset_id: int | None = None,
    sensor_id: int | None = None,
    flex_model: FlexModel = None,
    flex_context: Mapping[str, Any] | None = None,
    as_of: datetime | None = None,
    kinds: Iterable[str] = ("storage", "process"),
    soc_at_start: Mapping[int, str] | None = None,
    method: str = "auto",
    backend: str = "highs",
    save: bool = True,
    plan: SchedulePlan | None = None,
) -> list[ScheduleRecord]:
    """Schedule an asset (each site at or below it) or one device's power sensor for
    [start, end) and save the schedules; one record per site.

    Parameters
    ----------
    caller
        Who asks (access is checked on every sensor the request names).
    start, end
        The window (tz-aware).
    flex_model, flex_context
        The request's fields over the stored ones.
    as_of
        Inputs as known then, and the schedules' belief time (default now).
    kinds
        ``storage`` and/or ``process``: which devices to schedule.
    soc_at_start
        Power sensor id → e.g. ``"0.2 MWh"``: continue from a previous window's plan.
    method, backend
        The storage scheduler's solver choices (:func:`~flex_pipelines.scheduling.storage.solve`).
    save
        False: compute only.
    plan
        A plan from :func:`prepare_schedule` (skips resolving and checking again).

    Raises
    ------
    AccessDenied, FlexPipelinesError
        See :func:`prepare_schedule`; the schedulers' errors (infeasible, missing prices) name
        field and time, and nothing is saved for that site.
    """
    plan = plan or prepare_schedule(
        caller,
        store,
        asset_id=asset_id,
        sensor_id=sensor_id,
        flex_model=flex_model,
        flex_context=flex_context,
    )
    belief_time = (as_of or datetime.now(UTC)).astimezone(UTC)
    return [
        _schedule_scope(
            store, sc, start, end, belief_time, set(kinds), soc_at_start, method, backend, save
        )
        for sc in plan.scopes
    ]


def _schedule_scope(
    store: BeliefStore,
    scope: Scope,
    start: datetime,
    end: datetime,
    belief_time: datetime,
    kinds: set[str],
    soc_at_start: Mapping[int, str] | None,
    method: str,
    backend: str,
    save: bool,
    collect: list[Any] | None = None,
) -> ScheduleRecord:
    """One site's scope: the storage scheduler (processes jointly), then other processes;
    ``collect``: hand the storage scheduler's frames to a batch instead of saving them."""
    from flex_pipelines.scheduling.process_store import schedule_process_for_sensor
    from flex_pipelines.scheduling.storage_store import schedule_scope

    site = scope.site
    out = ScheduleRecord(site.id if site else None, start, end, belief_time)
    storage = scope.of_kind("storage") if "storage" in kinds else []
    processes = scope.of_kind("process") if "process" in kinds else []
    device_of = {d.power_sensor_id: d.id for d in (site.devices if site else ())}
    t0 = time.perf_counter()
    joint: set[int] = set()
    with store.transaction():
        if storage:
            fms = [
                {**f, "soc-at-start": soc_at_start[int(f["sensor"])]}
                if soc_at_start and int(f["sensor"]) in soc_at_start
                else dict(f)
                for f in storage
            ]
            run = schedule_scope(
                store,
                fms + [dict(f) for f in processes],
                scope.flex_context,
                start,
                end,
                as_of=belief_time,
                backend=backend,
                save=save,
                method=method,
                collect=collect,
            )
            res = run.result
            joint = {
                int(d.power_sensor)
                for d in res.devices
                if d.starts is not None and d.power_sensor is not None
            }
            sensors = [int(f["sensor"]) for f in storage] + sorted(joint)
            for d in res.devices:
                if (
                    d.soc_mwh is not None
                    and len(d.soc_mwh) == len(res.site_power_mw) + 1
                    and d.power_sensor is not None
                ):
                    out.end_soc[int(d.power_sensor)] = f"{float(d.soc_mwh[-1])} MWh"
            out.runs.append(
                SchedulerRun(
                    "StorageScheduler",
                    "storage",
                    [device_of.get(s, s) for s in sensors],
                    sensors,
                    run.cost_eur,
                    run.saved.n_new if run.saved else 0,
                    res.method,
                    run.source.id if run.source else None,
                    run,
                )
            )
            out.warnings += warnings_from_result(res)
            out.written_sensor_ids += _written(scope, sensors)
        for f in processes:
            sid = int(f["sensor"])
            if sid in joint:
                continue
            prun = schedule_process_for_sensor(
                store,
                sid,
                start,
                end - start,
                {k: v for k, v in f.items() if k not in ("sensor", "name")},
                flex_context=scope.flex_context,
                as_of=belief_time,
                save=save,
            )
            res_h = prun.sensor.event_resolution.total_seconds() / 3600
            cost = float((prun.schedule.power_mw * prun.prices_eur_per_mwh).sum() * res_h)
            out.runs.append(
                SchedulerRun(
                    "ProcessScheduler",
                    "process",
                    [device_of.get(sid, sid)],
                    [sid],
                    cost,
                    prun.saved.n_new if prun.saved else 0,
                    "",
                    prun.source.id if prun.source else None,
                    prun,
                )
            )
            out.warnings += [
                RunWarning("note", f"{f.get('name', sid)}: {n}") for n in prun.schedule.notes
            ]
            out.written_sensor_ids.append(sid)
    out.solve_s = time.perf_counter() - t0
    if not out.runs:
        what = " and ".join(sorted(kinds)) or "no kind"
        raise MissingInputsError(f"site {site.id if site else '-'}: no {what} device to schedule")
    return out


def _written(scope: Scope, power_sensors: list[int]) -> list[int]:
    """The sensors a storage run saves on: power, and the outputs the flex fields name."""
    refs = [r.sensor_id for r in scope.references() if r.role == "write"]
    return list(dict.fromkeys(power_sensors + refs))


def input_gaps(store: BeliefStore, site: Site, start: datetime, end: datetime) -> str | None:
    """Why a site cannot be scheduled for [start, end) from what the store holds, or None.

    Every sensor the site's flex-context reads as a series (prices, inflexible loads and PV,
    capacities given as sensors) must have a value for every one of its events in the window
    (scheduler beliefs do not count). The first gap found is named with its sensor, field and
    how many values exist.
    """
    from flex_pipelines.scheduling.references import flex_references

    refs = [
        r
        for r in flex_references([], site.flex_context)
        if r.role == "read" and not r.field.startswith("flex-context.commitments")
    ]
    seen: set[int] = set()
    for r in refs:
        if r.sensor_id in seen:
            continue
        seen.add(r.sensor_id)
        sensor = store.get_sensor(r.sensor_id)
        step = sensor.event_resolution
        if step <= timedelta(0):
            continue
        # events overlapping the window: an hourly price that began before an intraday start
        first = start - (start - _EPOCH) % step if step <= timedelta(hours=1) else start
        frame = store.search_beliefs(
            sensor.id, first, end, exclude_source_types=["scheduler"], one_per_event=True
        )
        whole = step <= timedelta(hours=1) and (end - first) % step == timedelta(0)
        want = n_steps(first, end, step) if whole else None
        got = frame.select("event_start").unique().height if frame.height else 0
        if got == 0 or (want is not None and got < want):
            have = f"{got} of {want}" if want is not None else f"{got}"
            return (
                f"site {site.id} ({site.name}): {r.field.removeprefix('flex-context.')} sensor "
                f"{sensor.id} has {have} values for {start.isoformat()} to {end.isoformat()}"
            )
    return None
