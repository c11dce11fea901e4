"""Schedules: one optimisation per site and day, fanned out as one step per chunk of sites.

The graph lists the sites to schedule (all, those a sensor asks for, or the named chunks),
groups them into chunks by site-id range (:mod:`flex_pipelines.service.chunks`: stable keys, so a
retried or re-triggered chunk redoes the same sites), maps one step over each chunk (the unit the
celery executor spreads over workers; inside it the service's batch scheduler reads each input
once for the chunk, solves each site and saves once) and collects the results into the asset's
materialization. A site whose inputs are missing is skipped with its reason; a site that is
infeasible or refused fails alone with its reason (nothing saved for it) and the others are
saved; a chunk in which every site failed fails its step. When no site could be scheduled the
asset is not materialized (a skip, not a failure). Step outputs are kept in the store
(:class:`resources.step_io.StoreIOManager`), never on a worker's disk.
"""

import os
import socket
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from dagster import (
    AssetIn,
    AssetKey,
    AssetObservation,
    BackfillPolicy,
    Config,
    DynamicOut,
    DynamicOutput,
    Failure,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    graph_asset,
    op,
)

from assets_defs.partitions import SETTINGS, daily_partitions, window_utc
from flex_pipelines.pipeline import list_sites, schedule_chart_markdown
from flex_pipelines.pipeline.batches import schedule_days
from flex_pipelines.pipeline.sparklines import schedule_sparklines
from flex_pipelines.service.batch import BatchRecord
from flex_pipelines.service.chunks import chunks_of, parse_chunk_key
from resources import STORE_POOL, STORE_RETRY, BeliefStoreResource
from resources.step_io import STEP_IO

SCHEDULES = AssetKey("schedules")
MAX_CHART_DAYS = 7  # a chart per partition for runs of at most a week


class ScheduleConfig(Config):
    """Which sites and devices, whether to re-plan only the rest of today (intraday), and whether
    to replay history (inputs as known at the window start, believed then) instead of using what
    is known now (the default: every run saves a new belief, believed now)."""

    site_ids: list[int] | None = None  # None: every site
    #: chunk keys (``sites_<first id>_<last id>``) to schedule; None: every chunk
    chunks: list[str] | None = None
    #: site asset ids per chunk when chunks are not named; None: FLEXPIPE_CHUNK_SPAN
    chunk_span: int | None = None
    kinds: list[str] = ["storage", "process"]
    intraday: bool = False  # never plan before the current quarter hour
    replay: bool = False  # read inputs as known at the window start (backtests; idempotent)
    #: ISO time to act as "now" (backtests of the intraday cycle); default: the clock
    now: str | None = None


def schedule_run_config(
    site_ids: Sequence[int] | None = None,
    *,
    chunks: Sequence[str] | None = None,
    intraday: bool = False,
    kinds: Sequence[str] | None = None,
    now: str | None = None,
    replay: bool = False,
    chunk_span: int | None = None,
) -> dict[str, Any]:
    """The run config of a run of ``schedules`` for some sites: the one place that knows where
    :class:`ScheduleConfig` sits in the graph (sensor, intraday cycle, runner and CLI use it)."""
    fields: dict[str, Any] = {"site_ids": None if site_ids is None else list(site_ids)}
    if chunks is not None:
        fields["chunks"] = list(chunks)
    fields.update(intraday=intraday, replay=replay, now=now, chunk_span=chunk_span)
    if kinds is not None:
        fields["kinds"] = list(kinds)
    config = ScheduleConfig(**fields)  # validates
    values = {
        k: v
        for k, v in config.model_dump().items()
        if k in fields and v != ScheduleConfig.model_fields[k].default
    }
    return {"ops": {"schedules": {"ops": {"schedule_targets": {"config": values}}}}}


