"""The belief-store contract, changed beliefs only (FlexMeasures' save_changed_beliefs_only):
a belief repeating its source's latest one is not stored, within a frame and against stored
beliefs, ex-ante and ex-post apart, probabilistic beliefs whole.

Every test runs against DuckDB and against a real PostgreSQL (the ``store`` fixture of
tests/conftest.py); the ``site`` fixture and the ``frame`` helper are in ``_store_contract.py``.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from flex_pipelines.beliefs.validate import BeliefValidationError
from tests.unit import _store_contract
from tests.unit._store_contract import T0, H, Q, frame

#: the acme site (fixture) on this module's store
site = _store_contract.site


def _stored(store, sensor_id):
    """(event_start, belief_time, source_id, cumulative_probability, event_value) rows, sorted."""
    cols = ["event_start", "belief_time", "source_id", "cumulative_probability", "event_value"]
    return store.search_beliefs(sensor_id).select(cols).sort(cols).rows()


def test_a_belief_repeating_its_sources_latest_one_is_not_stored(store, site):
    p, fc = site["price"].id, site["fc"].id
    bt1, bt2 = T0 - timedelta(days=2), T0 - timedelta(days=1)
    first = store.save_beliefs(frame(p, fc, [T0, T0 + H], [1, 2], bt1))
    w = store.ingestion_watermark()
    # the same values a day later: nothing new, no ingestion
    again = store.save_beliefs(frame(p, fc, [T0, T0 + H], [1, 2], bt2))
    assert (again.n_new, again.n_existing, again.ingestion_id) == (0, 2, None)
    assert store.ingestion_watermark() == w == first.ingestion_id
    assert store.count_beliefs(p) == 2
    # one value changed: only that belief is stored, and the ingestion says so
    third = store.save_beliefs(frame(p, fc, [T0, T0 + H], [1, 3], bt2 + H))
    assert (third.n_new, third.n_existing) == (1, 1)
    (ing,) = store.ingestions_since(w)
    assert (ing.n_new, ing.first_event_start, ing.last_event_end) == (1, T0 + H, T0 + 2 * H)
    assert _stored(store, p) == [
        (T0, bt1, fc, 0.5, 1.0),
        (T0 + H, bt1, fc, 0.5, 2.0),
        (T0 + H, bt2 + H, fc, 0.5, 3.0),
    ]
    # a value back to an older one is a change (compared with the latest belief, not any)
    assert store.save_beliefs(frame(p, fc, [T0 + H], [2], bt2 + 2 * H)).n_new == 1
    # the most recent belief *before* the new one's belief time counts, not a later one
    assert store.save_beliefs(frame(p, fc, [T0], [1], bt1 - H)).n_new == 1
    # another source (even of the same type) with the same value is stored
    other = store.get_or_create_source("other forecaster", "forecaster")
    assert store.save_beliefs(frame(p, other.id, [T0], [1], bt2)).n_new == 1
    # changed_only=False stores every belief
    every = store.save_beliefs(frame(p, fc, [T0], [1], bt2 + 3 * H), changed_only=False)
    assert every.n_new == 1
    assert store.search_beliefs(p, T0, T0 + H, source_ids=[fc]).height == 3


def test_unchanged_beliefs_within_one_frame_are_stored_once(store, site):
    p, fc = site["price"].id, site["fc"].id
    bts = [T0 - timedelta(hours=h) for h in (50, 40, 30, 20, 14)]
    f = pl.concat(frame(p, fc, [T0], [v], bt) for v, bt in zip([1, 1, 2, 2, 1], bts, strict=True))
    r = store.save_beliefs(f.reverse())  # the order of the rows does not matter
    assert (r.n_new, r.n_existing) == (3, 2)
    assert [row[1] for row in _stored(store, p)] == [bts[0], bts[2], bts[4]]
    assert store.save_beliefs(f).n_new == 0  # and saving them all again adds nothing
    # repeats within a frame that follow stored beliefs: 1 (as stored), 1, then 3 (all before
    # the knowledge time, 11:00 UTC the day before)
    later = [T0 - timedelta(hours=13, minutes=m) for m in (45, 30, 15)]
    g = pl.concat(frame(p, fc, [T0], [v], bt) for v, bt in zip([1, 1, 3], later, strict=True))
    assert (store.save_beliefs(g).n_new, store.count_beliefs(p)) == (1, 4)
    assert _stored(store, p)[-1][1:] == (later[2], fc, 0.5, 3.0)


def test_the_first_measurement_is_stored_even_when_it_equals_the_forecast(store, site):
    """Ex-ante and ex-post beliefs are compared separately (as FlexMeasures does)."""
    power, meter = site["power"].id, site["meter"].id  # ex-post: known at the event end
    assert store.save_beliefs(frame(power, meter, [T0], [5], T0 - H)).n_new == 1  # forecast
    assert store.save_beliefs(frame(power, meter, [T0], [5], T0 - Q)).n_new == 0  # same forecast
    assert store.save_beliefs(frame(power, meter, [T0], [5], T0 + Q)).n_new == 1  # measured
    assert store.save_beliefs(frame(power, meter, [T0], [5], T0 + H)).n_new == 0  # re-measured
    assert store.search_beliefs(power, horizon_max=timedelta(0))["event_value"].to_list() == [5.0]


def test_a_probabilistic_belief_is_stored_whole_when_one_probability_changed(store, site):
    p, fc = site["price"].id, site["fc"].id

    def quantiles(values, bt):
        return pl.concat(
            frame(p, fc, [T0], [v], bt, cp=cp)
            for cp, v in zip((0.1, 0.5, 0.9), values, strict=True)
        )

    bt = T0 - timedelta(days=2)
    assert store.save_beliefs(quantiles([1, 2, 3], bt)).n_new == 3
    assert store.save_beliefs(quantiles([1, 2, 4], bt + H)).n_new == 3  # only the 0.9 changed
    assert store.save_beliefs(quantiles([1, 2, 4], bt + 2 * H)).n_new == 0
    latest = store.search_beliefs(p, T0, T0 + H, most_recent=True).sort("cumulative_probability")
    assert latest["belief_time"].to_list() == [bt + H] * 3
    assert latest["event_value"].to_list() == [1.0, 2.0, 4.0]
    # the same within one frame (nothing stored before), on another sensor
    other = store.add_sensor("price 2", "EUR/MWh", H)
    p = other.id
    three = [quantiles(v, bt + i * H) for i, v in enumerate([[1, 2, 3], [1, 2, 4], [1, 2, 4]])]
    assert store.save_beliefs(pl.concat(three)).n_new == 6


def test_changed_only_keeps_atomicity_and_the_overwrite_rules(store, site):
    p, mk = site["price"].id, site["market"].id
    bt = T0 - timedelta(days=1)
    store.save_beliefs(frame(p, mk, [T0, T0 + H], [10, 11], bt))
    store.save_beliefs(frame(p, mk, [T0], [12], bt + H))
    # unchanged + new + a conflicting value under a stored key: refused, nothing stored
    mixed = pl.concat(
        [
            frame(p, mk, [T0 + H], [11], bt + H),  # unchanged
            frame(p, mk, [T0 + 2 * H], [13], bt + H),  # new
            frame(p, mk, [T0], [99], bt),  # conflicts with the stored 10
        ]
    )
    w = store.ingestion_watermark()
    with pytest.raises(BeliefValidationError, match=r"already holds value 10.0 .* to 99.0"):
        store.save_beliefs(mixed)
    assert store.count_beliefs(p) == 3 and store.ingestion_watermark() == w
    # overwriting a stored belief with the value of the belief before it is stored (and logged):
    # skipping it would silently delete the overwritten value
    r = store.save_beliefs(frame(p, mk, [T0], [10], bt + H), overwrite=True)
    assert r.n_new == 1 and store.ingestion_watermark() == r.ingestion_id
    assert store.search_beliefs(p, T0, T0 + H, one_per_event=True)["event_value"].to_list() == [
        10.0
    ]
    assert store.count_beliefs(p) == 3


def test_at_equal_belief_times_the_later_ingestion_wins(store, site):
    """Two users about the same measured event (belief time = knowledge time): the correction
    saved later is what one-per-event reads, whichever source has the higher id."""
    power = site["power"].id
    alice = store.get_or_create_source("alice@acme.test", "user")
    bob = store.get_or_create_source("bob@acme.test", "user")
    assert bob.id > alice.id
    kt = T0 + Q  # the knowledge time of the event starting at T0
    store.save_beliefs(frame(power, bob.id, [T0, T0 + Q], [5, 6], [kt, kt + Q]))
    store.save_beliefs(frame(power, alice.id, [T0], [7], kt))
    got = store.search_beliefs(power, T0, T0 + 2 * Q, one_per_event=True)
    assert got["event_value"].to_list() == [7.0, 6.0]
    assert got["source_id"].to_list() == [alice.id, bob.id]
    view = store.query(
        "SELECT event_value FROM latest_beliefs WHERE sensor_id = ? ORDER BY event_start", [power]
    )
    assert view["event_value"].to_list() == [7.0, 6.0]
    # and a later correction by bob wins again
    store.save_beliefs(frame(power, bob.id, [T0], [8], kt + H))
    assert store.search_beliefs(power, T0, T0 + Q, one_per_event=True)["event_value"][0] == 8.0


def test_saving_at_once_equals_saving_one_belief_time_after_the_other(store, site):
    """The frame-only comparison (nothing stored yet) and the comparison with stored beliefs
    agree: random repeats over two sources, ex-ante and ex-post, deterministic and quantiles."""
    import random

    rng = random.Random(7)
    meter, other = site["meter"].id, store.get_or_create_source("meter 2", "user").id
    twin = store.add_sensor("power twin", "kW", Q)
    rows = []
    for event in range(4):
        start = T0 + event * Q
        for minutes in (-40, -25, -10, 0, 15, 30, 45, 60):  # around the knowledge time (end)
            bt = start + Q + timedelta(minutes=minutes)
            for src in (meter, other):
                cps = (0.1, 0.5, 0.9) if src == other and event % 2 else (0.5,)
                if rng.random() < 0.8:
                    rows += [(start, bt, src, cp, float(rng.choice([1, 2]))) for cp in cps]
    beliefs = pl.DataFrame(
        rows,
        schema=["event_start", "belief_time", "source_id", "cumulative_probability", "event_value"],
        orient="row",
    ).with_columns(pl.col("event_start", "belief_time").dt.replace_time_zone("UTC"))
    at_once = beliefs.with_columns(pl.lit(site["power"].id).alias("sensor_id"))
    n_at_once = store.save_beliefs(at_once.sample(fraction=1.0, shuffle=True, seed=1)).n_new
    n_each = 0
    for (_bt,), part in beliefs.sort("belief_time").group_by("belief_time", maintain_order=True):
        n_each += store.save_beliefs(part.with_columns(pl.lit(twin.id).alias("sensor_id"))).n_new
    assert n_each == n_at_once < len(rows)  # some repeats were not stored
    assert _stored(store, site["power"].id) == _stored(store, twin.id)
