"""Schedules: one optimisation per site and day, fanned out as one step per site.

The graph lists the sites to schedule (all, or those a sensor asks for), maps one step over each
site (the unit the celery executor spreads over workers) and collects the results into the
asset's materialization. A site whose inputs are missing is skipped with its reason; when no site
could be scheduled the asset is not materialized (a skip, not a failure). An infeasible problem
fails the step with the solver's message and saves nothing for that site and window.
"""

import os
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
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

from assets_defs.partitions import daily_partitions, window_utc
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.pipeline import (
    MissingInputsError,
    day_windows,
    latest_soc,
    list_sites,
    schedule_chart_markdown,
    schedule_site,
)
from flex_pipelines.pipeline.sparklines import schedule_sparklines
from flex_pipelines.time import floor_to
from resources import STORE_POOL, STORE_RETRY, BeliefStoreResource

SCHEDULES = AssetKey("schedules")
MAX_CHART_DAYS = 7  # a chart per partition for runs of at most a week


class ScheduleConfig(Config):
    """Which sites and devices, whether to re-plan only the rest of today (intraday), and whether
    to replay history (inputs as known at the window start, believed then) instead of using what
    is known now (the default: every run saves a new belief, believed now)."""

    site_ids: list[int] | None = None  # None: every site
    kinds: list[str] = ["storage", "process"]
    intraday: bool = False  # never plan before the current quarter hour
    replay: bool = False  # read inputs as known at the window start (backtests; idempotent)
    #: ISO time to act as "now" (backtests of the intraday cycle); default: the clock
    now: str | None = None


def schedule_run_config(
    site_ids: Sequence[int] | None = None,
    *,
    intraday: bool = False,
    kinds: Sequence[str] | None = None,
    now: str | None = None,
    replay: bool = False,
) -> dict[str, Any]:
    """The run config of a run of ``schedules`` for some sites: the one place that knows where
    :class:`ScheduleConfig` sits in the graph (sensor, intraday cycle, runner and CLI use it)."""
    fields: dict[str, Any] = {"site_ids": None if site_ids is None else list(site_ids)}
    fields.update(intraday=intraday, replay=replay, now=now)
    if kinds is not None:
        fields["kinds"] = list(kinds)
    config = ScheduleConfig(**fields)  # validates
    values = {
        k: v
        for k, v in config.model_dump().items()
        if k in fields and v != ScheduleConfig.model_fields[k].default
    }
    return {"ops": {"schedules": {"ops": {"schedule_targets": {"config": values}}}}}


@op(ins={"forecasts": In(Nothing)}, out=DynamicOut(dict), retry_policy=STORE_RETRY)
def schedule_targets(
    context: OpExecutionContext, config: ScheduleConfig, store: BeliefStoreResource
) -> Iterator[DynamicOutput]:
    """One output per site to schedule."""
    with store.open() as s:
        sites = [x.id for x in list_sites(s)]
    wanted = [i for i in sites if config.site_ids is None or i in config.site_ids]
    context.log.info(f"scheduling sites {wanted} of {sites}")
    for site_id in wanted:
        target = {"site_id": site_id, "kinds": config.kinds, "intraday": config.intraday}
        target.update(replay=config.replay, now=config.now)
        yield DynamicOutput(target, mapping_key=f"site_{site_id}")


@op(pool=STORE_POOL, retry_policy=RetryPolicy(max_retries=2, delay=5))
def schedule_one_site(
    context: OpExecutionContext, target: dict, store: BeliefStoreResource
) -> dict[str, Any]:
    """Schedule one site for every day of the partition window (one transaction per day).

    Intraday runs start at the current quarter hour: the past is never re-planned.
    """
    start, end = window_utc(context.partition_time_window)
    fixed_now = datetime.fromisoformat(target["now"]).astimezone(UTC) if target.get("now") else None
    now = fixed_now or datetime.now(UTC)
    if target["intraday"]:
        start = max(start, floor_to(now, timedelta(minutes=15)))
    days: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    if start >= end:
        day = context.partition_keys[-1]
        skipped.append(
            {
                "day": day,
                "reason": f"intraday at {now.isoformat()}: the window ended at {end.isoformat()}",
            }
        )
    with store.open() as s:
        # the inputs this run sees: beliefs that arrive while it solves come after this mark
        # and trigger another re-optimisation (the run's own outputs are ignored by source type)
        watermark = s.ingestion_watermark()
        site = next(x for x in list_sites(s) if x.id == target["site_id"])
        # consecutive days continue from the planned state; intraday starts from the latest SoC
        soc: dict[int, str] | None = None
        if target["intraday"] and start < end:
            soc = latest_soc(s, site, start) or None
        for day, ws, we in day_windows(start, end) if start < end else []:
            ws = max(ws, start)
            clock = fixed_now or datetime.now(UTC)
            as_of = min(clock, ws) if target.get("replay") else clock
            try:
                res = schedule_site(
                    s, site, ws, we, as_of=as_of, kinds=target["kinds"], soc_at_start=soc
                )
            except MissingInputsError as exc:
                skipped.append({"day": day.isoformat(), "reason": str(exc)})
                soc = None
                continue
            except FlexPipelinesError as exc:  # infeasible or invalid: nothing was saved
                raise Failure(
                    description=f"site {site.id} ({site.asset.name}), {ws.isoformat()} to {we.isoformat()}: {exc}",
                    allow_retries=False,
                ) from exc
            soc = res.end_soc or None
            record = res.to_record()
            record["day"] = day.isoformat()  # "warnings": the service's dicts (kind, message, …)
            days.append(record)
    for item in skipped[:5]:
        context.log.warning(f"skipped {item['day']}: {item['reason']}")
    for record in days:
        for w in record["warnings"][:5]:
            context.log.warning(f"site {target['site_id']}, {record['day']}: {w['message']}")
    return {
        "site_id": target["site_id"],
        "days": days,
        "skipped": skipped,
        "watermark": watermark,
        "worker": {"pid": os.getpid(), "hostname": socket.gethostname()},
    }


