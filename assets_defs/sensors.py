"""Sensors: inbox files, re-optimisation on new beliefs, and operator alerts.

- ``inbox_files``: pending CSV files in the inbox → a run of ``inbox_beliefs`` for today.
- ``reoptimise_on_new_beliefs``: a cursor on the store's ingestion watermark, started at the
  latest ingestion (history is not replayed: ``flexpipe pipeline reoptimise`` does that). One
  indexed query per tick when nothing changed; otherwise at most ``FLEXPIPE_REOPT_MAX_RUNS``
  runs, one per day of the planning window with exactly the affected sites whose inputs are
  complete (:func:`~flex_pipelines.pipeline.reoptimise.plan_reoptimisation`) and the chunks that
  hold them (only those chunks' steps run), de-duplicated by ``run_key`` (day, chunks, newest
  ingestion). Why site-days got no run is the tick's ``SkipReason`` (or its log and the run's
  tags when runs were requested). A locked (DuckDB) or unreachable store gives a ``SkipReason``
  and keeps the cursor, so the next tick retries.
- ``alert_on_run_failure`` / ``alert_on_tick_failure`` / ``stale_schedules``: an annotation
  (an asset observation shown on the asset's page) and an optional webhook
  (``FLEXPIPE_ALERT_WEBHOOK``).
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetKey,
    AssetObservation,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.scheduler.instigation import TickStatus

from assets_defs.inbox import inbox_beliefs
from assets_defs.jobs import reoptimise_job
from assets_defs.partitions import SETTINGS
from assets_defs.schedules import SCHEDULES, schedule_run_config
from flex_pipelines.alerts import post_alert
from flex_pipelines.pipeline.reoptimise import ReoptCursor, local_today, plan_reoptimisation
from flex_pipelines.service.chunks import chunks_of
from flex_pipelines.settings import Settings, load_settings
from resources import BeliefStoreResource, InboxResource

DEMO_ON = DefaultSensorStatus.RUNNING if SETTINGS.automation else DefaultSensorStatus.STOPPED
SENSOR_INTERVAL_S = SETTINGS.sensor_interval_s
SENSOR_LOCK_WAIT_S = 2.0  # a tick waits this long for a locked DuckDB file, then skips
INGESTIONS_PER_TICK = 10_000  # more are read on the next tick


def today_key(now: datetime | None = None) -> str:
    """Today's partition key (local day of the pipeline timezone)."""
    return local_today(now or datetime.now(UTC), SETTINGS.timezone).isoformat()


