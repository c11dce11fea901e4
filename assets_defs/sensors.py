"""Sensors: inbox files, re-optimisation on new beliefs, and operator alerts.

- ``inbox_files``: pending CSV files in the inbox → a run of ``inbox_beliefs`` for today.
- ``reoptimise_on_new_beliefs``: a cursor on the store's ingestion watermark. One indexed query
  per tick when nothing changed; otherwise one run per affected day with exactly the affected
  sites, de-duplicated by ``run_key``. A locked (DuckDB) or unreachable store gives a
  ``SkipReason`` and keeps the cursor, so the next tick retries.
- ``alert_on_run_failure`` / ``stale_schedules``: an annotation (an asset observation shown on
  the asset's page) and an optional webhook (``FLEXPIPE_ALERT_WEBHOOK``).
"""

import hashlib
import json
import os
import urllib.request
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
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

from assets_defs.inbox import inbox_beliefs
from assets_defs.jobs import reoptimise_job
from assets_defs.partitions import PARTITIONS_START
from flex_pipelines.pipeline import PIPELINE_TIMEZONE, list_sites, reopt_targets
from flex_pipelines.time import get_zone
from resources import BeliefStoreResource, InboxResource

DEMO_ON = DefaultSensorStatus.RUNNING if os.environ.get("FLEXPIPE_AUTOMATION", "on") == "on" else DefaultSensorStatus.STOPPED  # fmt: skip
SCHEDULES = AssetKey("schedules")
SENSOR_INTERVAL_S = int(os.environ.get("FLEXPIPE_SENSOR_INTERVAL_S", "30"))
SENSOR_LOCK_WAIT_S = 2.0  # a tick waits this long for a locked DuckDB file, then skips


def today_key(now: datetime | None = None) -> str:
    """Today's partition key (local day of the pipeline timezone)."""
    return (now or datetime.now(UTC)).astimezone(get_zone(PIPELINE_TIMEZONE)).date().isoformat()


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
    return RunRequest(run_key=f"inbox:{sig}", partition_key=today_key(), tags={"flexpipe/files": str(len(files))})  # fmt: skip


def seen_watermarks(instance: DagsterInstance, day: str) -> dict[int, int]:
    """Per site, the ingestion watermark the latest schedule of ``day`` had seen (taken before
    it read its inputs)."""
    result = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=SCHEDULES, asset_partitions=[day]), limit=1
    )
    if not result.records:
        return {}
    meta = result.records[0].asset_materialization.metadata  # type: ignore[union-attr]
    per_site = meta["per_site"].value if "per_site" in meta else []
    return {int(p["site_id"]): int(p.get("watermark", 0)) for p in per_site}  # type: ignore[union-attr]


def reopt_requests(instance: DagsterInstance, targets: dict[str, dict[int, int]], last_key: str) -> list[RunRequest]:  # fmt: skip
    """One run per day for the sites whose inputs changed after their latest schedule."""
    out = []
    for day, sites in sorted(targets.items()):
        if not PARTITIONS_START <= day <= last_key:
            continue
        seen = seen_watermarks(instance, day)
        todo = sorted(s for s, ing in sites.items() if ing > seen.get(s, 0))
        if not todo:
            continue
        newest = max(sites[s] for s in todo)
        out.append(
            RunRequest(
                run_key=f"reopt:{day}:{','.join(map(str, todo))}:{newest}",
                partition_key=day,
                run_config={
                    "ops": {
                        "schedules": {"ops": {"schedule_targets": {"config": {"site_ids": todo}}}}
                    }
                },  # fmt: skip
                tags={
                    "flexpipe/trigger": "new beliefs",
                    "flexpipe/sites": ",".join(map(str, todo)),
                },
            )
        )
    return out


@sensor(job=reoptimise_job, minimum_interval_seconds=SENSOR_INTERVAL_S, default_status=DEMO_ON)
def reoptimise_on_new_beliefs(context: SensorEvaluationContext, store: BeliefStoreResource):
    """Re-optimise exactly the sites and days whose inputs (prices, loads, SoC, forecasts) changed."""
    cursor = int(context.cursor or 0)
    try:
        with store.open(lock_wait_s=SENSOR_LOCK_WAIT_S) as s:
            watermark = s.ingestion_watermark()
            if watermark <= cursor:
                return SkipReason(f"no new beliefs since ingestion {cursor}")
            ingestions = s.ingestions_since(cursor)
            sites = list_sites(s)
    except Exception as exc:  # a locked DuckDB file, an unreachable server: retry next tick
        return SkipReason(f"belief store unavailable ({type(exc).__name__}: {exc}); cursor stays at {cursor}, retrying next tick")  # fmt: skip
    last = ingestions[-1].id if ingestions else watermark
    last_key = (datetime.fromisoformat(today_key()) + timedelta(days=1)).date().isoformat()
    requests = reopt_requests(context.instance, reopt_targets(sites, ingestions), last_key)
    context.log.info(f"ingestions {cursor + 1}..{last}: {len(requests)} re-optimisation run(s)")
    return SensorResult(run_requests=requests, cursor=str(last))


def alert(instance: DagsterInstance, key: AssetKey, message: str, **meta: object) -> None:
    """Record an annotation on an asset and POST it to ``FLEXPIPE_ALERT_WEBHOOK`` when set."""
    instance.report_runless_asset_event(AssetObservation(key, metadata={"alert": message, **meta}))  # type: ignore[arg-type]
    url = os.environ.get("FLEXPIPE_ALERT_WEBHOOK")
    if url:
        body = json.dumps({"asset": key.to_user_string(), "text": message, **meta}, default=str)
        req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).close()


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
        alert(context.instance, key, message, run_id=run.run_id, partition=run.tags.get("dagster/partition", ""))  # fmt: skip


STALE_AFTER = timedelta(hours=float(os.environ.get("FLEXPIPE_STALE_AFTER_HOURS", "26")))


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
