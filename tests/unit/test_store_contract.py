"""The belief-store contract: every test runs against DuckDB and against a real PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from flex_pipelines.beliefs import KnowledgeHorizon, open_store
from flex_pipelines.beliefs.validate import BeliefValidationError
from flex_pipelines.errors import FlexPipelinesError, NotFoundError

T0 = datetime(2024, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
Q = timedelta(minutes=15)


def frame(sensor_id, source_id, starts, values, belief_time, cp=0.5):
    return pl.DataFrame(
        {
            "sensor_id": sensor_id,
            "event_start": pl.Series(starts, dtype=pl.Datetime("us", "UTC")),
            "belief_time": belief_time,
            "source_id": source_id,
            "cumulative_probability": cp,
            "event_value": [float(v) for v in values],
        }
    )


@pytest.fixture
def site(store):
    acc = store.add_account("acme")
    building = store.add_asset("building", "building", acc.id, timezone="Europe/Amsterdam")
    price = store.add_sensor(
        "day-ahead price",
        "EUR/MWh",
        H,
        timezone="Europe/Amsterdam",
        asset_id=building.id,
        knowledge_horizon=KnowledgeHorizon("day_ahead", hour=12),
    )
    power = store.add_sensor("power", "kW", Q, asset_id=building.id)
    market = store.get_or_create_source("market", "market")
    fc = store.get_or_create_source("forecaster", "forecaster", model="ridge", version="1")
    meter = store.get_or_create_source("meter", "user")
    return dict(
        acc=acc, building=building, price=price, power=power, market=market, fc=fc, meter=meter
    )


def test_schema_init_is_idempotent(store_url):
    s1 = open_store(store_url)
    s1.add_account("a")
    s1.init_schema()
    s1.init_schema()
    assert [a.name for a in s1.list_accounts()] == ["a"]
    s1.close()


def test_entities_round_trip(store, site):
    assert store.get_account("acme").id == site["acc"].id
    battery = store.add_asset(
        "battery",
        "battery",
        site["acc"].id,
        parent_id=site["building"].id,
        flex_model={"soc-max": "450 kWh"},
    )
    assert store.get_asset(battery.id).flex_model == {"soc-max": "450 kWh"}
    assert [a.id for a in store.asset_ancestry(battery.id)] == [battery.id, site["building"].id]
    updated = store.update_asset(
        site["building"].id, flex_context={"site-power-capacity": "500 kVA"}
    )
    assert updated.flex_context["site-power-capacity"] == "500 kVA"
    s = store.get_sensor(site["price"].id)
    assert s.unit == "EUR/MWh" and s.event_resolution == H and s.knowledge_horizon.hour == 12
    assert {x.id for x in store.list_sensors(asset_id=site["building"].id)} == {
        site["price"].id,
        site["power"].id,
    }
    assert store.get_or_create_source("market", "market").id == site["market"].id
    assert [x.name for x in store.list_sources(["forecaster"])] == ["forecaster"]
    u = store.add_user(site["acc"].id, "ops@acme.test", "hash", roles=["account-admin"])
    assert store.list_users(site["acc"].id)[0].roles == ("account-admin",) and u.id
    with pytest.raises(FlexPipelinesError, match="already taken"):
        store.add_account("acme")
    with pytest.raises(FlexPipelinesError, match="own ancestor"):
        store.update_asset(site["building"].id, parent_id=battery.id)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.get_sensor(999), "unknown sensor id 999"),
        (lambda s: s.get_asset(999), "unknown asset id 999"),
        (lambda s: s.get_source(999), "unknown source 999"),
        (lambda s: s.get_account("nobody"), "unknown account 'nobody'"),
        (lambda s: s.add_sensor("x", "kW", Q, asset_id=999), "unknown asset id 999"),
        (lambda s: s.add_sensor("x", "flibbertigibbets", Q), "unknown unit .flibbertigibbets."),
        (lambda s: s.add_sensor("x", "kW", Q, timezone="Mars/Base"), "unknown timezone"),
    ],
)
def test_unknown_ids_and_bad_definitions(store, call, match):
    with pytest.raises(FlexPipelinesError, match=match):
        call(store)


def test_save_is_idempotent_and_advances_watermark(store, site):
    starts = [T0 + i * H for i in range(48)]
    f = frame(site["price"].id, site["market"].id, starts, range(48), T0 - timedelta(hours=13))
    assert store.ingestion_watermark() == 0
    r1 = store.save_beliefs(f)
    assert (r1.n_new, r1.n_existing) == (48, 0)
    w1 = store.ingestion_watermark()
    assert w1 == r1.ingestion_id and w1 > 0
    r2 = store.save_beliefs(f)
    assert (r2.n_new, r2.n_existing, r2.ingestion_id) == (0, 48, None)
    assert store.ingestion_watermark() == w1
    assert store.count_beliefs(site["price"].id) == 48
    # half old, half new
    f2 = frame(
        site["price"].id,
        site["market"].id,
        [T0 + i * H for i in range(24, 72)],
        range(24, 72),
        T0 - timedelta(hours=13),
    )
    r3 = store.save_beliefs(f2)
    assert (r3.n_new, r3.n_existing) == (24, 24)
    (ing,) = store.ingestions_since(w1)
    assert ing.sensor_id == site["price"].id and ing.n_new == 24 and ing.source_types == ("market",)
    assert ing.first_event_start == T0 + 48 * H and ing.last_event_end == T0 + 72 * H


def test_changed_value_under_same_key_is_refused_atomically(store, site):
    bt = T0 - timedelta(days=1)
    store.save_beliefs(frame(site["price"].id, site["market"].id, [T0, T0 + H], [10, 11], bt))
    # a mixed save: new beliefs on the power sensor plus a changed price → nothing is stored
    mixed = pl.concat(
        [
            frame(
                site["power"].id,
                site["meter"].id,
                [T0 + i * Q for i in range(8)],
                range(8),
                T0 + 3 * H,
            ),
            frame(site["price"].id, site["market"].id, [T0 + H], [99], bt),
        ]
    )
    with pytest.raises(BeliefValidationError, match=r"already holds value 11.0 .* to 99.0"):
        store.save_beliefs(mixed)
    assert store.count_beliefs(site["power"].id) == 0
    assert store.count_beliefs() == 2
    r = store.save_beliefs(
        frame(site["price"].id, site["market"].id, [T0 + H], [99], bt), overwrite=True
    )
    assert r.n_new == 1
    got = store.search_beliefs(site["price"].id, T0, T0 + 2 * H)
    assert got["event_value"].to_list() == [10.0, 99.0]


@pytest.mark.parametrize(
    "mutate, match",
    [
        (
            lambda f: f.with_columns(pl.lit(float("nan")).alias("event_value")),
            "event_value is empty or NaN",
        ),
        (
            lambda f: f.with_columns(pl.lit(None, pl.Float64).alias("event_value")),
            "event_value is empty or NaN",
        ),
        (
            lambda f: f.with_columns(pl.col("event_start").dt.replace_time_zone(None)),
            "event_start is naive",
        ),
        (
            lambda f: f.with_columns(pl.col("event_start") + pl.duration(minutes=7)),
            "not on the 1:00:00 grid",
        ),
        (
            lambda f: f.with_columns(pl.lit(999).alias("sensor_id")),
            r"unknown sensor id\(s\): \[999\]",
        ),
        (
            lambda f: f.with_columns(pl.lit(999).alias("source_id")),
            r"unknown source id\(s\): \[999\]",
        ),
        (lambda f: f.with_columns(pl.lit(1.5).alias("cumulative_probability")), "outside"),
        (
            lambda f: pl.concat([f, f.head(1).with_columns(pl.lit(5.0).alias("event_value"))]),
            "duplicate event",
        ),
        (lambda f: f.drop("belief_time"), "lacks column"),
    ],
)
def test_bad_beliefs_are_refused_and_nothing_is_stored(store, site, mutate, match):
    store.save_beliefs(
        frame(site["price"].id, site["market"].id, [T0 - H], [1], T0 - timedelta(days=2))
    )
    f = frame(
        site["price"].id,
        site["market"].id,
        [T0 + i * H for i in range(4)],
        [1, 2, 3, 4],
        T0 - timedelta(days=1),
    )
    with pytest.raises(FlexPipelinesError, match=match):
        store.save_beliefs(mutate(f))
    assert store.count_beliefs() == 1


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


def test_delete_beliefs_by_window_and_source(store, site):
    p = site["power"].id
    starts = [T0 + i * Q for i in range(8)]
    store.save_beliefs(frame(p, site["meter"].id, starts, range(8), T0 + 3 * H))
    store.save_beliefs(frame(p, site["fc"].id, starts, range(8), T0 - H))
    assert store.delete_beliefs(p, T0, T0 + H, source_ids=[site["fc"].id]) == 4
    assert store.count_beliefs(p) == 12
    assert store.delete_beliefs(p) == 12
    assert store.count_beliefs(p) == 0
    with pytest.raises(NotFoundError):
        store.delete_beliefs(999)


def test_delete_asset_cascades(store, site):
    store.save_beliefs(frame(site["power"].id, site["meter"].id, [T0], [1], T0 + H))
    store.delete_asset(site["building"].id)
    assert store.list_assets() == [] and store.list_sensors() == [] and store.count_beliefs() == 0


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


# --- changed beliefs only (FlexMeasures' save_changed_beliefs_only) --------------------------


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
