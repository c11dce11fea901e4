"""The belief-store contract (``test_store_contract_*.py``): the acme site every test starts
from, a belief frame builder and the times they use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from flex_pipelines.beliefs import KnowledgeHorizon

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
