"""Schedule a batch of sites for every local day of a window: what a chunk step of the
``schedules`` asset does, without dagster.

Each day is one :func:`~flex_pipelines.service.batch.schedule_sites` batch (one read per input
role, the solves, one bulk save) as the local admin; consecutive days continue from the planned
state of charge. Intraday runs start at the current quarter hour from the latest state of charge
(:func:`~flex_pipelines.service.batch.latest_socs`), so the past is never re-planned; replays
read inputs as known at each day's start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.pipeline.sites import day_windows, list_sites
from flex_pipelines.service.access import LOCAL_ADMIN
from flex_pipelines.service.batch import BatchRecord, latest_socs, schedule_sites
from flex_pipelines.sites import AssetTree
from flex_pipelines.time import floor_to

__all__ = ["DaysOfBatch", "schedule_days"]


@dataclass
class DaysOfBatch:
    """What :func:`schedule_days` did: the window it planned, the ingestion watermark its inputs
    were read at, and one batch record per local day."""

    start: datetime  # intraday: the current quarter hour, else the window's start
    end: datetime
    now: datetime
    watermark: int
    days: list[tuple[date, BatchRecord]] = field(default_factory=list)


def schedule_days(
    store: BeliefStore,
    site_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    kinds: Iterable[str] = ("storage", "process"),
    intraday: bool = False,
    replay: bool = False,
    now: datetime | None = None,
) -> DaysOfBatch:
    """Schedule ``site_ids`` for every local day of [start, end) (see the module docstring).

    Parameters
    ----------
    store
        The belief store.
    site_ids
        Site asset ids.
    start, end
        The window (tz-aware).
    kinds
        Which devices to schedule (``storage``, ``process``).
    intraday
        Plan from the current quarter hour of ``now`` on, from the latest state of charge.
    replay
        Read inputs as known at each day's start (backtests) instead of as known ``now``.
    now
        The clock (default the wall clock, read per day).

    Returns
    -------
    DaysOfBatch
        The planned window and one :class:`BatchRecord` per day (none when an intraday window
        has ended).
    """
    clock = now.astimezone(UTC) if now else datetime.now(UTC)
    if intraday:
        start = max(start, floor_to(clock, timedelta(minutes=15)))
    # the inputs this run sees: beliefs that arrive while it solves come after this mark and
    # trigger another re-optimisation (the run's own outputs are ignored by source type)
    out = DaysOfBatch(start, end, clock, store.ingestion_watermark())
    if start >= end:
        return out
    tree = AssetTree.load(store)
    wanted = set(site_ids)
    sites = [x for x in list_sites(store, tree) if x.id in wanted]
    soc = latest_socs(store, sites, start, tree=tree) if intraday else {}
    for day, ws, we in day_windows(start, end):
        ws = max(ws, start)
        known = now.astimezone(UTC) if now else datetime.now(UTC)
        batch = schedule_sites(
            LOCAL_ADMIN,
            store,
            site_ids,
            ws,
            we,
            as_of=min(known, ws) if replay else known,
            tree=tree,
            kinds=kinds,
            soc_at_start=soc,
        )
        soc = {r.site_id: r.end_soc for r in batch.records if r.site_id and r.end_soc}
        out.days.append((day, batch))
    return out
