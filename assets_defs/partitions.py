"""Daily partitions shared by every pipeline asset: one local calendar day per key.

Keys are days in the pipeline timezone (``FLEXPIPE_TIMEZONE``, default Europe/Amsterdam), so a
DST day is 23 or 25 hours long (92 or 100 quarter hours); assets turn the key's window into UTC
instants with :func:`window_utc`. Partitions run one day past today, so the day-ahead cycle can
schedule tomorrow. 15-minute and hourly rows live inside a day; we never partition by them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from dagster import DailyPartitionsDefinition, TimeWindow

from flex_pipelines.pipeline import PIPELINE_TIMEZONE

PARTITIONS_START = os.environ.get("FLEXPIPE_PARTITIONS_START", "2015-01-01")

daily_partitions = DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone=PIPELINE_TIMEZONE, end_offset=1
)


def window_utc(window: TimeWindow) -> tuple[datetime, datetime]:
    """A partition (range) window as UTC instants."""
    return window.start.astimezone(UTC), window.end.astimezone(UTC)
