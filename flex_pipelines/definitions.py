"""The Dagster code location: assets, checks, jobs, sensors, schedules and resources.

Cross-cutting policy is applied here, once, over asset selections: the executor (in-process, so
one process writes a DuckDB store), freshness of schedules, the declarative automation (the
day-ahead cycle on a cron for ``forecasts``, upstream updates for ``schedules`` and ``reports``;
``assets_defs/automation.py``) and the sensor that evaluates it. Load it with ``workspace.yaml``
(``python_module: flex_pipelines.definitions``) or ``dagster dev -m flex_pipelines.definitions``.
"""

from datetime import timedelta

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    Definitions,
    FreshnessPolicy,
    in_process_executor,
    load_asset_checks_from_modules,
    load_assets_from_modules,
)

from assets_defs import backtests, checks, forecasts, inbox, reports, schedules
from assets_defs.automation import day_ahead_cycle, on_upstream_update
from assets_defs.jobs import celery_schedules_job, pipeline_job, reoptimise_job
from assets_defs.partitions import SETTINGS
from assets_defs.sensors import (
    DEMO_ON,
    alert_on_run_failure,
    alert_on_tick_failure,
    inbox_files,
    reoptimise_on_new_beliefs,
    stale_schedules,
)
from flex_pipelines.settings import resource_value
from resources import BeliefStoreResource, InboxResource
from resources.step_io import STEP_IO, store_io_manager
from schedules.cycles import intraday_cycle

#: schedules must be refreshed at least daily (the day-ahead cycle); warn after 25 hours
SCHEDULE_FRESHNESS = FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=25)
)

#: the day-ahead cycle: forecasts of tomorrow at FLEXPIPE_DAY_AHEAD_TIME (local)
DAY_AHEAD = AssetSelection.assets("forecasts")
#: the days ahead follow their upstream: schedules after forecasts, reports after schedules
DOWNSTREAM = AssetSelection.assets("schedules", "reports")

#: evaluates the automation conditions (a daemon tick every FLEXPIPE_SENSOR_INTERVAL_S)
automation = AutomationConditionSensorDefinition(
    "automation",
    target=DAY_AHEAD | DOWNSTREAM,
    default_status=DEMO_ON,
    minimum_interval_seconds=SETTINGS.sensor_interval_s,
    run_tags={"flexpipe/trigger": "automation"},
    description="The day-ahead cycle (forecasts of tomorrow on a cron) and schedules and reports "
    "of the days ahead when their upstream updates.",
)

STORE = BeliefStoreResource(
    url=resource_value("FLEXPIPE_DB_URL"),
    lock_wait_s=resource_value("FLEXPIPE_LOCK_WAIT_S", int),
)
assets = load_assets_from_modules([inbox, forecasts, schedules, reports, backtests])
jobs = [pipeline_job, reoptimise_job]
if (celery_job := celery_schedules_job()) is not None:
    jobs.append(celery_job)

defs = (
    Definitions(
        assets=assets,
        asset_checks=load_asset_checks_from_modules([checks]),
        jobs=jobs,
        sensors=[
            inbox_files,
            reoptimise_on_new_beliefs,
            alert_on_run_failure,
            alert_on_tick_failure,
            stale_schedules,
            automation,
        ],
        schedules=[intraday_cycle],
        # settings reach resources through EnvVar when set (the UI shows the variable), else defaults
        resources={
            "store": STORE,
            "inbox": InboxResource(path=resource_value("FLEXPIPE_INBOX")),
            STEP_IO: store_io_manager,  # step outputs in the store, not on a disk
        },
        executor=in_process_executor,
    )
    .map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(freshness_policy=SCHEDULE_FRESHNESS),
        selection=AssetSelection.assets("schedules"),
    )
    .map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(automation_condition=day_ahead_cycle(SETTINGS)),
        selection=DAY_AHEAD,
    )
    .map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(
            automation_condition=on_upstream_update(SETTINGS)
        ),
        selection=DOWNSTREAM,
    )
)
