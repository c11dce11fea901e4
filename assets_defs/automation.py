"""Declarative automation: the day-ahead cycle on a cron, and the days ahead on upstream updates.

The conditions are applied once, over asset selections, in ``flex_pipelines/definitions.py``
(as dagster-open-platform does) and evaluated by the ``automation`` sensor of the daemon:

- ``forecasts``: :func:`day_ahead_cycle` — at ``FLEXPIPE_DAY_AHEAD_TIME`` (default 13:00, after
  the 12:00 gate closure once prices are published) in ``FLEXPIPE_TIMEZONE``, tomorrow's
  partition.
- ``schedules`` and ``reports``: :func:`on_upstream_update` — when a day after today (tomorrow …
  the planning horizon) of an upstream asset was updated or is requested in the same tick, that
  day, once nothing upstream of it is missing or in progress and no upstream blocking check
  failed on that day. So the cron on ``forecasts`` becomes one run of forecasts → schedules → reports for
  tomorrow; a runs' own downstream assets are not requested again (Dagster ignores a parent's
  update when the run that made it also targets the child).

Only days that have not started are planned whole by automation: today belongs to the
re-optimisation sensor and the intraday cycle, which plan from the current quarter hour (they pass
run config — sites, ``intraday`` — which an automation condition cannot).

Days are selected counting back from the last partition (today + horizon, see ``partitions.py``):
Dagster's ``in_latest_time_window(lookback)`` holds the partitions that start within ``lookback``
of the last one's end, so the last ``n`` days are ``n`` days + 12 hours: a 23- or 25-hour DST day
neither drops one nor pulls in the day before.
"""

from datetime import timedelta

from dagster import AutomationCondition

from flex_pipelines.settings import Settings

HALF_DAY = timedelta(hours=12)


def last_partitions(n: int) -> AutomationCondition:
    """True for the last ``n`` (≥ 1) partitions: those starting at most ``n`` days + 12 hours
    before the end of the last one (local days of 23 to 25 hours)."""
    return AutomationCondition.in_latest_time_window(timedelta(days=n) + HALF_DAY)


def days_ahead(first: int, last: int, horizon_days: int) -> AutomationCondition:
    """True for the partitions today + ``first`` … today + ``last`` (0 ≤ first ≤ last ≤
    ``horizon_days``), given that the last partition is today + ``horizon_days``."""
    if not 0 <= first <= last <= horizon_days:
        raise ValueError(f"days {first}…{last} are not within today … today + {horizon_days}")
    label = f"today + {first} … today + {last}"
    upto = last_partitions(horizon_days - first + 1)
    if last == horizon_days:
        return upto.with_label(label)
    return (upto & ~last_partitions(horizon_days - last)).with_label(label)


def cron_daily(hhmm: str) -> str:
    """A daily cron expression at local time ``HH:MM``."""
    hh, mm = (int(x) for x in hhmm.split(":"))
    return f"{mm} {hh} * * *"


def day_ahead_cycle(settings: Settings) -> AutomationCondition:
    """Tomorrow's partition, once per day at ``day_ahead_time`` (local), unless it is running."""
    cron = cron_daily(settings.day_ahead_time)
    return (
        days_ahead(1, 1, settings.planning_horizon_days)
        & AutomationCondition.cron_tick_passed(cron, settings.timezone).since_last_handled()
        & ~AutomationCondition.in_progress()
    ).with_label(f"day-ahead cycle ({cron}, {settings.timezone})")


def on_upstream_update(settings: Settings) -> AutomationCondition:
    """A day after today whose upstream was updated (or is requested in this tick), when nothing
    upstream of that day is missing or running and no upstream blocking check failed on that day
    (checks are partitioned; a check that runs in the same run as its asset still blocks there).
    """
    return (
        days_ahead(1, settings.planning_horizon_days, settings.planning_horizon_days)
        & AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.any_deps_match(
            AutomationCondition.any_checks_match(
                AutomationCondition.check_failed(), blocking_only=True
            )
        ).with_label("an upstream blocking check failed")
        & ~AutomationCondition.in_progress()
    ).with_label("on upstream update (days ahead)")
