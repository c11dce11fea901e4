"""Small builders shared by test modules."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

#: FlexMeasures' toy day-ahead prices (EUR/MWh, 24 hours), shared by the scheduling tests
TOY_PRICES_EUR_PER_MWH = [
    10,
    11,
    12,
    15,
    18,
    17,
    10.5,
    9,
    9.5,
    9,
    8.5,
    10,
    8,
    5,
    4,
    4,
    5.5,
    8,
    12,
    13,
    14,
    12.5,
    10,
    7,
]


def belief_frame(
    sensor_id: int,
    source_id: int,
    values: list[float],
    start: datetime,
    step: timedelta,
    belief_time: datetime,
) -> pl.DataFrame:
    """Beliefs of one source about consecutive events ``start + i * step`` (probability 0.5)."""
    n = len(values)
    return pl.DataFrame(
        {
            "sensor_id": pl.Series([sensor_id] * n, dtype=pl.Int64),
            "event_start": pl.Series(
                [start + i * step for i in range(n)], dtype=pl.Datetime("us", "UTC")
            ),
            "belief_time": pl.Series([belief_time] * n, dtype=pl.Datetime("us", "UTC")),
            "source_id": pl.Series([source_id] * n, dtype=pl.Int64),
            "cumulative_probability": pl.Series([0.5] * n, dtype=pl.Float64),
            "event_value": pl.Series([float(v) for v in values], dtype=pl.Float64),
        }
    )
