"""Storage scheduling against the belief store: resolve sensors, solve, save schedules as beliefs.

:func:`schedule_storage` is what the CLI (``flexpipe add schedule for-storage``), the API and the
Dagster asset call:

- the devices: one power sensor (``sensor_id``), or an asset (``asset_id``): a device asset
  (its ``flex_model`` names a ``sensor``) or a site, whose descendant device assets are all
  scheduled together behind its grid connection;
- flex-models: stored on each device asset, overridden field by field by the request's;
- flex-context: the request's, then the asset's, its parent's, … (nearest wins,
  :func:`~flex_pipelines.scheduling.flex_context.merge_flex_contexts`);
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

from flex_pipelines.beliefs.model import Asset, SaveResult, Sensor, Source
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.scheduling.fields import RawSeries
from flex_pipelines.scheduling.flex_context import merge_flex_contexts
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid, make_grid
from flex_pipelines.scheduling.result import ScheduleResult
from flex_pipelines.scheduling.storage import SCHEDULER_VERSION, build_problem, solve
from flex_pipelines.time import parse_datetime
from flex_pipelines.units import convert, is_energy_unit, is_power_unit

__all__ = ["StorageRun", "schedule_storage", "SOURCE_NAME"]

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


def _store_resolver(store: BeliefStore, as_of: datetime | None):
    def resolve(sensor_id: int, start: datetime, end: datetime, source_types=None) -> RawSeries:
        sensor = store.get_sensor(sensor_id)
        res = sensor.event_resolution
        if res <= timedelta(0):
            res = timedelta(minutes=15)
        q0 = datetime.fromtimestamp(
            start.timestamp() - start.timestamp() % res.total_seconds(), UTC
        )
        frame = store.search_beliefs(
            sensor_id, q0, end, as_of=as_of, one_per_event=True,
            source_types=list(source_types) if source_types else None,
            exclude_source_types=None if source_types else ["scheduler"],
        )  # fmt: skip
        n = int(np.ceil((end - q0).total_seconds() / res.total_seconds()))
        vals = np.full(n, np.nan)
        if not frame.is_empty():
            offs = frame["event_start"].dt.epoch("us").to_numpy() - int(q0.timestamp() * 1e6)
            idx = offs // int(res.total_seconds() * 1e6)
            ok = (idx >= 0) & (idx < n)
            vals[idx[ok]] = frame["event_value"].to_numpy()[ok]
        return RawSeries(q0, res, sensor.unit, vals)

    return resolve


def _descendant_devices(store: BeliefStore, asset: Asset) -> list[Asset]:
    out = []
    for child in store.list_assets(parent_id=asset.id):
        fm = child.flex_model or {}
        if isinstance(fm, Mapping) and "sensor" in fm and "process-type" not in fm:
            out.append(child)
        out.extend(_descendant_devices(store, child))
    return out


def _site_processes(store: BeliefStore, asset_id: int) -> list[dict[str, Any]]:
    """Process flex-models (with their power ``sensor``) of the assets below a site asset, for the
    joint solve (scheduling/joint.py); none when ``asset_id`` is itself a device."""
    asset = store.get_asset(asset_id)
    fm = asset.flex_model
    if isinstance(fm, list) or (isinstance(fm, Mapping) and "sensor" in fm):
        return []
    out: list[dict[str, Any]] = []

    def walk(parent: int) -> None:
        for child in store.list_assets(parent_id=parent):
            cfm = child.flex_model or {}
            if isinstance(cfm, Mapping) and "process-type" in cfm and "sensor" in cfm:
                out.append({"name": child.name, **dict(cfm)})
            walk(child.id)

    walk(asset.id)
    return out


def _ancestry(store: BeliefStore, asset_id: int) -> list[Asset]:
    fn = getattr(store, "asset_ancestry", None)
    if fn is not None:
        return list(fn(asset_id))
    out, cur = [], asset_id
    while cur is not None:
        a = store.get_asset(cur)
        out.append(a)
        cur = a.parent_id
    return out


def _gather(
    store: BeliefStore,
    sensor_id: int | None,
    asset_id: int | None,
    flex_model: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Device flex-models (stored, overridden by the request) and the asset for the context."""
    requested = (
        [dict(flex_model)]
        if isinstance(flex_model, Mapping)
        else [dict(f) for f in flex_model or []]
    )
    stored: list[dict[str, Any]] = []
    ctx_asset: int | None = None
    if asset_id is not None:
        asset = store.get_asset(asset_id)
        ctx_asset = asset.id
        fm = asset.flex_model
        if isinstance(fm, list):
            stored = [dict(f) for f in fm]
        elif isinstance(fm, Mapping) and "sensor" in fm:
            stored = [dict(fm)]
        else:
            stored = [
                dict(a.flex_model) | {"name": a.name} for a in _descendant_devices(store, asset)
            ]
    elif sensor_id is not None:
        sensor = store.get_sensor(sensor_id)
        ctx_asset = sensor.asset_id
        fm = store.get_asset(sensor.asset_id).flex_model if sensor.asset_id is not None else {}
        base = dict(fm) if isinstance(fm, Mapping) and fm.get("sensor") in (None, sensor_id) else {}
        stored = [{**base, "sensor": sensor_id}]
    else:
        raise SchedulingError("schedule: give a power sensor id or an asset id")
    by_sensor = {int(f["sensor"]): f for f in stored if isinstance(f.get("sensor"), int)}
    for req in requested:
        sid = req.get("sensor", sensor_id if len(requested) == 1 else None)
        if sid is None:
            raise SchedulingError(f"flex-model {req!r}: each device needs its power 'sensor'")
        by_sensor[int(sid)] = {**by_sensor.get(int(sid), {}), **req, "sensor": int(sid)}
    if not by_sensor:
        raise SchedulingError(
            f"asset {asset_id}: no storage devices (assets whose flex-model names a sensor)"
        )
    return list(by_sensor.values()), ctx_asset


