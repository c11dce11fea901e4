"""Schedules: one optimisation per site and day, fanned out as one step per site.

The graph lists the sites to schedule (all, or those a sensor asks for), maps one step over each
site (the unit the celery executor spreads over workers) and collects the results into the
asset's materialization. A site whose inputs are missing is skipped with its reason; when no site
could be scheduled the asset is not materialized (a skip, not a failure). An infeasible problem
fails the step with the solver's message and saves nothing for that site and window.
"""

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetIn,
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
from flex_pipelines.time import floor_to
from resources import STORE_POOL, BeliefStoreResource


class ScheduleConfig(Config):
    """Which sites and devices, whether to re-plan only the rest of today (intraday), and whether
    to replay history (inputs as known at the window start, believed then) instead of using what
    is known now (the default: every run saves a new belief, believed now)."""

    site_ids: list[int] | None = None  # None: every site
    kinds: list[str] = ["storage", "process"]
    intraday: bool = False  # start at the current quarter hour instead of the window start
    replay: bool = False  # read inputs as known at the window start (backtests; idempotent)
    now: str | None = (
        None  # ISO time to act as "now" (backtests of the intraday cycle); default: the clock
    )


@op(ins={"forecasts": In(Nothing)}, out=DynamicOut(dict))
def schedule_targets(context: OpExecutionContext, config: ScheduleConfig, store: BeliefStoreResource):  # fmt: skip
    """One output per site to schedule."""
    with store.open() as s:
        sites = [x.id for x in list_sites(s)]
    wanted = [i for i in sites if config.site_ids is None or i in config.site_ids]
    context.log.info(f"scheduling sites {wanted} of {sites}")
    for site_id in wanted:
        yield DynamicOutput(
            {
                "site_id": site_id,
                "kinds": config.kinds,
                "intraday": config.intraday,
                "replay": config.replay,
                "now": config.now,
            },
            mapping_key=f"site_{site_id}",
        )


@op(pool=STORE_POOL, retry_policy=RetryPolicy(max_retries=2, delay=5))
def schedule_one_site(context: OpExecutionContext, target: dict, store: BeliefStoreResource) -> dict:  # fmt: skip
    """Schedule one site for every day of the partition window (one transaction per day)."""
    start, end = window_utc(context.partition_time_window)
    now = datetime.fromisoformat(target["now"]).astimezone(UTC) if target.get("now") else datetime.now(UTC)  # fmt: skip
    if target["intraday"]:
        start = max(start, floor_to(now, timedelta(minutes=15)))
    days: list[dict[str, Any]] = []
    skipped: list[str] = [] if start < end else [f"intraday at {now.isoformat()}: the window ended at {end.isoformat()}"]  # fmt: skip
    with store.open() as s:
        # the inputs this run sees: beliefs that arrive while it solves come after this mark
        # and trigger another re-optimisation (the run's own outputs are ignored by source type)
        watermark = s.ingestion_watermark()
        site = next(x for x in list_sites(s) if x.id == target["site_id"])
        # consecutive days continue from the planned state; intraday starts from the latest SoC
        soc: dict[int, str] | None = None
        if target["intraday"]:
            soc = latest_soc(s, site, start) or None
        for _day, ws, we in day_windows(start, end) if start < end else []:
            ws = max(ws, start)
            clock = now if target.get("now") else datetime.now(UTC)
            as_of = min(clock, ws) if target.get("replay") else clock
            try:
                res = schedule_site(s, site, ws, we, as_of=as_of, kinds=target["kinds"], soc_at_start=soc)  # fmt: skip
            except MissingInputsError as exc:
                skipped.append(str(exc))
                soc = None
                continue
            except FlexPipelinesError as exc:  # infeasible or invalid: nothing was saved
                raise Failure(description=f"site {site.id} ({site.asset.name}), {ws.isoformat()} to {we.isoformat()}: {exc}", allow_retries=False) from exc  # fmt: skip
            soc = res.end_soc or None
            days.append(res.to_record())
    for reason in skipped[:5]:
        context.log.warning(f"skipped: {reason}")
    return {
        "site_id": target["site_id"],
        "days": days,
        "skipped": skipped,
        "watermark": watermark,
        "worker": {"pid": os.getpid(), "hostname": socket.gethostname()},
    }


@op(out=Out(Nothing, is_required=False))
def collect_schedules(context: OpExecutionContext, results: list[dict], store: BeliefStoreResource):
    """The asset's materialization: per-site costs, beliefs, solve time and worker."""
    done = [d for r in results for d in r["days"]]
    skipped = [x for r in results for x in r["skipped"]]
    meta: dict[str, Any] = {
        "row_count": sum(d["n_beliefs"] for d in done),
        "sites": len(results),
        "site_days": len(done),
        "cost_eur": round(sum(d["cost_eur"] for d in done), 2),
        "solve_s": round(sum(d["solve_s"] for d in done), 3),
        "skipped": skipped[:50],
        "n_skipped": len(skipped),
        "watermark": max((r["watermark"] for r in results), default=0),
        "workers": sorted({f"{r['worker']['hostname']}:{r['worker']['pid']}" for r in results}),
        "per_site": [
            {
                "site_id": r["site_id"],
                "worker_pid": r["worker"]["pid"],
                "watermark": r["watermark"],
                "cost_eur": round(sum(d["cost_eur"] for d in r["days"]), 4),
            }
            for r in results
        ],
    }
    first = next((r for r in sorted(results, key=lambda r: r["site_id"]) if r["days"]), None)
    start, end = window_utc(context.partition_time_window)
    if first is not None and end - start <= timedelta(days=7):  # one chart: the first site
        with store.open() as s:
            site = next(x for x in list_sites(s) if x.id == first["site_id"])
            chart = schedule_chart_markdown(s, site, start, end)
        if chart:
            meta["chart"] = MetadataValue.md(chart)
    if not done:
        reason = "; ".join(skipped[:3]) or "no site has a schedulable device"
        context.log.warning(f"schedules not materialized: {reason}")
        for key in context.selected_asset_keys or []:
            context.log_event(AssetObservation(key, partition=_partition(context), metadata={"skipped": reason}))  # fmt: skip
        return
    yield Output(None, metadata=meta)


def _partition(context: OpExecutionContext) -> str | None:
    return context.partition_key if context.has_partition_key else None


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
    so the previous schedule stays the latest belief). Metadata: rows, cost (EUR), solve time,
    skipped sites with their reason, and the worker (host:pid) of each site step.
    """
    results = schedule_targets(forecasts).map(schedule_one_site)
    return collect_schedules(results.collect())
