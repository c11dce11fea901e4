"""DST days and gaps in history: real prices on the real Europe/Brussels clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from flex_pipelines.beliefs.model import KnowledgeHorizon
from flex_pipelines.forecasting import CycleConfig, SeriesHistory, forecast_cycles, knowledge_times
from flex_pipelines.forecasting.datasets import epf_prices, gb_demand

BRU = ZoneInfo("Europe/Brussels")
DA = dict(min_horizon=timedelta(hours=12), max_horizon=timedelta(hours=36))


@pytest.fixture(scope="module")
def brussels_prices() -> SeriesHistory:
    """BE prices around the DST changes of 2016, on a regular UTC hourly grid in Europe/Brussels.

    The file's values are laid on consecutive UTC hours from 2016-02-01 00:00 UTC, so the series
    itself crosses 27 March (23-hour local day) and 30 October (25-hour local day) like real
    metered data would.
    """
    _, df = epf_prices("be")
    vals = df["price"].to_numpy()[-8000:]
    starts = pl.datetime_range(
        datetime(2016, 2, 1, tzinfo=UTC),
        datetime(2016, 2, 1, tzinfo=UTC) + timedelta(hours=len(vals) - 1),
        "1h",
        eager=True,
    )
    return SeriesHistory.from_values(
        starts,
        vals,
        resolution=timedelta(hours=1),
        knowledge_horizon=KnowledgeHorizon(kind="day_ahead", hour=13),
        timezone="Europe/Brussels",
        unit="EUR/MWh",
        name="be-price",
    )


def test_day_ahead_knowledge_time_follows_the_local_clock() -> None:
    starts = pl.Series([datetime(2016, 3, 27, 1, tzinfo=UTC), datetime(2016, 3, 28, 1, tzinfo=UTC)])
    kt = knowledge_times(
        starts, timedelta(hours=1), KnowledgeHorizon(kind="day_ahead", hour=12), "Europe/Brussels"
    )
    # 12:00 CET on 26 March = 11:00 UTC; 12:00 CEST on 27 March = 10:00 UTC
    assert kt.to_list() == [
        datetime(2016, 3, 26, 11, tzinfo=UTC),
        datetime(2016, 3, 27, 10, tzinfo=UTC),
    ]


@pytest.mark.parametrize("model", ["naive-day", "ridge", "lear", "hgb"])
@pytest.mark.parametrize("day", [(2016, 3, 26), (2016, 10, 29)])
def test_forecasts_across_dst_days_are_complete(
    brussels_prices: SeriesHistory, model: str, day: tuple[int, int, int]
) -> None:
    vp = datetime(*day, 12, tzinfo=BRU)
    cfg = CycleConfig(**DA, train_period=timedelta(days=28))
    fc = forecast_cycles(model, brussels_prices, vp, vp + timedelta(days=2), cfg)
    assert fc.height == 2 * 24
    assert fc["event_value"].is_finite().all()
    assert fc["belief_time"].unique().to_list() == [
        vp.astimezone(UTC),
        (vp + timedelta(days=1)).astimezone(UTC),
    ]


def test_same_hour_yesterday_means_the_local_hour_on_a_dst_day(
    brussels_prices: SeriesHistory,
) -> None:
    vp = datetime(2016, 3, 26, 12, tzinfo=BRU)
    cfg = CycleConfig(**DA, train_period=timedelta(days=14))
    fc = forecast_cycles("naive-day", brussels_prices, vp, vp + timedelta(hours=1), cfg)
    vals = dict(zip(fc["event_start"].to_list(), fc["event_value"].to_list(), strict=True))
    hist = dict(
        zip(
            brussels_prices.frame["event_start"].to_list(),
            brussels_prices.frame["event_value"].to_list(),
            strict=True,
        )
    )
    # 27 March 03:00 CEST (01:00 UTC) repeats 26 March 03:00 CET (02:00 UTC), not 01:00 UTC
    assert vals[datetime(2016, 3, 27, 1, tzinfo=UTC)] == hist[datetime(2016, 3, 26, 2, tzinfo=UTC)]
    # 27 March 10:00 CEST (08:00 UTC) repeats 26 March 10:00 CET (09:00 UTC)
    assert vals[datetime(2016, 3, 27, 8, tzinfo=UTC)] == hist[datetime(2016, 3, 26, 9, tzinfo=UTC)]


def test_gaps_in_history_are_skipped_not_fatal() -> None:
    hist = gb_demand()
    # drop two whole days and a few scattered half hours before the viewpoint
    gap = (pl.col("event_start") >= datetime(2000, 7, 20, tzinfo=UTC)) & (
        pl.col("event_start") < datetime(2000, 7, 22, tzinfo=UTC)
    )
    f = hist.frame.with_row_index().filter(~gap & (pl.col("index") % 97 != 5)).drop("index")
    holey = hist.with_frame(f)
    vp = datetime(2000, 7, 22, 12, tzinfo=UTC)
    cfg = CycleConfig(**DA, train_period=timedelta(days=28))
    for model in ("naive-day", "ridge", "ridge-profiles", "hgb", "ets", "sarimax"):
        fc = forecast_cycles(model, holey, vp, vp + timedelta(hours=1), cfg)
        assert fc.height == 48, model
        assert fc["event_value"].is_finite().all(), model
    # same hour on the most recent day on which that hour was known at 12:00 on 22 July:
    # 00:00 → 22 July (known since 00:30); 18:00 → 19 July (20 and 21 July are missing,
    # 22 July 18:00 is not known yet)
    fc = forecast_cycles("naive-day", holey, vp, vp + timedelta(hours=1), cfg)
    got = dict(zip(fc["event_start"].to_list(), fc["event_value"].to_list(), strict=True))
    src = dict(
        zip(hist.frame["event_start"].to_list(), hist.frame["event_value"].to_list(), strict=True)
    )
    assert got[datetime(2000, 7, 23, 0, tzinfo=UTC)] == src[datetime(2000, 7, 22, 0, tzinfo=UTC)]
    assert got[datetime(2000, 7, 23, 18, tzinfo=UTC)] == src[datetime(2000, 7, 19, 18, tzinfo=UTC)]
