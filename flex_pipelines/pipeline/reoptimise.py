"""The planning window and what the re-optimisation sensor asks for (no dagster here).

- The **planning window** is today … today + ``planning_horizon_days`` (local days): the days an
  EMS plans, and the last days of the daily partitions (``end_offset = horizon + 1``), so every
  key a cycle or the sensor requests exists (``tests/dagster/test_partition_keys.py``).
- :func:`plan_reoptimisation` turns new ingestions into at most ``max_runs`` runs (one per day,
  with the sites whose inputs changed), skipping with their reason: days outside the window,
  site-days whose inputs are incomplete (:func:`~flex_pipelines.pipeline.check_inputs`) and
  site-days a schedule saved after those inputs arrived. The watermark of a schedule is kept in
  the store: its own saves are ingestions (scheduler-only, on the devices' power sensors), so an
  input ingestion followed by a schedule ingestion of the same site and day was seen.
  Runs beyond ``max_runs`` stay pending in the cursor for the next tick.
- The windows of today start at the current quarter hour: the past is never re-planned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flex_pipelines.beliefs import BeliefStore, Ingestion
from flex_pipelines.pipeline.sites import Site, days_in, list_sites, reopt_targets
from flex_pipelines.pipeline.steps import check_inputs
from flex_pipelines.service.prefetch import site_reads
from flex_pipelines.sites import AssetTree
from flex_pipelines.time import day_window, floor_to, get_zone

QUARTER_HOUR = timedelta(minutes=15)

Targets = dict[str, dict[int, int]]  # day (YYYY-MM-DD) → site id → newest input ingestion id


def local_today(now: datetime, timezone: str) -> date:
    """The local calendar day of ``now`` in ``timezone``."""
    return now.astimezone(get_zone(timezone)).date()


def planning_days(now: datetime, timezone: str, horizon_days: int) -> tuple[date, date]:
    """First and last local day an EMS plans at ``now``: today … today + ``horizon_days``."""
    today = local_today(now, timezone)
    return today, today + timedelta(days=horizon_days)


def plan_start(day: date, now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The UTC window of ``day`` that can still be planned at ``now``: from the current quarter
    hour on today, the whole day in the future, empty (start == end) in the past."""
    start, end = day_window(day, timezone)
    start = max(start, floor_to(now, QUARTER_HOUR))
    return min(start, end), end


@dataclass
class ReoptCursor:
    """The sensor's cursor: the last ingestion it has read and the targets it deferred."""

    ingestion: int
    pending: Targets = field(default_factory=dict)

    def dump(self) -> str:
        return json.dumps({"ingestion": self.ingestion, "pending": self.pending}, sort_keys=True)

    @classmethod
    def parse(cls, text: str | None) -> ReoptCursor | None:
        """None when the sensor has never run; a bare integer is a cursor without pending days."""
        if not text:
            return None
        if text.strip().isdigit():
            return cls(int(text))
        raw = json.loads(text)
        pending = {d: {int(s): int(i) for s, i in v.items()} for d, v in raw["pending"].items()}
        return cls(int(raw["ingestion"]), pending)


@dataclass(frozen=True)
class ReoptRun:
    """One run the sensor requests: a local day and the sites to re-plan on it."""

    day: str
    site_ids: tuple[int, ...]
    newest: int  # the newest input ingestion the run answers
    skipped: tuple[str, ...] = ()  # other site-days of this day, with their reason


