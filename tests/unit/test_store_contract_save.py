"""The belief-store contract, saving and deleting beliefs: idempotent saves and the ingestion
watermark, changed values refused atomically (or overwritten), bad beliefs refused with nothing
stored, deletion by window and source.

Every test runs against DuckDB and against a real PostgreSQL (the ``store`` fixture of
tests/conftest.py); the ``site`` fixture and the ``frame`` helper are in ``_store_contract.py``.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from flex_pipelines.beliefs.validate import BeliefValidationError
from flex_pipelines.errors import FlexPipelinesError, NotFoundError
from tests.unit import _store_contract
from tests.unit._store_contract import T0, H, Q, frame

#: the acme site (fixture) on this module's store
site = _store_contract.site


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