@op(
    ins={"forecasts": In(Nothing)},
    out=DynamicOut(dict, io_manager_key=STEP_IO),
    retry_policy=STORE_RETRY,
)
def schedule_targets(
    context: OpExecutionContext, config: ScheduleConfig, store: BeliefStoreResource
) -> Iterator[DynamicOutput]:
    """One output per chunk of sites to schedule (:mod:`flex_pipelines.service.chunks`)."""
    with store.open() as s:
        sites = [x.id for x in list_sites(s)]
    wanted = [i for i in sites if config.site_ids is None or i in config.site_ids]
    if config.chunks is not None:
        named = sorted({parse_chunk_key(k) for k in config.chunks})
        groups = {c: [i for i in wanted if i in c] for c in named}
    else:
        groups = chunks_of(wanted, config.chunk_span or SETTINGS.chunk_span)
    groups = {c: ids for c, ids in groups.items() if ids}
    context.log.info(
        f"scheduling {sum(map(len, groups.values()))} of {len(sites)} sites in {len(groups)} "
        f"chunk(s): {', '.join(c.key for c in groups)}"
    )
    for chunk, ids in groups.items():
        target = {"chunk": chunk.key, "site_ids": ids, "kinds": config.kinds}
        target.update(intraday=config.intraday, replay=config.replay, now=config.now)
        yield DynamicOutput(target, mapping_key=chunk.key)


@op(
    pool=STORE_POOL,
    retry_policy=RetryPolicy(max_retries=2, delay=5),
    out=Out(dict, io_manager_key=STEP_IO),
)
def schedule_chunk(
    context: OpExecutionContext, target: dict, store: BeliefStoreResource
) -> dict[str, Any]:
    """Schedule a chunk of sites for every day of the partition window
    (:func:`~flex_pipelines.pipeline.batches.schedule_days`: one batch per day, days chained,
    intraday from the latest state of charge). A site that fails is reported with its reason;
    the step fails only when every site of the chunk failed with an error (not for missing
    inputs)."""
    start, end = window_utc(context.partition_time_window)
    ids = [int(i) for i in target["site_ids"]]
    with store.open() as s:
        run = schedule_days(
            s,
            ids,
            start,
            end,
            kinds=target["kinds"],
            intraday=target["intraday"],
            replay=bool(target.get("replay")),
            now=datetime.fromisoformat(target["now"]) if target.get("now") else None,
        )
    days = [_day_record(day.isoformat(), batch, ids) for day, batch in run.days]
    if run.start >= run.end:
        why = f"intraday at {run.now.isoformat()}: the window ended at {end.isoformat()}"
        days.append(_day_record(context.partition_keys[-1], None, ids, why))
    failed = [f for d in days for f in d["failed"]]
    for f in failed[:20]:
        context.log.error(f"site {f['site_id']}: {f['reason']}")
    for d in days:
        for x in d["skipped"][:5]:
            context.log.warning(f"skipped {d['day']}: {x['reason']}")
        for site_id, w in [(r["site_id"], w) for r in d["sites"] for w in r["warnings"]][:5]:
            context.log.warning(f"site {site_id}, {d['day']}: {w['message']}")
    if failed and not any(d["sites"] for d in days) and len(failed) >= len(ids):
        raise Failure(
            description=f"chunk {target['chunk']}: every site failed; first: "
            f"site {failed[0]['site_id']}: {failed[0]['reason']}",
            allow_retries=False,
        )
    return {
        "chunk": target["chunk"],
        "site_ids": ids,
        "days": days,
        "watermark": run.watermark,
        "worker": {"pid": os.getpid(), "hostname": socket.gethostname()},
    }


