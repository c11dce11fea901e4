"""Shared set-up for the reporting tests (no tests here): FlexMeasures' toy account with its
published day-ahead prices, PV and the three process schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.scheduling.process_store import schedule_process_for_sensor
from flex_pipelines.toy import create_toy_account
from tests.helpers import TOY_PRICES_EUR_PER_MWH

AMS = ZoneInfo("Europe/Amsterdam")
DAY = datetime(2026, 11, 26, tzinfo=AMS)
NEXT_DAY = DAY + timedelta(days=1)
PUBLISHED = datetime(2026, 11, 25, 11, tzinfo=UTC)  # 12:00 Amsterdam the day before
TOY_PRICES = TOY_PRICES_EUR_PER_MWH
TOY_PV_KW = [
    0,
    0,
    0,
    0,
    10,
    30,
    60,
    100,
    140,
    170,
    190,
    210,
    220,
    210,
    190,
    170,
    140,
    100,
    60,
    30,
    10,
    0,
    0,
    0,
]
PROCESS_TYPES = ["INFLEXIBLE", "SHIFTABLE", "BREAKABLE"]


def beliefs(
    sensor_id: int,
    source_id: int,
    start: datetime,
    step: timedelta,
    values: list[float],
    belief_time: datetime = PUBLISHED,
) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "sensor_id": [sensor_id] * n,
            "event_start": [start.astimezone(UTC) + i * step for i in range(n)],
            "belief_time": [belief_time] * n,
            "source_id": [source_id] * n,
            "cumulative_probability": [0.5] * n,
            "event_value": [float(v) for v in values],
        }
    )


def toy_process_site(store: BeliefStore, with_pv: bool = True) -> dict[str, Any]:
    """The toy process account with hourly prices and (optionally) 15-min PV for DAY."""
    ids = create_toy_account(store, kind="process")
    market = store.get_or_create_source("day-ahead market", type="market")
    store.save_beliefs(
        beliefs(ids["price sensor"]["id"], market.id, DAY, timedelta(hours=1), TOY_PRICES)
    )
    if with_pv:
        fc = store.get_or_create_source("pv forecaster", type="forecaster")
        pv = [TOY_PV_KW[i // 4] for i in range(96)]
        store.save_beliefs(beliefs(ids["pv sensor"]["id"], fc.id, DAY, timedelta(minutes=15), pv))
    return {
        "price": ids["price sensor"]["id"],
        "pv": ids["pv sensor"]["id"],
        "power": ids["power sensor"]["id"],
        "building": ids["building"]["id"],
        "process": ids["process"]["id"],
    }


def schedule(store: BeliefStore, power_sensor: int, process_type: str, minutes_after: int = 60):
    """Schedule the toy process (200 kW × 4 h, not 15:00–16:00) and save it (as of 13:00+)."""
    return schedule_process_for_sensor(
        store,
        power_sensor,
        DAY,
        "P1D",
        {
            "process-type": process_type,
            "time-restrictions": [
                {"start": (DAY + timedelta(hours=15)).isoformat(), "duration": "PT1H"}
            ],
        },
        as_of=PUBLISHED + timedelta(minutes=minutes_after),
    )
