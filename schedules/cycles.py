"""The intraday cycle: re-plan the rest of today every ``FLEXPIPE_INTRADAY_MINUTES`` minutes.

Every ``FLEXPIPE_INTRADAY_MINUTES`` (default 15) minutes in ``FLEXPIPE_TIMEZONE``: re-optimise
the storage devices from the current quarter hour to the end of today, from the latest state of
charge. It stays a schedule, not an ``AutomationCondition``, because its runs need run config
(``intraday: true`` — never plan before now — and ``kinds: [storage]``) and a run tag
(``flexpipe/cycle: intraday``, limited to one run at a time in ``dagster.yaml``); automation
conditions request plain materializations of the asset. The day-ahead cycle is declarative
(``assets_defs/automation.py``). On by default (``FLEXPIPE_AUTOMATION=off`` stops it).
"""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from assets_defs.jobs import reoptimise_job
from assets_defs.partitions import SETTINGS
from assets_defs.schedules import schedule_run_config
from flex_pipelines.pipeline.reoptimise import local_today

ON = DefaultScheduleStatus.RUNNING if SETTINGS.automation else DefaultScheduleStatus.STOPPED


@schedule(
    job=reoptimise_job,
    cron_schedule=f"*/{SETTINGS.intraday_minutes} * * * *",
    execution_timezone=SETTINGS.timezone,
    default_status=ON,
)
def intraday_cycle(context: ScheduleEvaluationContext) -> RunRequest:
    """Re-optimise storage from the current quarter hour to the end of today, from the latest
    state of charge."""
    tick = context.scheduled_execution_time
    return RunRequest(
        run_key=f"intraday:{tick.isoformat()}",
        partition_key=local_today(tick, SETTINGS.timezone).isoformat(),
        run_config=schedule_run_config(intraday=True, kinds=["storage"]),
        tags={"flexpipe/cycle": "intraday"},
    )