def _day_record(
    day: str, batch: BatchRecord | None, site_ids: Sequence[int], why: str = ""
) -> dict[str, Any]:
    """One day of a chunk as plain values (the step output kept in the store): per scheduled
    site its cost, beliefs, start, solve time and warnings; failed and skipped sites with
    their reasons; the batch's read/solve/save times."""
    if batch is None:
        skipped = [{"site_id": i, "reason": why} for i in site_ids]
        return {"day": day, "sites": [], "failed": [], "skipped": skipped, "timings": {}}
    sites = [
        {
            "site_id": r.site_id,
            "start": r.start.isoformat(),
            "cost_eur": round(r.cost_eur, 4),
            "n_beliefs": r.n_beliefs,
            "solve_s": round(r.solve_s, 4),
            "warnings": [w.to_json() for w in r.warnings],
        }
        for r in batch.records
    ]
    lost = [{"site_id": f.site_id, "reason": f.reason} for f in batch.failures]
    return {
        "day": day,
        "sites": sites,
        "failed": [x for x, f in zip(lost, batch.failures, strict=True) if f.kind == "error"],
        "skipped": [x for x, f in zip(lost, batch.failures, strict=True) if f.kind != "error"],
        "timings": {k: round(v, 4) for k, v in batch.timings.items()},
    }


def partition_metadata(results: Sequence[dict[str, Any]], day: str) -> dict[str, Any]:
    """One partition's own metadata from the chunk steps' results: its cost, site-days, rows,
    solve time, skipped and failed sites with their reasons, the schedulers' warnings (the
    service's records: kind, message, device, field, time, required, scheduled, cost; their
    messages also as a list) and each chunk's counts and read/solve/save times. A range run
    reports each day separately."""
    of_day = [(r, d) for r in results for d in r["days"] if d["day"] == day]
    done = [x for _, d in of_day for x in d["sites"]]
    skipped = [x["reason"] for _, d in of_day for x in d["skipped"]]
    failed = [x for _, d in of_day for x in d["failed"]]
    warnings = [{"site_id": x["site_id"], **w} for x in done for w in x["warnings"]]
    meta: dict[str, Any] = {
        "row_count": sum(x["n_beliefs"] for x in done),
        "site_days": len(done),
        "cost_eur": round(sum(x["cost_eur"] for x in done), 2),
        "solve_s": round(sum(x["solve_s"] for x in done), 3),
        "skipped": MetadataValue.json(skipped[:50]),
        "n_skipped": len(skipped),
        "n_failed": len(failed),
        "failed": MetadataValue.json(failed[:50]),
        "n_warnings": len(warnings),
        "warnings": MetadataValue.json(warnings[:50]),
        "per_site": MetadataValue.json(
            [{k: x[k] for k in ("site_id", "cost_eur", "n_beliefs", "start")} for x in done[:50]]
        ),
        "chunks": MetadataValue.json(
            [
                {
                    "chunk": r["chunk"],
                    "sites": len(r["site_ids"]),
                    "scheduled": len(d["sites"]),
                    "skipped": len(d["skipped"]),
                    "failed": len(d["failed"]),
                    **d["timings"],
                    "worker_pid": r["worker"]["pid"],
                }
                for r, d in of_day
            ]
        ),
    }
    if warnings:  # the messages as a list the asset page shows without a click
        meta["warning_messages"] = MetadataValue.md(
            "\n".join(f"- site {w['site_id']}: {w['message']}" for w in warnings[:20])
        )
    return meta


