"""The operating cycles: day-ahead (after gate closure) and intraday (rest of today).

- ``day_ahead_cycle``: at ``FLEXPIPE_DAY_AHEAD_TIME`` (HH:MM, default 13:00, i.e. after the
  12:00 gate closure once prices are published) in ``FLEXPIPE_TIMEZONE``: forecast, schedule and
  report tomorrow (a partition that exists: the partitions run to the end of the planning
  horizon, at least tomorrow).
- ``intraday_cycle``: every ``FLEXPIPE_INTRADAY_MINUTES`` (default 15) minutes: re-optimise the
  storage devices from the current quarter hour to the end of today, from the latest state of
  charge. It stays a schedule (not an ``AutomationCondition``) because it passes run config.
Both are on by default (``FLEXPIPE_AUTOMATION=off`` stops them).
"""

from datetime import timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from assets_defs.jobs import day_ahead_job, reoptimise_job
from assets_defs.partitions import SETTINGS
from assets_defs.schedules import schedule_run_config
from flex_pipelines.pipeline.reoptimise import local_today

ON = DefaultScheduleStatus.RUNNING if SETTINGS.automation else DefaultScheduleStatus.STOPPED


def cron_daily(hhmm: str) -> str:
    """A daily cron expression at local time ``HH:MM``."""
    hh, mm = (int(x) for x in hhmm.split(":"))
    return f"{mm} {hh} * * *"


@schedule(
    job=day_ahead_job,
    cron_schedule=cron_daily(SETTINGS.day_ahead_time),
    execution_timezone=SETTINGS.timezone,
    default_status=ON,
)
def day_ahead_cycle(context: ScheduleEvaluationContext) -> RunRequest:
    """Forecast + schedule + report tomorrow (local day), after the day-ahead gate closure."""
    tomorrow = local_today(context.scheduled_execution_time, SETTINGS.timezone) + timedelta(days=1)
    return RunRequest(
        run_key=f"day-ahead:{tomorrow.isoformat()}",
        partition_key=tomorrow.isoformat(),
        tags={"flexpipe/cycle": "day-ahead"},
    )


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
