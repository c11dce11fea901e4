"""The operating cycles: day-ahead (after gate closure) and intraday (rest of today).

- ``day_ahead_cycle``: at ``FLEXPIPE_DAY_AHEAD_TIME`` (HH:MM, default 13:00, i.e. after the
  12:00 gate closure once prices are published) in ``FLEXPIPE_TIMEZONE``: forecast, schedule and
  report tomorrow.
- ``intraday_cycle``: every ``FLEXPIPE_INTRADAY_MINUTES`` (default 15) minutes: re-optimise the
  storage devices for the rest of today from the latest state of charge.
Both are on by default (``FLEXPIPE_AUTOMATION=off`` stops them).
"""

import os
from datetime import timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from assets_defs.jobs import day_ahead_job, reoptimise_job
from flex_pipelines.pipeline import PIPELINE_TIMEZONE
from flex_pipelines.time import get_zone

ON = DefaultScheduleStatus.RUNNING if os.environ.get("FLEXPIPE_AUTOMATION", "on") == "on" else DefaultScheduleStatus.STOPPED  # fmt: skip
DAY_AHEAD_TIME = os.environ.get("FLEXPIPE_DAY_AHEAD_TIME", "13:00")
INTRADAY_MINUTES = int(os.environ.get("FLEXPIPE_INTRADAY_MINUTES", "15"))


def _cron_daily(hhmm: str) -> str:
    hh, mm = (int(x) for x in hhmm.split(":"))
    return f"{mm} {hh} * * *"


@schedule(job=day_ahead_job, cron_schedule=_cron_daily(DAY_AHEAD_TIME), execution_timezone=PIPELINE_TIMEZONE, default_status=ON)  # fmt: skip
def day_ahead_cycle(context: ScheduleEvaluationContext) -> RunRequest:
    """Forecast + schedule + report tomorrow (local day), after the day-ahead gate closure."""
    tick = context.scheduled_execution_time.astimezone(get_zone(PIPELINE_TIMEZONE))
    tomorrow = (tick.date() + timedelta(days=1)).isoformat()
    return RunRequest(run_key=f"day-ahead:{tomorrow}", partition_key=tomorrow, tags={"flexpipe/cycle": "day-ahead"})  # fmt: skip


@schedule(job=reoptimise_job, cron_schedule=f"*/{INTRADAY_MINUTES} * * * *", execution_timezone=PIPELINE_TIMEZONE, default_status=ON)  # fmt: skip
def intraday_cycle(context: ScheduleEvaluationContext) -> RunRequest:
    """Re-optimise storage for the rest of today from the latest state of charge."""
    tick = context.scheduled_execution_time.astimezone(get_zone(PIPELINE_TIMEZONE))
    return RunRequest(
        run_key=f"intraday:{tick.isoformat()}",
        partition_key=tick.date().isoformat(),
        run_config={
            "ops": {
                "schedules": {
                    "ops": {
                        "schedule_targets": {"config": {"intraday": True, "kinds": ["storage"]}}
                    }
                }
            }
        },  # fmt: skip
        tags={"flexpipe/cycle": "intraday"},
    )