def partition_metadata(results: Sequence[dict[str, Any]], day: str) -> dict[str, Any]:
    """One partition's own metadata from the site steps' results: its cost, site-days, rows,
    solve time, skipped sites and the schedulers' warnings (the service's records: kind, message,
    device, field, time, required, scheduled, cost; their messages also as a list). A range run
    reports each day separately."""
    done = [(r["site_id"], d) for r in results for d in r["days"] if d["day"] == day]
    skipped = [x["reason"] for r in results for x in r["skipped"] if x["day"] == day]
    warnings = [{"site_id": s, **w} for s, d in done for w in d.get("warnings", [])]
    meta: dict[str, Any] = {
        "row_count": sum(d["n_beliefs"] for _, d in done),
        "site_days": len(done),
        "cost_eur": round(sum(d["cost_eur"] for _, d in done), 2),
        "solve_s": round(sum(d["solve_s"] for _, d in done), 3),
        "skipped": MetadataValue.json(skipped[:50]),
        "n_skipped": len(skipped),
        "n_warnings": len(warnings),
        "warnings": MetadataValue.json(warnings[:50]),
        "per_site": MetadataValue.json(
            [
                {
                    "site_id": s,
                    "cost_eur": d["cost_eur"],
                    "n_beliefs": d["n_beliefs"],
                    "start": d["start"],
                }
                for s, d in done
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
    rows, solve time, skipped sites, warnings and sparklines; the run's totals as ``run_*``
    entries. Then each day's PNG chart as an observation of that partition (after the
    materialization: drawing it takes seconds in a run's fresh process)."""
    keys = list(context.partition_keys)
    done = [d for r in results for d in r["days"]]
    skipped = [x for r in results for x in r["skipped"]]
    if not done:
        reason = "; ".join(x["reason"] for x in skipped[:3]) or "no site has a schedulable device"
        context.log.warning(f"schedules not materialized: {reason}")
        for key in context.selected_asset_keys or []:
            for day in keys:
                why = "; ".join(x["reason"] for x in skipped if x["day"] == day)[:2000] or reason
                context.log_event(AssetObservation(key, partition=day, metadata={"skipped": why}))
        return
    first = next((r for r in sorted(results, key=lambda r: r["site_id"]) if r["days"]), None)
    charted: list[tuple[str, datetime, datetime]] = []
    with store.open() as s:
        site = next((x for x in list_sites(s) if first and x.id == first["site_id"]), None)
        for day in keys:
            meta = partition_metadata(results, day)
            if site is not None and meta["site_days"] and len(keys) <= MAX_CHART_DAYS:
                ws, we = window_utc(daily_partitions.time_window_for_partition_key(day))
                lines = schedule_sparklines(s, site.power_sensor_ids()[0], ws, we)
                if lines:
                    meta["schedule"] = MetadataValue.text(lines)
                charted.append((day, ws, we))
            _add_partition_metadata(context, day, meta)
    yield Output(
        None,
        metadata={
            "run_days": len(keys),
            "run_row_count": sum(d["n_beliefs"] for d in done),
            "run_site_days": len(done),
            "run_cost_eur": round(sum(d["cost_eur"] for d in done), 2),
            "run_solve_s": round(sum(d["solve_s"] for d in done), 3),
            "run_n_skipped": len(skipped),
            "run_n_warnings": sum(len(d["warnings"]) for d in done),
            "sites": len(results),
            "watermark": max((r["watermark"] for r in results), default=0),
            "workers": sorted({f"{r['worker']['hostname']}:{r['worker']['pid']}" for r in results}),
            "site_workers": MetadataValue.json(
                [{"site_id": r["site_id"], "worker_pid": r["worker"]["pid"]} for r in results]
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
    the devices' power sensors (one transaction per site and day; a failed solve saves nothing,
    so the previous schedule stays the latest belief). Metadata per day (also in a range
    run): rows, site-days, cost (EUR), solve time, skipped sites with their reason, the
    schedulers' warnings, the schedule as text sparklines; the run's totals as ``run_*``, and each
    site step's worker (host:pid). Each day's PNG chart follows as an observation of the partition.
    """
    results = schedule_targets(forecasts).map(schedule_one_site)
    return collect_schedules(results.collect())
