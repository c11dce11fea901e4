"""The pipeline: glue between Dagster and the domain libraries, and the in-process runner.

- :mod:`flex_pipelines.pipeline.sites`: sites, devices, windows, re-optimisation targets;
- :mod:`flex_pipelines.pipeline.steps`: one library call per unit of work (schedule a site,
  forecast sensors, run reports, read back for checks, charts);
- here: :func:`run_pipeline` materialises the partitioned assets for a window in-process
  (``flexpipe pipeline run`` and ``flexpipe demo`` use it) and returns a :class:`PipelineSummary`.

No dagster import at module level: the libraries' callers need not load it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flex_pipelines.beliefs.urls import redact
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.pipeline.schedule_checks import (
    ScheduleCheck,
    check_saved_schedules,
    schedule_violations,
)
from flex_pipelines.pipeline.sites import (
    PIPELINE_TIMEZONE,
    MissingInputsError,
    Site,
    _progress_hook,
    day_ahead_viewpoint,
    day_windows,
    days_in,
    device_kind,
    list_sites,
    reopt_targets,
    report_progress,
)
from flex_pipelines.pipeline.steps import (
    SiteSchedule,
    check_inputs,
    forecast_accuracy_summary,
    forecast_coverage,
    forecast_days,
    forecast_sensors,
    latest_soc,
    run_site_reports,
    schedule_chart_markdown,
    schedule_site,
    site_kpis_summary,
)

#: the variable an in-process run reads a store URL with a password from
SECRET_URL_VAR = "FLEXPIPE_RUN_DB_URL"


# --- the in-process runner --------------------------------------------------------------------
@dataclass
class PipelineSummary:
    """What one pipeline run did, per asset (and per check)."""

    run_id: str
    success: bool
    start: date
    end: date  # inclusive last day
    seconds: float
    assets: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # metadata per materialized asset
    skipped: dict[str, str] = field(default_factory=dict)  # asset → reason (not materialized)
    checks: dict[str, bool] = field(default_factory=dict)  # "asset:check" → passed
    error: str | None = None
    #: asset → partition key → that partition's own metadata (a range run has one per day)
    partitions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "success": self.success,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "seconds": round(self.seconds, 3),
            "assets": self.assets,
            "skipped": self.skipped,
            "checks": self.checks,
            "error": self.error,
        }

    def add_materialization(self, asset: str, partition: str | None, meta: dict[str, Any]) -> None:
        """Record one materialization: its own metadata under ``partitions``; in ``assets`` the
        run's totals (the ``run_*`` entries, without the prefix) over the latest partition's."""
        own = {k: v for k, v in meta.items() if not k.startswith("run_") and k != "path"}
        totals = {k.removeprefix("run_"): v for k, v in meta.items() if k.startswith("run_")}
        if partition is not None:
            self.partitions.setdefault(asset, {})[partition] = own
        self.assets[asset] = {**own, **totals}


def run_pipeline(
    db_url: str,
    start: date,
    end: date,
    progress: bool = True,
    *,
    inbox: str | None = None,
    instance: Any = None,
    assets: Sequence[str] | None = None,
    log_level: str = "WARNING",
    replay: bool = False,
    site_ids: Sequence[int] | None = None,
    intraday: bool = False,
    chunk_span: int | None = None,
) -> PipelineSummary:
    """Materialise ingest → forecasts → schedules → reports for local days ``start``..``end``
    (inclusive) in one in-process run (single-run backfill over the partition range).

    :param db_url: the belief store (DuckDB path / URL or ``postgresql://``).
    :param inbox: inbox folder (default ``FLEXPIPE_INBOX`` or var/inbox).
    :param instance: a ``DagsterInstance``; default the one under ``DAGSTER_HOME`` when set,
        else an ephemeral one. Runs show up in the UI when ``DAGSTER_HOME`` is shared.
    :param assets: a subset of asset names (default all four).
    :param progress: show a rich progress display on the console.
    :param log_level: Dagster's console log level.
    :param replay: schedule with inputs as known at each day's start (believed then), as a
        backtest would; default: as known now.
    :param site_ids: schedule only these sites (default every site).
    :param intraday: never plan before the current quarter hour (what the sensor's runs do).
    :param chunk_span: site asset ids per chunk of the schedules asset (default
        ``FLEXPIPE_CHUNK_SPAN``).
    """
    from dagster import AssetKey, DagsterInstance
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from assets_defs.schedules import schedule_run_config
    from flex_pipelines.definitions import defs

    if end < start:
        raise FlexPipelinesError(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    job = defs.resolve_job_def("pipeline_job")
    url: Any = str(db_url)
    if redact(url) != url:  # a password: keep it out of the run config (run storage, the UI)
        os.environ[SECRET_URL_VAR] = url
        url = {"env": SECRET_URL_VAR}
    resources: dict[str, Any] = {"store": {"config": {"url": url}}}
    if inbox:
        resources["inbox"] = {"config": {"path": str(inbox)}}
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: end.isoformat(),
    }
    own = instance is None
    if own and os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        instance = DagsterInstance.get()
    elif own:
        instance = DagsterInstance.ephemeral()
    selection = [AssetKey(a) for a in assets] if assets else None
    run_config: dict[str, Any] = {
        "resources": resources,
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }
    if not assets or "schedules" in assets:
        run_config.update(
            schedule_run_config(site_ids, replay=replay, intraday=intraday, chunk_span=chunk_span)
        )
    t0 = time.perf_counter()
    with _console_progress(progress, (end - start).days + 1) as hook, _progress_hook(hook):
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            tags=tags,
            asset_selection=selection,
            raise_on_error=False,
        )
    summary = PipelineSummary(result.run_id, result.success, start, end, time.perf_counter() - t0)
    for ev in result.get_asset_materialization_events():
        mat = ev.step_materialization_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        summary.add_materialization(mat.asset_key.to_user_string(), mat.partition, meta)
    for ev in result.get_asset_observation_events():
        obs = ev.asset_observation_data.asset_observation
        if "skipped" in obs.metadata:
            name, why = obs.asset_key.to_user_string(), str(obs.metadata["skipped"].value)
            if why not in summary.skipped.get(name, ""):
                summary.skipped[name] = "; ".join(filter(None, [summary.skipped.get(name), why]))
    for ev in result.get_asset_check_evaluations():
        key = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
        summary.checks[key] = summary.checks.get(key, True) and ev.passed  # every day passed
    failures = [e for e in result.all_events if e.is_step_failure]
    if failures:
        err = failures[0].step_failure_data.error  # type: ignore[union-attr]
        while err.cause is not None and "Failure" not in err.cls_name:
            err = err.cause
        summary.error = err.message.strip()
    if own:
        instance.dispose()
    return summary


@contextmanager
def _console_progress(show: bool, n_days: int) -> Iterator[Callable[[str, str], None] | None]:
    if not show:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def hook(step: str, detail: str) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=None)
            bar.update(tasks[step], advance=1, description=f"{step}: {detail}")

        yield hook


__all__ = [
    "PIPELINE_TIMEZONE",
    "MissingInputsError",
    "PipelineSummary",
    "Site",
    "SiteSchedule",
    "check_inputs",
    "day_ahead_viewpoint",
    "day_windows",
    "days_in",
    "device_kind",
    "forecast_coverage",
    "forecast_accuracy_summary",
    "forecast_days",
    "forecast_sensors",
    "latest_soc",
    "list_sites",
    "reopt_targets",
    "report_progress",
    "run_pipeline",
    "run_site_reports",
    "schedule_chart_markdown",
    "schedule_site",
    "schedule_violations",
    "ScheduleCheck",
    "check_saved_schedules",
    "site_kpis_summary",
]
