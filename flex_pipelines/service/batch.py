"""Schedule many sites for one window: one read per input role for the whole batch, the per-site
solves in a tight loop, one bulk save.

What one site at a time does with a few queries per input (sensor metadata, each price and load
series, each state of charge) the batch does with two set-based reads for all sites
(:class:`~flex_pipelines.service.prefetch.PrefetchedReads`): every series the sites' flex-models and flex-contexts read, as known
``as_of``, and every state-of-charge sensor at the window start. The solves are the service's
own (:func:`~flex_pipelines.service.schedule.schedule`'s per-scope path, same scheduler, same
methods), so a site scheduled in a batch gets exactly the schedule it gets alone. All frames are
saved with one ``save_beliefs`` call (Arrow on DuckDB, COPY on PostgreSQL), which logs one
ingestion per sensor. A site that fails (missing inputs, infeasible, refused) is reported with
its reason and does not fail the batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.service.access import Caller, authorize
from flex_pipelines.service.prefetch import site_reads
from flex_pipelines.service.records import ScheduleRecord
from flex_pipelines.service.schedule import _schedule_scope, input_gaps
from flex_pipelines.sites import AssetTree, Scope, Site

__all__ = ["BatchRecord", "SiteFailure", "latest_socs", "schedule_sites"]


@dataclass(frozen=True)
class SiteFailure:
    """A site of a batch that was not scheduled, and why: ``missing-inputs`` (a gap in its
    prices, loads, …: it is scheduled once they arrive) or ``error`` (refused, invalid or
    infeasible)."""

    site_id: int
    reason: str
    kind: str = "error"


@dataclass
class BatchRecord:
    """What scheduling a batch of sites for one window did."""

    start: datetime
    end: datetime
    belief_time: datetime
    records: list[ScheduleRecord] = field(default_factory=list)
    failures: list[SiteFailure] = field(default_factory=list)
    n_new: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # read_s, solve_s, save_s (s)

    @property
    def cost_eur(self) -> float:
        return sum(r.cost_eur for r in self.records)

    def to_record(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "belief_time": self.belief_time.isoformat(),
            "sites": len(self.records),
            "failed": [
                {"site_id": f.site_id, "reason": f.reason, "kind": f.kind} for f in self.failures
            ],
            "n_new": self.n_new,
            "cost_eur": round(self.cost_eur, 4),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def schedule_sites(
    caller: Caller,
    store: BeliefStore,
    site_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
    method: str = "auto",
    backend: str = "highs",
    save: bool = True,
    tree: AssetTree | None = None,
    kinds: Iterable[str] = ("storage", "process"),
    soc_at_start: Mapping[int, Mapping[int, str]] | None = None,
) -> BatchRecord:
    """Schedule a batch of sites for [start, end) (see the module docstring).

    Parameters
    ----------
    caller
        Who asks (access is checked per site; a refused site fails alone).
    site_ids
        Site asset ids (:meth:`~flex_pipelines.sites.AssetTree.sites`).
    start, end
        The window (tz-aware).
    as_of
        Inputs as known then; the schedules' belief time (default now).
    method, backend
        The storage scheduler's choices.
    save
        False: solve only.
    tree
        The asset tree, when the caller has it loaded already.
    kinds
        Which devices to schedule (``storage``, ``process``).
    soc_at_start
        Per site id: power sensor id → state of charge at ``start`` (e.g. ``"0.2 MWh"``), to
        continue from a previous window's plan or the latest measurement
        (:func:`latest_socs`).

    Returns
    -------
    BatchRecord
        One :class:`ScheduleRecord` per scheduled site, the failed sites with their reasons,
        beliefs saved, and read/solve/save times in seconds.
    """
    t0 = time.perf_counter()
    tree = tree or AssetTree.load(store)
    belief_time = (as_of or datetime.now(UTC)).astimezone(UTC)
    out = BatchRecord(start, end, belief_time)
    scopes: list[tuple[int, Scope]] = []
    for sid in site_ids:
        try:
            found = [sc for sc in tree.scopes(asset_id=sid) if sc.site and sc.site.id == sid]
            if not found:
                raise FlexPipelinesError(f"site {sid}: no device to schedule")
            authorize(caller, store, found[0].references(), tree=tree)
            scopes.append((sid, found[0]))
        except FlexPipelinesError as exc:
            out.failures.append(SiteFailure(sid, str(exc)))
    reads = site_reads(store, tree, [sc for _, sc in scopes], start, end, belief_time)
    t1 = time.perf_counter()
    frames: list[pl.DataFrame] = []
    for sid, sc in scopes:
        assert sc.site is not None
        reason = input_gaps(reads, sc.site, start, end)  # type: ignore[arg-type]
        if reason:
            out.failures.append(SiteFailure(sid, reason, "missing-inputs"))
            continue
        mine: list[pl.DataFrame] = []
        try:
            rec = _schedule_scope(
                reads,
                sc,
                start,
                end,
                belief_time,
                set(kinds),
                (soc_at_start or {}).get(sid),
                method,  # type: ignore[arg-type]
                backend,
                save,
                collect=mine,
            )
        except FlexPipelinesError as exc:
            out.failures.append(SiteFailure(sid, str(exc)))
            continue
        frames += mine
        out.records.append(rec)
    t2 = time.perf_counter()
    if frames and save:
        with store.transaction():
            saved = store.save_beliefs(pl.concat(frames))
        out.n_new = saved.n_new
        for rec in out.records:
            for run in rec.runs:
                run.n_new = sum(saved.new_by_sensor.get(s, 0) for s in run.power_sensor_ids)
    out.timings = {"read_s": t1 - t0, "solve_s": t2 - t1, "save_s": time.perf_counter() - t2}
    return out


def latest_socs(
    store: BeliefStore,
    sites: Sequence[Site],
    at: datetime,
    lookback: timedelta = timedelta(days=2),
    tree: AssetTree | None = None,
) -> dict[int, dict[int, str]]:
    """The latest known state of charge at or before ``at`` of every storage device of ``sites``,
    in two set-based reads for all of them.

    A measurement (any belief not made by a scheduler) wins; a device without one in
    ``[at - lookback, at]`` takes its latest schedule's plan. Sensors recorded in % are left out
    (a fraction needs the device's capacity, which the scheduler applies itself).

    Parameters
    ----------
    sites
        The sites (:meth:`~flex_pipelines.sites.AssetTree.sites`).
    at
        The time the states are wanted for (tz-aware).
    lookback
        How far back a state may lie.

    Returns
    -------
    dict
        Site id → {power sensor id → state of charge with its unit, e.g. ``"0.2 MWh"``}; sites
        with no known state are left out.
    """
    owner: dict[int, tuple[int, int]] = {}  # soc sensor → (site id, power sensor id)
    for site in sites:
        for dev in site.devices_of_kind("storage"):
            if dev.state_of_charge_sensor_id is not None:
                owner[dev.state_of_charge_sensor_id] = (site.id, dev.power_sensor_id)
    if not owner:
        return {}
    unit = {i: (tree.sensor(i) if tree else store.get_sensor(i)).unit.strip() for i in owner}
    ids = sorted(i for i in owner if unit[i] != "%")
    window = (at - lookback, at + timedelta(microseconds=1))
    found: dict[int, float] = {}
    for exclude in (["scheduler"], None):
        todo = [i for i in ids if i not in found]
        if not todo:
            break
        frame = store.search_beliefs(
            todo, *window, exclude_source_types=exclude, one_per_event=True
        )
        if frame.is_empty():
            continue
        last = frame.sort("event_start").group_by("sensor_id").agg(pl.col("event_value").last())
        found.update(zip(last["sensor_id"].to_list(), last["event_value"].to_list(), strict=True))
    out: dict[int, dict[int, str]] = {}
    for sensor_id, value in found.items():
        site_id, power_id = owner[int(sensor_id)]
        out.setdefault(site_id, {})[power_id] = f"{float(value)} {unit[int(sensor_id)]}"
    return out
