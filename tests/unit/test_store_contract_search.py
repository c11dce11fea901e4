"""The belief-store contract, reading beliefs: as-of, most-recent and one-per-event searches,
data over forecasts at equal belief times, the median of probabilistic beliefs, horizon bounds,
resampling, and SQL queries over the views.

Every test runs against DuckDB and against a real PostgreSQL (the ``store`` fixture of
tests/conftest.py); the ``site`` fixture and the ``frame`` helper are in ``_store_contract.py``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from flex_pipelines.errors import FlexPipelinesError
from tests.unit import _store_contract
from tests.unit._store_contract import T0, H, Q, frame

#: the acme site (fixture) on this module's store
site = _store_contract.site


def test_as_of_most_recent_and_one_per_event(store, site):
    p, mk, fc = site["price"].id, site["market"].id, site["fc"].id
    starts = [T0 + i * H for i in range(3)]
    store.save_beliefs(frame(p, fc, starts, [1, 1, 1], T0 - timedelta(days=3)))
    store.save_beliefs(frame(p, fc, starts, [2, 2, 2], T0 - timedelta(days=2)))
    store.save_beliefs(frame(p, mk, starts, [3, 3, 3], T0 - timedelta(hours=12)))
    assert store.search_beliefs(p, T0, T0 + 3 * H).height == 9
    rec = store.search_beliefs(p, T0, T0 + 3 * H, most_recent=True)
    assert rec.height == 6 and set(rec.filter(pl.col("source_id") == fc)["event_value"]) == {2.0}
    one = store.search_beliefs(p, T0, T0 + 3 * H, one_per_event=True)
    assert one["event_value"].to_list() == [3.0, 3.0, 3.0]
    then = store.search_beliefs(
        p, T0, T0 + 3 * H, as_of=T0 - timedelta(days=2, hours=1), one_per_event=True
    )
    assert then["event_value"].to_list() == [1.0, 1.0, 1.0]
    before = store.search_beliefs(p, T0, T0 + 3 * H, as_of=T0 - timedelta(days=4))
    assert before.is_empty() and before.schema == rec.schema
    only_fc = store.search_beliefs(
        p, T0, T0 + 3 * H, source_types=["forecaster"], one_per_event=True
    )
    assert only_fc["event_value"].to_list() == [2.0, 2.0, 2.0]
    no_fc = store.search_beliefs(p, T0, T0 + 3 * H, exclude_source_types=["forecaster", "market"])
    assert no_fc.is_empty()
    assert store.search_beliefs(p, T0, T0 + 3 * H, source_ids=[mk]).height == 3
    assert store.search_beliefs(p, T0 + H, T0 + 2 * H).height == 3  # end is exclusive


def test_at_equal_belief_times_data_beats_forecasts(store, site):
    """A forecast made at the moment the price was published must not replace the price."""
    p, bt = site["price"].id, T0 - timedelta(hours=13)
    late_fc = store.get_or_create_source("late forecaster", "forecaster")  # higher id than market
    assert late_fc.id > site["market"].id
    store.save_beliefs(frame(p, late_fc.id, [T0, T0 + H], [1, 1], bt))
    store.save_beliefs(frame(p, site["market"].id, [T0], [50], bt))
    got = store.search_beliefs(p, T0, T0 + 2 * H, one_per_event=True)
    assert got["event_value"].to_list() == [50.0, 1.0]  # the forecast fills only where no data
    view = store.query("SELECT event_value FROM latest_beliefs ORDER BY event_start")
    assert view["event_value"].to_list() == [50.0, 1.0]
    # a later forecast still wins over older data (latest belief first)
    store.save_beliefs(frame(p, late_fc.id, [T0], [2], bt + H))
    assert store.search_beliefs(p, T0, T0 + H, one_per_event=True)["event_value"].to_list() == [2.0]


def test_probabilistic_beliefs_one_per_event_takes_the_median(store, site):
    p, fc = site["price"].id, site["fc"].id
    f = pl.concat(
        frame(p, fc, [T0], [v], T0 - timedelta(days=1), cp=cp)
        for cp, v in [(0.1, 5), (0.5, 7), (0.9, 9)]
    )
    store.save_beliefs(f)
    assert store.search_beliefs(p, T0, T0 + H, one_per_event=True)["event_value"].to_list() == [7.0]
    assert store.search_beliefs(p, T0, T0 + H, most_recent=True).height == 3


def test_horizon_bounds_follow_the_knowledge_horizon_rule(store, site):
    p, fc = site["price"].id, site["fc"].id
    # price for 2024-01-02 00:00 Amsterdam (= 01-01 23:00 UTC) is known at 01-01 12:00 Amsterdam = 11:00 UTC
    ev = datetime(2024, 1, 1, 23, tzinfo=UTC)
    store.save_beliefs(frame(p, fc, [ev], [1], datetime(2024, 1, 1, 11, tzinfo=UTC)))  # horizon 0
    store.save_beliefs(
        frame(p, fc, [ev], [2], datetime(2023, 12, 31, 11, tzinfo=UTC))
    )  # horizon 24 h
    day_ahead = store.search_beliefs(p, horizon_min=timedelta(hours=24), one_per_event=True)
    assert day_ahead["event_value"].to_list() == [2.0]
    assert store.search_beliefs(p, horizon_max=timedelta(0))["event_value"].to_list() == [1.0]


def test_resampling_means_for_power_and_sums_for_energy(store, site):
    energy = store.add_sensor("energy", "kWh", Q)
    m = site["meter"].id
    starts = [T0 + i * Q for i in range(8)]
    store.save_beliefs(frame(site["power"].id, m, starts, [1, 2, 3, 4, 5, 6, 7, 8], T0 + 3 * H))
    store.save_beliefs(frame(energy.id, m, starts, [1, 2, 3, 4, 5, 6, 7, 8], T0 + 3 * H))
    pw = store.search_beliefs(site["power"].id, one_per_event=True, resolution=H)
    en = store.search_beliefs(energy.id, one_per_event=True, resolution=H)
    assert pw["event_value"].to_list() == [2.5, 6.5]
    assert en["event_value"].to_list() == [10.0, 26.0]
    store.save_beliefs(
        frame(site["price"].id, site["market"].id, [T0], [40], T0 - timedelta(days=1))
    )
    up = store.search_beliefs(site["price"].id, T0, T0 + H, one_per_event=True, resolution=Q)
    assert up["event_value"].to_list() == [40.0] * 4
    assert up["event_start"].to_list() == [T0 + i * Q for i in range(4)]
    with pytest.raises(FlexPipelinesError, match="one_per_event"):
        store.search_beliefs(site["power"].id, resolution=H)


def test_window_end_before_start_is_an_error(store, site):
    with pytest.raises(FlexPipelinesError, match="end .* is before its start"):
        store.search_beliefs(site["price"].id, T0 + H, T0)


def test_sql_query_and_views(store, site):
    store.save_beliefs(
        frame(site["price"].id, site["market"].id, [T0, T0 + H], [5, 6], T0 - timedelta(days=1))
    )
    df = store.query(
        "SELECT sensor_name, source_type, event_value FROM latest_beliefs ORDER BY event_start"
    )
    assert df.rows() == [("day-ahead price", "market", 5.0), ("day-ahead price", "market", 6.0)]
    df = store.query("SELECT count(*) AS n FROM beliefs WHERE event_value > ?", [5.5])
    assert df["n"][0] == 1
    assert math.isclose(store.query("SELECT avg(event_value) AS m FROM beliefs")["m"][0], 5.5)
