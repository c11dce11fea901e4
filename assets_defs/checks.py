"""Asset checks, one evaluation per partition: schemas of what was written, physical bounds of
schedules, forecast coverage, refused inbox files.

Every check is partitioned like its asset (``partitions_def=daily_partitions``): it evaluates each
materialized day on its own window and its result is recorded for that partition (the UI shows a
check status per day). A run of one partition key returns an ``AssetCheckResult``, to which
Dagster adds the partition and the materialization it checked. A run over a partition range (a
single-run backfill, also a range of one day as ``run_pipeline`` launches) yields one
``AssetCheckEvaluation`` per day, each with its partition and that day's materialization in the
run: ``AssetCheckResult`` cannot name a partition in Dagster 1.13. The metadata of every
evaluation repeats the partition and its UTC window. Blocking checks (schedule bounds) stop
downstream assets (reports) in the same run when one day fails.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    EventLogRecord,
    MetadataValue,
    Output,
    asset_check,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (  # not exported
    AssetCheckEvaluationTargetMaterializationData,
)

from assets_defs.forecasts import forecasts
from assets_defs.inbox import inbox_beliefs
from assets_defs.partitions import daily_partitions, window_utc
from assets_defs.schedules import schedules
from assets_defs.schemas import schema_errors
from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.pipeline import (
    check_saved_schedules,
    forecast_coverage,
    forecast_sensors,
    list_sites,
)
from resources import BeliefStoreResource

#: one partition's outcome: passed, and the metadata that explains it
Outcome = tuple[bool, dict[str, Any]]
CheckEvents = Iterator[AssetCheckResult | AssetCheckEvaluation | Output]


def day_window(day: str) -> tuple[datetime, datetime]:
    """The UTC window of a partition key (a local day)."""
    return window_utc(daily_partitions.time_window_for_partition_key(day))


def run_materializations(
    context: AssetCheckExecutionContext, key: AssetKey
) -> dict[str, EventLogRecord]:
    """This run's materializations of ``key`` by partition (the ones its checks look at)."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return {
        r.partition_key: r
        for r in records
        if r.asset_key == key and r.partition_key is not None  # ascending: the last one wins
    }


def partition_metadata(
    context: AssetCheckExecutionContext,
    key: AssetKey,
    day: str,
    in_run: dict[str, EventLogRecord],
) -> dict[str, Any]:
    """The metadata of a partition's materialization: this run's (``in_run``, from
    :func:`run_materializations`), else the latest one (a check launched on its own)."""
    record = in_run.get(day)
    if record is None:
        latest = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
        ).records
        record = latest[0] if latest else None
    mat = record.asset_materialization if record is not None else None
    return {k: v.value for k, v in mat.metadata.items()} if mat is not None else {}


def per_partition(
    context: AssetCheckExecutionContext,
    evaluate: Callable[[str, datetime, datetime], Outcome],
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
) -> CheckEvents:
    """Evaluate a check on each partition of the run (``evaluate(day, start, end)`` with the
    day's UTC window) and record each outcome on its partition."""
    keys = list(context.op_execution_context.partition_keys)
    [spec] = context.check_specs

    def outcome(day: str) -> Outcome:
        start, end = day_window(day)
        passed, meta = evaluate(day, start, end)
        where = {"partition": day, "window": f"{start.isoformat()} – {end.isoformat()}"}
        return passed, {**where, **meta}

    if context.op_execution_context.has_partition_key:  # Dagster adds partition and target
        passed, meta = outcome(keys[0])
        yield AssetCheckResult(passed=passed, severity=severity, metadata=meta)
        return
    targets = run_materializations(context, spec.asset_key)
    for day in keys:
        passed, meta = outcome(day)
        target = targets.get(day)
        yield AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=passed,
            metadata=meta,
            target_materialization_data=(
                AssetCheckEvaluationTargetMaterializationData(
                    storage_id=target.storage_id, run_id=target.run_id, timestamp=target.timestamp
                )
                if target is not None
                else None
            ),
            severity=severity,
            blocking=spec.blocking,
            partition=day,
        )
    yield Output(None, output_name=context.op_execution_context.op_def.output_defs[0].name)


def inbox_results(context: AssetCheckExecutionContext) -> Callable[[str], list[dict[str, Any]]]:
    """The per-file results the inbox recorded on a partition (this run's materializations are
    read once)."""
    in_run = run_materializations(context, inbox_beliefs.key)
    return lambda day: (
        partition_metadata(context, inbox_beliefs.key, day, in_run).get("results") or []
    )


@asset_check(
    asset=inbox_beliefs,
    partitions_def=daily_partitions,
    description="Every inbox file picked up that day was read; refused files are listed with their errors.",
)
def inbox_files_accepted(context: AssetCheckExecutionContext) -> CheckEvents:
    results_of = inbox_results(context)

    def evaluate(day: str, start: datetime, end: datetime) -> Outcome:
        results = results_of(day)
        refused = [{"file": r["name"], "error": r["error"]} for r in results if not r["ok"]]
        return not refused, {"files": len(results), "refused": MetadataValue.json(refused)}

    yield from per_partition(context, evaluate, AssetCheckSeverity.WARN)


