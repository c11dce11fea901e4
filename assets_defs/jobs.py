"""Jobs over the asset graph: the whole pipeline, re-optimisation, and the celery variant."""

from dagster import AssetSelection, define_asset_job

PIPELINE = AssetSelection.groups("ingestion", "forecasting", "scheduling", "reporting")
REOPT = AssetSelection.assets("schedules", "reports")

#: ingest → forecast → schedule → report for partitions (in-process: safe on DuckDB)
pipeline_job = define_asset_job(
    "pipeline_job",
    selection=PIPELINE,
    description="Ingest, forecast, schedule and report for the selected days.",
)

#: schedules (and their reports) only: what the re-optimisation sensor and intraday cycle run
reoptimise_job = define_asset_job(
    "reoptimise_job",
    selection=REOPT,
    description="Re-optimise the schedules of the selected sites and days, then report.",
)


def celery_schedules_job():  # noqa: ANN201
    """Schedules on dagster-celery workers (one step per site), or None without dagster-celery."""
    try:
        from dagster_celery import celery_executor
    except ImportError:
        return None
    return define_asset_job(
        "celery_schedules_job",
        selection=AssetSelection.assets("schedules"),
        executor_def=celery_executor,
        description="Schedules with one celery task per site (needs a broker and workers; Postgres store).",
    )