@sensor(
    asset_selection=[inbox_beliefs],
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=DEMO_ON,
)
def inbox_files(context: SensorEvaluationContext, inbox: InboxResource):
    """Request an ingestion run when CSV files wait in the inbox (one run per set of files)."""
    files = inbox.pending()
    if not files:
        return SkipReason(f"no CSV files waiting in {inbox.path}")
    sig = hashlib.sha1(
        json.dumps([(f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files]).encode()
    ).hexdigest()[:16]
    return RunRequest(
        run_key=f"inbox:{sig}", partition_key=today_key(), tags={"flexpipe/files": str(len(files))}
    )


def reoptimise_tick(
    cursor_text: str | None,
    store: BeliefStoreResource,
    now: datetime,
    settings: Settings = SETTINGS,
) -> SensorResult | SkipReason:
    """One tick of ``reoptimise_on_new_beliefs`` at ``now`` (the sensor passes the clock; tests
    pass midnight, DST days …): run requests, the new cursor and why site-days got no run."""
    cursor = ReoptCursor.parse(cursor_text)
    try:
        with store.open(lock_wait_s=SENSOR_LOCK_WAIT_S) as s:
            watermark = s.ingestion_watermark()
            if cursor is None:  # first start: from now on, history is a backfill's job
                return SensorResult(
                    cursor=ReoptCursor(watermark).dump(),
                    skip_reason=(
                        f"started at ingestion {watermark}: earlier beliefs are not re-optimised "
                        "(flexpipe pipeline reoptimise --since-ingestion 0 does that)"
                    ),
                )
            if watermark <= cursor.ingestion and not cursor.pending:
                return SkipReason(f"no new beliefs since ingestion {cursor.ingestion}")
            ingestions = s.ingestions_since(cursor.ingestion, limit=INGESTIONS_PER_TICK)
            plan = plan_reoptimisation(
                s,
                ingestions,
                now=now,
                timezone=settings.timezone,
                horizon_days=settings.planning_horizon_days,
                max_runs=settings.reopt_max_runs,
                pending=cursor.pending,
            )
    except Exception as exc:  # a locked DuckDB file, an unreachable server: retry next tick
        kept = cursor.ingestion if cursor else "unset"
        return SkipReason(
            f"belief store unavailable ({type(exc).__name__}: {exc}); cursor stays at {kept}, "
            "retrying next tick"
        )
    last = ingestions[-1].id if ingestions else cursor.ingestion
    new_cursor = ReoptCursor(last, plan.deferred).dump()
    message = f"ingestions {cursor.ingestion + 1}..{last}: {plan.summary()}"
    if not plan.runs:
        return SensorResult(cursor=new_cursor, skip_reason=message)
    requests = []
    for run in plan.runs:
        chunks = [c.key for c in chunks_of(run.site_ids, settings.chunk_span)]
        sites = ",".join(map(str, run.site_ids))
        requests.append(
            RunRequest(
                run_key=f"reopt:{run.day}:{','.join(chunks)}:{run.newest}",
                partition_key=run.day,
                run_config=schedule_run_config(run.site_ids, chunks=chunks, intraday=True),
                tags={
                    "flexpipe/trigger": "new beliefs",
                    "flexpipe/chunks": ",".join(chunks)[:1000],
                    "flexpipe/sites": sites if len(sites) <= 1000 else f"{len(run.site_ids)} sites",
                    "flexpipe/ingestion": str(run.newest),
                    **({"flexpipe/skipped": "; ".join(run.skipped)[:1000]} if run.skipped else {}),
                },
            )
        )
    return SensorResult(run_requests=requests, cursor=new_cursor)


@sensor(job=reoptimise_job, minimum_interval_seconds=SENSOR_INTERVAL_S, default_status=DEMO_ON)
def reoptimise_on_new_beliefs(context: SensorEvaluationContext, store: BeliefStoreResource):
    """Re-optimise exactly the sites and days (today … the planning horizon) whose inputs
    (prices, loads, SoC, forecasts) changed, from the current quarter hour on; starts at the
    latest ingestion, at most ``FLEXPIPE_REOPT_MAX_RUNS`` runs per tick."""
    result = reoptimise_tick(context.cursor, store, datetime.now(UTC))
    if isinstance(result, SensorResult) and result.run_requests:
        context.log.info(
            f"{len(result.run_requests)} re-optimisation run(s): "
            + ", ".join(r.run_key or "" for r in result.run_requests)
        )
    return result


def alert(instance: DagsterInstance, key: AssetKey, message: str, **meta: object) -> None:
    """Record an annotation on an asset and POST it to ``FLEXPIPE_ALERT_WEBHOOK`` when set."""
    instance.report_runless_asset_event(AssetObservation(key, metadata={"alert": message, **meta}))  # type: ignore[arg-type]
    url = load_settings().alert_webhook
    if url:
        post_alert(url, message, asset=key.to_user_string(), **meta)


@run_failure_sensor(default_status=DEMO_ON, minimum_interval_seconds=30)
def alert_on_run_failure(context: RunFailureSensorContext) -> None:
    """Annotate the run's assets and call the webhook when a pipeline run fails."""
    run = context.dagster_run
    message = f"run {run.run_id[:8]} of {run.job_name} failed: {context.failure_event.message}"
    steps = context.instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
    if steps and steps[0].dagster_event and steps[0].dagster_event.step_failure_data:
        err = steps[0].dagster_event.step_failure_data.error
        while err is not None and err.cause is not None and "Failure" not in err.cls_name:
            err = err.cause
        if err is not None:
            message += f" {steps[0].dagster_event.step_key}: {err.message.strip()}"
    keys = sorted(run.asset_selection or [SCHEDULES], key=lambda k: k.to_user_string())
    for key in keys:
        partition = run.tags.get("dagster/partition", "")
        alert(context.instance, key, message, run_id=run.run_id, partition=partition)


STALE_AFTER = timedelta(hours=SETTINGS.stale_after_hours)


@sensor(minimum_interval_seconds=600, default_status=DEMO_ON)
def stale_schedules(context: SensorEvaluationContext):
    """Alert once when no schedule has been saved for ``FLEXPIPE_STALE_AFTER_HOURS`` (26 h)."""
    event = context.instance.get_latest_materialization_event(SCHEDULES)
    last = datetime.fromtimestamp(event.timestamp, UTC) if event else None
    if last is not None and datetime.now(UTC) - last < STALE_AFTER:
        return SkipReason(f"schedules fresh (last saved {last.isoformat()})")
    episode = last.isoformat() if last else "never"
    if context.cursor == episode:
        return SkipReason(f"already alerted: schedules stale since {episode}")
    alert(context.instance, SCHEDULES, f"schedules are stale: last saved {episode}")
    context.update_cursor(episode)
    return SkipReason(f"alerted: schedules stale since {episode}")


@sensor(minimum_interval_seconds=60, default_status=DEMO_ON)
def alert_on_tick_failure(context: SensorEvaluationContext):
    """Alert once per failed tick of any sensor or schedule (the daemon records each tick; a
    failed one means that automation did nothing that tick). Starts from now."""
    since = float(context.cursor) if context.cursor else datetime.now(UTC).timestamp()
    failed = tick_failures(context.instance, since)
    for tick in failed:
        error = tick.error.message.strip().splitlines()[-1] if tick.error else "no error recorded"
        when = datetime.fromtimestamp(tick.timestamp, UTC).isoformat()
        alert(
            context.instance,
            SCHEDULES,
            f"{tick.instigator_type.value.lower()} {tick.instigator_name} failed at {when}: {error}",
            tick=tick.instigator_name,
            tick_time=when,
        )
    newest = max([since, *(t.timestamp for t in failed)])
    context.update_cursor(str(newest))
    return SkipReason(f"alerted {len(failed)} failed tick(s)" if failed else "no failed ticks")


def tick_failures(instance: DagsterInstance, since: float) -> list:
    """Failed sensor and schedule ticks after ``since`` (a UNIX time), oldest first."""
    out = []
    for state in instance.all_instigator_state():
        if state.selector_id is None:
            continue
        ticks = instance.get_ticks(
            state.instigator_origin_id,
            state.selector_id,
            after=since,
            statuses=[TickStatus.FAILURE],
        )
        out += [t for t in ticks if t.timestamp > since]
    return sorted(out, key=lambda t: t.timestamp)
