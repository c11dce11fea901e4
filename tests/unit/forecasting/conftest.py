"""Small slices of the bundled real series (data/forecasting) for the forecasting tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from flex_pipelines.forecasting.datasets import epf_prices
from flex_pipelines.forecasting.history import SeriesHistory

CET = timezone(timedelta(hours=1))


@pytest.fixture(scope="session")
def be_prices() -> SeriesHistory:
    """BE day-ahead prices, 2015-09-01 to 2015-12-01 (UTC+1), known at 13:00 the day before."""
    hist, _ = epf_prices("be")
    lo, hi = datetime(2015, 9, 1, tzinfo=CET), datetime(2015, 12, 1, tzinfo=CET)
    return hist.with_frame(
        hist.frame.filter((pl.col("event_start") >= lo) & (pl.col("event_start") < hi))
    )
