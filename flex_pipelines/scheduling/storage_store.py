"""Storage scheduling against the belief store: resolve sensors, solve, save schedules as beliefs.

:func:`schedule_storage` is what the CLI (``flexpipe add schedule for-storage``), the API and the
Dagster asset call:

- the devices, flex-models and flex-context: the site model's
  (:meth:`flex_pipelines.sites.AssetTree.scopes`: stored flex-models with the request's fields
  on top, the request's flex-context over the site's ancestry, nearest wins);
  :func:`schedule_scope` takes them ready-made (the service layer's entry point);
- sensor references resolve to the most recent belief per event known ``as_of`` (scheduler
  beliefs excluded); coarser series (hourly prices) are forward-filled onto the schedule's steps;
- power schedules are saved on each device's power sensor (in its unit), SoC on its
  ``state-of-charge`` sensor, the site's net power on ``aggregate-power``; source
  "FlexPipelines storage scheduler" (type scheduler, model StorageScheduler), belief time =
  ``as_of`` or now. Nothing is saved when the problem is infeasible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import SaveResult, Sensor, Source
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.scheduling.fields import RawSeries
from flex_pipelines.scheduling.flex_context import parse_risk
from flex_pipelines.scheduling.flex_model import entry_kind
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid, make_grid
from flex_pipelines.scheduling.result import ScheduleResult
from flex_pipelines.scheduling.storage import SCHEDULER_VERSION, build_problem, solve
from flex_pipelines.time import parse_datetime
from flex_pipelines.units import convert, is_energy_unit, is_power_unit

__all__ = ["StorageRun", "schedule_scope", "schedule_storage", "SOURCE_NAME"]

SOURCE_NAME = "FlexPipelines storage scheduler"


@dataclass
class StorageRun:
    """What :func:`schedule_storage` did: the result record, the source and what was saved."""

    result: ScheduleResult
    source: Source | None
    saved: SaveResult | None
    belief_time: datetime
    sensors: dict[str, int]  # device name → power sensor id

    @property
    def cost_eur(self) -> float:
        return float(self.result.costs.get("total", 0.0))


def store_resolver(store: BeliefStore, as_of: datetime | None):  # noqa: ANN201
    """The scheduler's reader of sensor-valued fields: the most recent belief per event known
    ``as_of`` (None: latest), scheduler beliefs excluded unless ``source_types`` asks for them,
    on the sensor's own grid from ``start`` floored to its resolution (NaN where no value)."""

    def resolve(sensor_id: int, start: datetime, end: datetime, source_types=None) -> RawSeries:
        sensor = store.get_sensor(sensor_id)
        res = sensor.event_resolution
        if res <= timedelta(0):
            res = timedelta(minutes=15)
        q0 = datetime.fromtimestamp(
            start.timestamp() - start.timestamp() % res.total_seconds(), UTC
        )
        frame = store.search_beliefs(
            sensor_id,
            q0,
            end,
            as_of=as_of,
            one_per_event=True,
            source_types=list(source_types) if source_types else None,
            exclude_source_types=None if source_types else ["scheduler"],
        )
        n = int(np.ceil((end - q0).total_seconds() / res.total_seconds()))
        vals = np.full(n, np.nan)
        if not frame.is_empty():
            offs = frame["event_start"].dt.epoch("us").to_numpy() - int(q0.timestamp() * 1e6)
            idx = offs // int(res.total_seconds() * 1e6)
            ok = (idx >= 0) & (idx < n)
            vals[idx[ok]] = frame["event_value"].to_numpy()[ok]
        return RawSeries(q0, res, sensor.unit, vals)

    return resolve


def _soc_at_start(
    store: BeliefStore, fm: dict[str, Any], start: datetime, as_of: datetime | None
) -> None:
    ref = fm.get("state-of-charge")
    sid = ref.get("sensor") if isinstance(ref, Mapping) else ref
    if fm.get("soc-at-start") is not None or not isinstance(sid, int):
        return
    sensor = store.get_sensor(sid)
    frame = store.search_beliefs(
        sid, start, start + timedelta(microseconds=1), as_of=as_of, one_per_event=True
    )
    if not frame.is_empty():
        fm["soc-at-start"] = f"{float(frame['event_value'][0])} {sensor.unit}"


def schedule_storage(
    store: BeliefStore,
    sensor_id: int | None = None,
    asset_id: int | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    duration: str | None = None,
    flex_model: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    flex_context: Mapping[str, Any] | None = None,
    as_of: datetime | str | None = None,
    backend: str = "highs",
    save: bool = True,
    include_processes: bool = True,
    method: str = "auto",
) -> StorageRun:
    """Schedule one storage device (``sensor_id``) or all devices of a site (``asset_id``).

    What the request covers is the site model's
    (:meth:`~flex_pipelines.sites.AssetTree.scopes`): stored flex-models with the request's
    fields on top, under the merged flex-context. An asset spanning several sites is refused
    (schedule each; the service layer does). See :func:`schedule_scope` for the rest.
    """
    from flex_pipelines.sites import AssetTree

    fm: Any = flex_model
    if isinstance(fm, Sequence) and not isinstance(fm, Mapping):
        fm = [dict(f) for f in fm]
        if sensor_id is not None and len(fm) == 1:
            fm = fm[0]
    scopes = AssetTree.load(store).scopes(
        asset_id=asset_id, sensor_id=sensor_id, flex_model=fm, flex_context=flex_context
    )
    if len(scopes) > 1:
        raise SchedulingError(
            f"asset {asset_id} spans {len(scopes)} sites "
            f"({', '.join(str(sc.site.id) for sc in scopes if sc.site)}); schedule each site"
        )
    return schedule_scope(
        store,
        scopes[0].flex_models,
        scopes[0].flex_context,
        start,
        end,
        duration=duration,
        as_of=as_of,
        backend=backend,
        save=save,
        include_processes=include_processes,
        method=method,
    )