def _file_rows(store: BeliefStore, result: dict[str, Any]) -> Any:
    """The beliefs one accepted inbox file saved (its sensor over its events)."""
    first = datetime.fromisoformat(result["first_event"])
    last = datetime.fromisoformat(result["last_event"])
    step = max(store.get_sensor(result["sensor_id"]).event_resolution, timedelta(microseconds=1))
    return store.search_beliefs(result["sensor_id"], first, last + step)


@asset_check(
    asset=inbox_beliefs,
    partitions_def=daily_partitions,
    description="The beliefs saved from that day's inbox files match the belief-frame schema (pandera).",
)
def inbox_beliefs_schema(
    context: AssetCheckExecutionContext, store: BeliefStoreResource
) -> CheckEvents:
    results_of = inbox_results(context)
    with store.open() as s:
        seen: dict[str, Outcome] = {}  # a range run: the same files for every day, read once

        def evaluate(day: str, start: datetime, end: datetime) -> Outcome:
            ok = [r for r in results_of(day) if r["ok"]]
            names = ",".join(sorted(r["name"] for r in ok))
            if names not in seen:
                errors: list[str] = []
                rows = 0
                for r in ok:
                    frame = _file_rows(s, r)
                    rows += frame.height
                    errors += [f"{r['name']}: {e}" for e in schema_errors(frame)]
                meta = {"rows_checked": rows, "errors": MetadataValue.json(errors[:20])}
                seen[names] = (not errors, meta)
            return seen[names]

        yield from per_partition(context, evaluate)


@asset_check(
    asset=forecasts,
    partitions_def=daily_partitions,
    description="Every forecast sensor has a forecast for every step of the day.",
)
def forecasts_cover_horizon(
    context: AssetCheckExecutionContext, store: BeliefStoreResource
) -> CheckEvents:
    with store.open() as s:
        ids = forecast_sensors(s)

        def evaluate(day: str, start: datetime, end: datetime) -> Outcome:
            cover = {sid: forecast_coverage(s, sid, start, end) for sid in ids}
            short = {str(k): f"{got}/{want}" for k, (got, want) in cover.items() if got < want}
            return not short, {"sensors": len(cover), "short": MetadataValue.json(short)}

        yield from per_partition(context, evaluate, AssetCheckSeverity.WARN)


@asset_check(
    asset=schedules,
    blocking=True,
    partitions_def=daily_partitions,
    description="Saved schedules of the day keep device power capacity, site capacity and SoC bounds.",
)
def schedules_within_limits(
    context: AssetCheckExecutionContext, store: BeliefStoreResource
) -> CheckEvents:
    with store.open() as s:

        def evaluate(day: str, start: datetime, end: datetime) -> Outcome:
            found = check_saved_schedules(s, start, end)
            meta = {
                "values_checked": found.values_checked,
                "violations": len(found.violations),
                "examples": MetadataValue.json(found.violations[:20]),
                "sites_not_checked": MetadataValue.json(found.not_checked[:20]),
            }
            return not found.violations, meta

        yield from per_partition(context, evaluate)


def _schema_outcome(
    store: BeliefStore, ids: list[int], start: datetime, end: datetime, source_type: str
) -> Outcome:
    """Whether the beliefs of ``source_type`` on ``ids`` in [start, end) match the schema."""
    frame = store.search_beliefs(ids, start, end, source_types=[source_type]) if ids else None
    errors = schema_errors(frame) if frame is not None else []
    rows = frame.height if frame is not None else 0
    return not errors, {"rows_checked": rows, "errors": MetadataValue.json(errors)}


@asset_check(
    asset=schedules,
    partitions_def=daily_partitions,
    description="Saved schedule beliefs of the day match the belief-frame schema (pandera).",
)
def schedules_schema(
    context: AssetCheckExecutionContext, store: BeliefStoreResource
) -> CheckEvents:
    with store.open() as s:
        ids = [i for site in list_sites(s) for i in site.power_sensor_ids()]
        yield from per_partition(
            context, lambda day, start, end: _schema_outcome(s, ids, start, end, "scheduler")
        )


@asset_check(
    asset=forecasts,
    partitions_def=daily_partitions,
    description="Saved forecast beliefs of the day match the belief-frame schema (pandera).",
)
def forecasts_schema(
    context: AssetCheckExecutionContext, store: BeliefStoreResource
) -> CheckEvents:
    with store.open() as s:
        ids = forecast_sensors(s)
        yield from per_partition(
            context, lambda day, start, end: _schema_outcome(s, ids, start, end, "forecaster")
        )
