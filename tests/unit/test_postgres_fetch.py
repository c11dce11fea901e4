"""PostgreSQL reads beliefs as a binary COPY decoded with numpy; the CSV path is the fallback.
Both must give the same frame, also for times before PostgreSQL's epoch (2000-01-01)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from flex_pipelines.beliefs import open_store
from flex_pipelines.beliefs.model import BELIEF_SCHEMA
from flex_pipelines.beliefs.postgres_store import _decode_binary_beliefs

Q = timedelta(minutes=15)


def test_binary_and_csv_reads_agree(pg_url):
    with open_store(pg_url) as store:
        acc = store.add_account("a")
        asset = store.add_asset("site", "building", acc.id)
        sensor = store.add_sensor("power", "kW", Q, asset_id=asset.id)
        src = store.get_or_create_source("meter", "user")
        starts = [datetime(1999, 12, 31, 23, 0, tzinfo=UTC) + i * Q for i in range(8)]
        frame = pl.DataFrame(
            {
                "sensor_id": sensor.id,
                "event_start": pl.Series(starts, dtype=pl.Datetime("us", "UTC")),
                "belief_time": datetime(1999, 12, 30, 12, 0, 0, 123456, tzinfo=UTC),
                "source_id": src.id,
                "cumulative_probability": 0.5,
                "event_value": [-1.5, 0.0, 1e-300, 2.25, -7e12, 3.0, 4.0, 5.5],
            }
        )
        store.save_beliefs(frame)
        cols = ", ".join(BELIEF_SCHEMA)
        sql, params = f"SELECT {cols} FROM beliefs ORDER BY event_start", []
        binary = store._fetch_beliefs(sql, params)
        csv = store._fetch_beliefs_csv(sql, params)
        assert_frame_equal(binary, csv)
        assert binary["event_start"].to_list() == starts
        assert binary["event_value"].to_list() == frame["event_value"].to_list()
        got = store.search_beliefs(sensor.id, starts[0], starts[-1] + Q)
        assert got.height == 8 and got.schema == binary.schema


def test_a_stream_of_another_layout_is_not_decoded():
    assert _decode_binary_beliefs(memoryview(b"event_start,event_value\n")) is None
    header = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
    assert _decode_binary_beliefs(memoryview(header + b"\x00\x02" + b"\xff\xff")) is None