def _soc_at_start(
    store: BeliefStore, fm: dict[str, Any], start: datetime, as_of: datetime | None
) -> None:
    ref = fm.get("state-of-charge")
    sid = ref.get("sensor") if isinstance(ref, Mapping) else ref
    if fm.get("soc-at-start") is not None or not isinstance(sid, int):
        return
    sensor = store.get_sensor(sid)
    frame = store.search_beliefs(sid, start, start + timedelta(microseconds=1), as_of=as_of,
                                 one_per_event=True)  # fmt: skip
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
    """Schedule one storage device (``sensor_id``) or all devices of an asset; save the beliefs.

    ``start``/``end`` (or ``duration``) are tz-aware; the resolution is the first device's power
    sensor resolution. For a site (``asset_id``), process assets below it (flex-model with a
    ``process-type`` and a ``sensor``) are scheduled jointly with the storage devices under the
    site's limits (``include_processes=False``: storage only); their power schedules are saved
    on their power sensors. Returns a :class:`StorageRun`; raises a :class:`SchedulingError` (e.g.
    :class:`~flex_pipelines.scheduling.diagnostics.InfeasibleError`) naming field and time.
    ``method``: see :func:`~flex_pipelines.scheduling.storage.solve` (auto, dp, milp).
    """
    if start is None:
        raise SchedulingError("schedule: 'start' missing")
    as_of_dt = parse_datetime(as_of) if isinstance(as_of, str) else as_of
    fms, ctx_asset = _gather(store, sensor_id, asset_id, flex_model)
    procs = _site_processes(store, asset_id) if asset_id is not None and include_processes else []
    # process entries given in the request (or stored on the scheduled device) join them
    given = [f for f in fms if "process-type" in f]
    fms = [f for f in fms if "process-type" not in f]
    procs = given + [f for f in procs if f["sensor"] not in {g["sensor"] for g in given}]
    sensors = {int(f["sensor"]): store.get_sensor(int(f["sensor"])) for f in fms + procs}
    res = {sensors[int(f["sensor"])].event_resolution for f in fms or procs}
    if len(res) != 1:
        raise SchedulingError(f"devices have different power resolutions {sorted(map(str, res))}; "
                              "schedule them separately")  # fmt: skip
    resolution = res.pop()
    # processes on another resolution are left to the standalone process scheduler
    skipped = [f for f in procs if sensors[int(f["sensor"])].event_resolution != resolution]
    procs = [f for f in procs if f not in skipped]
    grid = make_grid(start, resolution, end=end, duration=duration if end is None else None)
    chain = [flex_context or {}]
    if ctx_asset is not None:
        chain += [a.flex_context for a in _ancestry(store, ctx_asset)]
    fc = merge_flex_contexts(chain)
    for f in fms:
        f.setdefault("name", sensors[int(f["sensor"])].name)
        _soc_at_start(store, f, grid.start, as_of_dt)
    for f in procs:  # a bare-number power is in the process sensor's unit (FlexMeasures)
        f.setdefault("name", sensors[int(f["sensor"])].name)
        if isinstance(f.get("power"), int | float):
            f["power"] = f"{f['power']} {sensors[int(f['sensor'])].unit}"
    problem = build_problem(grid, fms + procs, fc, _store_resolver(store, as_of_dt))
    result = solve(problem, backend, method=method)
    result.notes += [f"process {f['name']!r} not scheduled jointly: its power sensor has another "
                     f"resolution" for f in skipped]  # fmt: skip
    belief_time = (as_of_dt or datetime.now(UTC)).astimezone(UTC)
    run = StorageRun(result, None, None, belief_time, {d.name: int(f["sensor"]) for d, f in zip(
        problem.devices, fms, strict=True)})  # fmt: skip
    run.sensors.update({pd.name: int(pd.power_sensor) for pd in problem.processes})
    if not save:
        return run
    source = store.get_or_create_source(name=SOURCE_NAME, type="scheduler",
                                        model="StorageScheduler", version=SCHEDULER_VERSION)  # fmt: skip
    frames = []
    for dev, sched, f in zip(problem.devices, result.devices[: len(problem.devices)], fms,
                             strict=True):  # fmt: skip
        s = sensors[int(f["sensor"])]
        frames.append(
            _frame(s, _to_sensor_unit(sched.power_mw, "MW", s), grid, belief_time, source)
        )
        if dev.state_of_charge_sensor is not None and sched.soc_mwh is not None:
            ss = store.get_sensor(dev.state_of_charge_sensor)
            vals = (sched.soc_mwh / dev.soc_max_mwh * 100.0 if ss.unit.strip() == "%"
                    else _to_sensor_unit(sched.soc_mwh, "MWh", ss))  # fmt: skip
            frames.append(_frame(ss, vals, grid, belief_time, source, instants=True))
        for sid, vals in ((dev.consumption_sensor, np.maximum(sched.power_mw, 0)),
                          (dev.production_sensor, np.maximum(-sched.power_mw, 0))):  # fmt: skip
            if sid is not None:
                os_ = store.get_sensor(sid)
                frames.append(
                    _frame(os_, _to_sensor_unit(vals, "MW", os_), grid, belief_time, source)
                )
    for sched in result.devices[len(problem.devices) :]:  # jointly scheduled processes
        s = sensors[int(sched.power_sensor)]
        frames.append(
            _frame(s, _to_sensor_unit(sched.power_mw, "MW", s), grid, belief_time, source)
        )
    agg = fc.get("aggregate-power")
    if isinstance(agg, Mapping) and isinstance(agg.get("sensor"), int):
        a_s = store.get_sensor(int(agg["sensor"]))
        frames.append(
            _frame(a_s, _to_sensor_unit(result.site_power_mw, "MW", a_s), grid, belief_time, source)
        )
    with store.transaction():
        saved = store.save_beliefs(pl.concat(frames))
    run.source, run.saved = source, saved
    return run


def _to_sensor_unit(values: np.ndarray, unit: str, sensor: Sensor) -> np.ndarray:
    if not (is_power_unit(sensor.unit) or is_energy_unit(sensor.unit)):
        raise SchedulingError(f"sensor {sensor.id} ({sensor.name}) has unit {sensor.unit!r}; "
                              f"a schedule in {unit} cannot be saved on it")  # fmt: skip
    return np.asarray(
        convert(values, unit, sensor.unit, resolution=sensor.event_resolution or None)
    )


def _frame(
    sensor: Sensor, values: np.ndarray, grid: TimeGrid, belief_time: datetime, source: Source,
    instants: bool = False,
) -> pl.DataFrame:  # fmt: skip
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
