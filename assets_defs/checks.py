"""Asset checks: schemas of what was written, physical bounds of schedules, forecast coverage.

Each check reads back from the store what its asset wrote for the run's partition window and
records its findings as check metadata. Blocking checks (schedule bounds) stop downstream
assets (reports) in the same run when they fail.
"""

from datetime import datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from assets_defs.forecasts import forecasts
from assets_defs.inbox import inbox_beliefs
from assets_defs.partitions import window_utc
from assets_defs.schedules import schedules
from assets_defs.schemas import schema_errors
from flex_pipelines.pipeline import (
    forecast_coverage,
    forecast_sensors,
    list_sites,
    schedule_violations,
)
from resources import BeliefStoreResource


def _window(context: AssetCheckExecutionContext) -> tuple[datetime, datetime]:
    return window_utc(context.op_execution_context.partition_time_window)


def _latest_metadata(context: AssetCheckExecutionContext, key: str) -> dict:
    event = context.instance.get_latest_materialization_event(AssetKey(key))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@asset_check(asset=inbox_beliefs, description="Every inbox file was read; refused files are listed with their errors.")  # fmt: skip
def inbox_files_accepted(context: AssetCheckExecutionContext) -> AssetCheckResult:
    results = _latest_metadata(context, "inbox_beliefs").get("results") or []
    refused = [{"file": r["name"], "error": r["error"]} for r in results if not r["ok"]]
    return AssetCheckResult(
        passed=not refused,
        severity=AssetCheckSeverity.WARN,
        metadata={"files": len(results), "refused": MetadataValue.json(refused)},
    )


@asset_check(asset=inbox_beliefs, description="The beliefs saved from the inbox match the belief-frame schema (pandera).")  # fmt: skip
def inbox_beliefs_schema(context: AssetCheckExecutionContext, store: BeliefStoreResource) -> AssetCheckResult:  # fmt: skip
    ok = [r for r in (_latest_metadata(context, "inbox_beliefs").get("results") or []) if r["ok"]]
    errors: list[str] = []
    rows = 0
    with store.open() as s:
        for r in ok:
            start, last = datetime.fromisoformat(r["first_event"]), datetime.fromisoformat(r["last_event"])  # fmt: skip
            step = max(s.get_sensor(r["sensor_id"]).event_resolution, timedelta(microseconds=1))
            frame = s.search_beliefs(r["sensor_id"], start, last + step)
            rows += frame.height
            errors += [f"{r['name']}: {e}" for e in schema_errors(frame)]
    return AssetCheckResult(passed=not errors, metadata={"rows_checked": rows, "errors": MetadataValue.json(errors[:20])})  # fmt: skip


@asset_check(asset=forecasts, description="Every forecast sensor has a forecast for every step of the window.")  # fmt: skip
def forecasts_cover_horizon(context: AssetCheckExecutionContext, store: BeliefStoreResource) -> AssetCheckResult:  # fmt: skip
    start, end = _window(context)
    with store.open() as s:
        cover = {sid: forecast_coverage(s, sid, start, end) for sid in forecast_sensors(s)}
    short = {str(k): f"{got}/{want}" for k, (got, want) in cover.items() if got < want}
    return AssetCheckResult(
        passed=not short,
        severity=AssetCheckSeverity.WARN,
        metadata={"sensors": len(cover), "short": MetadataValue.json(short)},
    )


@asset_check(asset=schedules, blocking=True, description="Saved schedules keep device power capacity, site capacity and SoC bounds.")  # fmt: skip
def schedules_within_limits(context: AssetCheckExecutionContext, store: BeliefStoreResource) -> AssetCheckResult:  # fmt: skip
    start, end = _window(context)
    checked, bad = 0, []
    with store.open() as s:
        for site in list_sites(s):
            n, v = schedule_violations(s, site, start, end)
            checked, bad = checked + n, bad + v
    return AssetCheckResult(
        passed=not bad,
        metadata={
            "values_checked": checked,
            "violations": len(bad),
            "examples": MetadataValue.json(bad[:20]),
        },  # fmt: skip
    )


@asset_check(asset=schedules, description="Saved schedule beliefs match the belief-frame schema (pandera).")  # fmt: skip
def schedules_schema(context: AssetCheckExecutionContext, store: BeliefStoreResource) -> AssetCheckResult:  # fmt: skip
    start, end = _window(context)
    with store.open() as s:
        ids = [i for site in list_sites(s) for i in site.power_sensor_ids()]
        frame = s.search_beliefs(ids, start, end, source_types=["scheduler"]) if ids else None
    errors = schema_errors(frame) if frame is not None else []
    rows = frame.height if frame is not None else 0
    return AssetCheckResult(passed=not errors, metadata={"rows_checked": rows, "errors": MetadataValue.json(errors)})  # fmt: skip


@asset_check(asset=forecasts, description="Saved forecast beliefs match the belief-frame schema (pandera).")  # fmt: skip
def forecasts_schema(context: AssetCheckExecutionContext, store: BeliefStoreResource) -> AssetCheckResult:  # fmt: skip
    start, end = _window(context)
    with store.open() as s:
        ids = forecast_sensors(s)
        frame = s.search_beliefs(ids, start, end, source_types=["forecaster"]) if ids else None
    errors = schema_errors(frame) if frame is not None else []
    rows = frame.height if frame is not None else 0
    return AssetCheckResult(passed=not errors, metadata={"rows_checked": rows, "errors": MetadataValue.json(errors)})  # fmt: skip