def schedule_scope(
    store: BeliefStore,
    flex_models: Sequence[Mapping[str, Any]],
    flex_context: Mapping[str, Any],
    start: datetime | str | None,
    end: datetime | str | None = None,
    *,
    duration: str | None = None,
    as_of: datetime | str | None = None,
    backend: str = "highs",
    save: bool = True,
    include_processes: bool = True,
    method: str = "auto",
    collect: list[pl.DataFrame] | None = None,
) -> StorageRun:
    """Schedule storage devices (and processes jointly) under one merged flex-context; save.

    Parameters
    ----------
    flex_models
        Complete device flex-models, each with its power ``"sensor"`` (a ``process-type``
        marks a process, scheduled jointly under the same site limits unless
        ``include_processes`` is false or its sensor has another resolution).
    flex_context
        The merged flex-context (prices in currency/MWh or sensors, limits, …).
    start, end, duration
        The window (tz-aware); the resolution is the first device's power sensor's.
    as_of
        Inputs as known then; the schedule's belief time (default now).
    collect
        When given, the belief frames are appended to it instead of being saved (a batch saves
        many sites at once); ``run.saved`` stays None.

    Returns
    -------
    StorageRun
        ``result.notes`` name processes left out of the joint solve.

    Raises
    ------
    SchedulingError
        e.g. :class:`~flex_pipelines.scheduling.diagnostics.InfeasibleError`, naming field and
        time; nothing is saved then.
    """
    if start is None:
        raise SchedulingError("schedule: 'start' missing")
    _check_nested_outputs(flex_context)
    as_of_dt = parse_datetime(as_of) if isinstance(as_of, str) else as_of
    fms = [dict(f) for f in flex_models if "process-type" not in f]
    procs = [dict(f) for f in flex_models if "process-type" in f] if include_processes else []
    if not fms and not procs:
        raise SchedulingError("schedule: no storage devices (flex-models naming a power sensor)")
    sensors = {
        int(f["sensor"]): store.get_sensor(int(f["sensor"]))
        for f in fms + procs
        if isinstance(f.get("sensor"), int)
    }
    scheduled = [f for f in fms if entry_kind(f) == "storage" and isinstance(f.get("sensor"), int)]
    res = {sensors[int(f["sensor"])].event_resolution for f in scheduled or procs}
    if len(res) != 1:
        raise SchedulingError(
            f"devices have different power resolutions {sorted(map(str, res))}; "
            "schedule them separately"
        )
    resolution = res.pop()
    # processes on another resolution are left to the standalone process scheduler
    skipped = [f for f in procs if sensors[int(f["sensor"])].event_resolution != resolution]
    procs = [f for f in procs if f not in skipped]
    grid = make_grid(start, resolution, end=end, duration=duration if end is None else None)
    fc = dict(flex_context)
    for f in fms:
        if isinstance(f.get("sensor"), int):
            f.setdefault("name", sensors[int(f["sensor"])].name)
        if entry_kind(f) == "storage":
            _soc_at_start(store, f, grid.start, as_of_dt)
    for f in procs:  # a bare-number power is in the process sensor's unit (FlexMeasures)
        f.setdefault("name", sensors[int(f["sensor"])].name)
        if isinstance(f.get("power"), int | float):
            f["power"] = f"{f['power']} {sensors[int(f['sensor'])].unit}"
    # bare SoC numbers are in the power sensor's unit with "h" (kW → kWh), as in FlexMeasures
    soc_units = {
        sid: {"kW": "kWh", "MW": "MWh", "kWh": "kWh", "MWh": "MWh"}[s.unit]
        for sid, s in sensors.items()
        if s.unit in ("kW", "MW", "kWh", "MWh")
    }
    resolver = store_resolver(store, as_of_dt)
    problem = build_problem(grid, fms + procs, fc, resolver, soc_units)
    risk = parse_risk(fc)
    risk_notes: list[str] = []
    if risk is not None:  # one schedule for price/load paths from the quantile forecasts
        # on first use: it imports the forecasting package (seconds), which plain runs skip
        from flex_pipelines.scheduling.scenario_store import attach_scenarios

        risk_notes = attach_scenarios(
            store,
            problem,
            lambda r: build_problem(grid, fms + procs, fc, r, soc_units),
            resolver,
            grid,
            fms + procs,
            fc,
            risk,
            as_of_dt,
        )
    result = solve(problem, backend, method=method)
    result.notes += risk_notes
    result.notes += [
        f"process {f['name']!r} not scheduled jointly: its power sensor has another resolution"
        for f in skipped
    ]
    belief_time = (as_of_dt or datetime.now(UTC)).astimezone(UTC)
    run = StorageRun(result, None, None, belief_time, {})
    run.sensors.update(
        {d.name: int(d.power_sensor) for d in problem.devices if d.power_sensor is not None}
    )
    run.sensors.update({pd.name: int(pd.power_sensor) for pd in problem.processes})
    if not save:
        return run
    source = store.get_or_create_source(
        name=SOURCE_NAME, type="scheduler", model="StorageScheduler", version=SCHEDULER_VERSION
    )
    frames: list[pl.DataFrame] = []

    def save_power(sid: int | None, values_mw: np.ndarray) -> None:
        if sid is not None:
            s = sensors.get(sid) or store.get_sensor(sid)
            frames.append(_frame(s, _to_sensor_unit(values_mw, "MW", s), grid, belief_time, source))

    def save_split(cons: int | None, prod: int | None, values_mw: np.ndarray) -> None:
        """FlexMeasures' output convention: consumption only → the whole profile,
        consumption positive; production only → the whole profile, production positive;
        both → each its positive part."""
        if cons is not None:
            save_power(cons, np.maximum(values_mw, 0) if prod is not None else values_mw)
        if prod is not None:
            save_power(prod, np.maximum(-values_mw, 0) if cons is not None else -values_mw)

    for dev, sched in zip(problem.devices, result.devices[: len(problem.devices)], strict=True):
        save_power(dev.power_sensor, sched.power_mw)
        if dev.state_of_charge_sensor is not None and sched.soc_mwh is not None:
            ss = store.get_sensor(dev.state_of_charge_sensor)
            vals = (
                sched.soc_mwh / dev.soc_max_mwh * 100.0
                if ss.unit.strip() == "%"
                else _to_sensor_unit(sched.soc_mwh, "MWh", ss)
            )
            frames.append(_frame(ss, vals, grid, belief_time, source, instants=True))
        save_split(dev.consumption_sensor, dev.production_sensor, sched.power_mw)
    for sched in result.devices[len(problem.devices) :]:  # jointly scheduled processes
        save_power(int(sched.power_sensor), sched.power_mw)
    for g in problem.groups:
        save_power(g.power_sensor, result.group_power_mw[g.name])
        save_split(g.consumption_sensor, g.production_sensor, result.group_power_mw[g.name])
    save_power(problem.site.aggregate_power_sensor, result.site_power_mw)
    save_split(
        problem.site.aggregate_consumption_sensor,
        problem.site.aggregate_production_sensor,
        result.site_power_mw,
    )
    run.source = source
    if collect is not None:  # a batch (service/batch.py) saves many sites at once
        collect.extend(frames)
        return run
    with store.transaction():
        run.saved = store.save_beliefs(pl.concat(frames))
    return run