@op(out=Out(Nothing, is_required=False), retry_policy=STORE_RETRY)
def collect_schedules(
    context: OpExecutionContext, results: list[dict], store: BeliefStoreResource
) -> Iterator[Output]:
    """The asset's materializations: one per partition with that day's own cost, site-days,
    rows, solve time, skipped and failed sites, warnings, chunks and sparklines; the run's totals
    as ``run_*`` entries. Then each day's PNG chart as an observation of that partition (after
    the materialization: drawing it takes seconds in a run's fresh process)."""
    keys = list(context.partition_keys)
    days = [d for r in results for d in r["days"]]
    done = [x for d in days for x in d["sites"]]
    lost = [x for d in days for x in d["skipped"] + d["failed"]]
    if not done:
        reason = "; ".join(x["reason"] for x in lost[:3]) or "no site has a schedulable device"
        context.log.warning(f"schedules not materialized: {reason}")
        for key in context.selected_asset_keys or []:
            for day in keys:
                of_day = [x for d in days if d["day"] == day for x in d["skipped"] + d["failed"]]
                why = "; ".join(x["reason"] for x in of_day)[:2000] or reason
                context.log_event(AssetObservation(key, partition=day, metadata={"skipped": why}))
        return
    first = min((x["site_id"] for x in done), default=None)
    charted: list[tuple[str, datetime, datetime]] = []
    with store.open() as s:
        site = next((x for x in list_sites(s) if x.id == first), None)
        for day in keys:
            meta = partition_metadata(results, day)
            if site is not None and meta["site_days"] and len(keys) <= MAX_CHART_DAYS:
                ws, we = window_utc(daily_partitions.time_window_for_partition_key(day))
                lines = schedule_sparklines(s, site.power_sensor_ids()[0], ws, we)
                if lines:
                    meta["schedule"] = MetadataValue.text(lines)
                charted.append((day, ws, we))
            _add_partition_metadata(context, day, meta)
    timing = {
        k: sum(d["timings"].get(k, 0.0) for d in days) for k in ("read_s", "solve_s", "save_s")
    }
    yield Output(
        None,
        metadata={
            "run_days": len(keys),
            "run_row_count": sum(x["n_beliefs"] for x in done),
            "run_site_days": len(done),
            "run_cost_eur": round(sum(x["cost_eur"] for x in done), 2),
            "run_solve_s": round(sum(x["solve_s"] for x in done), 3),
            "run_n_skipped": sum(len(d["skipped"]) for d in days),
            "run_n_failed": sum(len(d["failed"]) for d in days),
            "run_n_warnings": sum(len(x["warnings"]) for x in done),
            "run_batch_s": MetadataValue.json({k: round(v, 3) for k, v in timing.items()}),
            "sites": len({i for r in results for i in r["site_ids"]}),
            "n_chunks": len(results),
            "watermark": max((r["watermark"] for r in results), default=0),
            "workers": sorted({f"{r['worker']['hostname']}:{r['worker']['pid']}" for r in results}),
            "chunk_workers": MetadataValue.json(
                [{"chunk": r["chunk"], "worker_pid": r["worker"]["pid"]} for r in results]
            ),
        },
    )
    # The materializations are recorded; now the PNG charts, which cost seconds in the fresh
    # process of a run (matplotlib), as observations of the same partitions.
    if site is not None and charted:
        with store.open() as s:
            for day, ws, we in charted:
                chart = schedule_chart_markdown(s, site, ws, we)
                if chart:
                    meta = {"chart": MetadataValue.md(chart)}
                    context.log_event(AssetObservation(SCHEDULES, partition=day, metadata=meta))


def _add_partition_metadata(context: OpExecutionContext, day: str, meta: dict[str, Any]) -> None:
    """Metadata for one partition's materialization of ``schedules`` (Dagster merges it over the
    output's metadata for that partition only). The op is inside a graph-backed asset, whose
    context has no public ``add_asset_metadata``; the step context underneath has it."""
    step = context._step_execution_context  # noqa: SLF001
    step.add_asset_metadata(meta, asset_key=SCHEDULES, partition_key=day)


@graph_asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"forecasts": AssetIn("forecasts", dagster_type=Nothing)},
    group_name="scheduling",
    kinds={"python", "highs"},
    owners=["team:scheduling"],
)
def schedules(forecasts):
    """Optimised schedules of every device per site and local day, saved as scheduler beliefs on
    the devices' power sensors (one bulk save per chunk of sites and day; a site that fails saves
    nothing, so its previous schedule stays the latest belief). Metadata per day (also in a
    range run): rows, site-days, cost (EUR), solve time, skipped and failed sites with their
    reason, the schedulers' warnings, each chunk's counts and read/solve/save times, the schedule
    as text sparklines; the run's totals as ``run_*``, and each chunk step's worker (host:pid).
    Each day's PNG chart follows as an observation of the partition.
    """
    results = schedule_targets(forecasts).map(schedule_chunk)
    return collect_schedules(results.collect())