@dataclass
class ReoptPlan:
    """What one tick does: runs, and why site-days got none."""

    runs: list[ReoptRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # incomplete inputs, already planned past
    outside: list[str] = field(default_factory=list)  # days outside the planning window
    already_scheduled: int = 0  # site-days whose inputs a later schedule saw
    deferred: Targets = field(default_factory=dict)  # beyond the per-tick bound

    def summary(self) -> str:
        parts = [f"{len(self.runs)} run(s)"]
        if self.already_scheduled:
            parts.append(
                f"{self.already_scheduled} site-day(s) already scheduled after their inputs"
            )
        if self.outside:
            parts.append(
                f"{len(self.outside)} day(s) outside the planning window ({self.outside[0]}…{self.outside[-1]}; backfill: flexpipe pipeline reoptimise)"
            )
        if self.skipped:
            parts.append(f"{len(self.skipped)} site-day(s) skipped: " + "; ".join(self.skipped[:5]))
        if self.deferred:
            parts.append(
                f"{len(self.deferred)} day(s) deferred to the next tick (at most runs per tick reached)"
            )
        return ", ".join(parts)


def merge_targets(a: Targets, b: Targets) -> Targets:
    """Union of two target maps, keeping the newest ingestion per site and day."""
    out = {d: dict(v) for d, v in a.items()}
    for day, sites in b.items():
        per_day = out.setdefault(day, {})
        for site_id, ing in sites.items():
            per_day[site_id] = max(per_day.get(site_id, 0), ing)
    return out


def scheduled_after(
    sites: Sequence[Site], ingestions: Sequence[Ingestion], timezone: str
) -> Targets:
    """Per day and site, the newest schedule save (a scheduler-only ingestion on one of the
    site's power sensors) among ``ingestions``."""
    by_power: dict[int, int] = {sid: site.id for site in sites for sid in site.power_sensor_ids()}
    out: Targets = {}
    for ing in ingestions:
        if not ing.source_types or not set(ing.source_types) <= {"scheduler"}:
            continue
        site_id = by_power.get(ing.sensor_id)
        if site_id is None:
            continue
        for d in days_in(ing.first_event_start, ing.last_event_end, timezone):
            per_day = out.setdefault(d.isoformat(), {})
            per_day[site_id] = max(per_day.get(site_id, 0), ing.id)
    return out


def plan_reoptimisation(
    store: BeliefStore,
    ingestions: Sequence[Ingestion],
    *,
    now: datetime,
    timezone: str,
    horizon_days: int,
    max_runs: int,
    pending: Targets | None = None,
) -> ReoptPlan:
    """The runs that answer ``ingestions`` (all newer than the sensor's cursor) and ``pending``
    targets of earlier ticks, nearest day first, at most ``max_runs``.

    Site-days are left out, each with its reason in the plan: days outside today … today +
    ``horizon_days``; sites whose inputs are incomplete for what remains of the day
    (:func:`check_inputs`, on the inputs of all a day's sites read at once); sites a schedule
    saved after the inputs arrived (both ingestions in ``ingestions``: anything older than the
    cursor was answered before). The sites are the store's (:func:`list_sites`).
    """
    tree = AssetTree.load(store)
    sites = list_sites(store, tree)
    plan = ReoptPlan()
    targets = merge_targets(pending or {}, reopt_targets(sites, ingestions, timezone))
    seen = scheduled_after(sites, ingestions, timezone)
    first, last = planning_days(now.astimezone(UTC), timezone, horizon_days)
    by_id = {s.id: s for s in sites}
    for day in sorted(targets):
        todo = {}
        for site_id, ing in targets[day].items():
            if seen.get(day, {}).get(site_id, 0) > ing:
                plan.already_scheduled += 1
            else:
                todo[site_id] = ing
        if not todo:
            continue
        if not first.isoformat() <= day <= last.isoformat():
            plan.outside.append(day)
            continue
        if len(plan.runs) >= max_runs:
            plan.deferred[day] = todo
            continue
        start, end = plan_start(date.fromisoformat(day), now, timezone)
        here = [by_id[i].scope() for i in todo if i in by_id]
        if here and start < end:  # every input of the day's sites in a few set-based reads
            reads: BeliefStore = site_reads(store, tree, here, start, end, now)  # type: ignore[assignment]
        ok, skipped = [], []
        for site_id in sorted(todo):
            site = by_id.get(site_id)
            if site is None:
                reason: str | None = f"site {site_id} is no longer a site"
            elif start >= end:
                reason = "the day has ended"
            else:
                reason = check_inputs(reads, site, start, end)
            if reason:
                skipped.append(f"{day}: {reason}")
            else:
                ok.append(site_id)
        plan.skipped += skipped
        if ok:
            plan.runs.append(ReoptRun(day, tuple(ok), max(todo[s] for s in ok), tuple(skipped)))
    return plan
