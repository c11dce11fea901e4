"""Daily partitions shared by every pipeline asset: one local calendar day per key.

Keys are days in the pipeline timezone (``FLEXPIPE_TIMEZONE``, default Europe/Amsterdam), so a
DST day is 23 or 25 hours long (92 or 100 quarter hours); assets turn the key's window into UTC
instants with :func:`window_utc`. The last partition is the end of the planning horizon
(``FLEXPIPE_PLANNING_HORIZON_DAYS``, default 1: tomorrow): Dagster's ``end_offset`` counts
partitions after the last complete day, so today is offset 1 and tomorrow offset 2. Every key a
cycle or sensor requests lies in today … today + horizon, so it exists at the moment it is
requested, also around local midnight and on DST days (``tests/dagster/test_partition_keys.py``).
15-minute and hourly rows live inside a day; we never partition by them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import DailyPartitionsDefinition, TimeWindow

from flex_pipelines.settings import Settings, code_location_settings


def daily_partitions_for(settings: Settings) -> DailyPartitionsDefinition:
    """Local days from ``partitions_start`` to today + ``planning_horizon_days``."""
    return DailyPartitionsDefinition(
        start_date=settings.partitions_start,
        timezone=settings.timezone,
        end_offset=1 + settings.planning_horizon_days,
    )


SETTINGS = code_location_settings()
PARTITIONS_START = SETTINGS.partitions_start
daily_partitions = daily_partitions_for(SETTINGS)


def window_utc(window: TimeWindow) -> tuple[datetime, datetime]:
    """A partition (range) window as UTC instants."""
    return window.start.astimezone(UTC), window.end.astimezone(UTC)