def _check_nested_outputs(flex_context: Mapping[str, Any]) -> None:
    """Access control checks the sensors the scheduler writes at the top level of the
    flex-context; an aggregate output inside a ``commodities`` entry would be written unchecked."""
    for entry in flex_context.get("commodities") or []:
        for key in ("aggregate-consumption", "aggregate-production", "aggregate-power"):
            if isinstance(entry, Mapping) and entry.get(key) is not None:
                raise SchedulingError(
                    f"flex-context commodities entry {entry.get('commodity', 'electricity')!r}: "
                    f"{key} inside 'commodities' is not saved by the store scheduler (its sensor "
                    "would escape the access check); give electricity's at the top level"
                )


def _to_sensor_unit(values: np.ndarray, unit: str, sensor: Sensor) -> np.ndarray:
    if not (is_power_unit(sensor.unit) or is_energy_unit(sensor.unit)):
        raise SchedulingError(
            f"sensor {sensor.id} ({sensor.name}) has unit {sensor.unit!r}; "
            f"a schedule in {unit} cannot be saved on it"
        )
    return np.asarray(
        convert(values, unit, sensor.unit, resolution=sensor.event_resolution or None)
    )


def _frame(
    sensor: Sensor,
    values: np.ndarray,
    grid: TimeGrid,
    belief_time: datetime,
    source: Source,
    instants: bool = False,
) -> pl.DataFrame:
    n = len(values)
    t0 = grid.start.astimezone(UTC)
    starts = [t0 + i * grid.resolution for i in range(n)]
    return pl.DataFrame(
        {
            "sensor_id": pl.Series([sensor.id] * n, dtype=pl.Int64),
            "event_start": pl.Series(starts, dtype=pl.Datetime("us", "UTC")),
            "belief_time": pl.Series([belief_time] * n, dtype=pl.Datetime("us", "UTC")),
            "source_id": pl.Series([source.id] * n, dtype=pl.Int64),
            "cumulative_probability": pl.Series([0.5] * n, dtype=pl.Float64),
            "event_value": pl.Series(np.asarray(values, dtype=float), dtype=pl.Float64),
        }
    )
