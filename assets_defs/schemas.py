"""Pandera schemas for the frames the pipeline writes and reads (belief frames).

pandera (and the pandas it imports) is loaded on the first check, not with the code location:
every run starts a fresh process that imports the code location, and pandera is 40 % of that
import. The checks run after the asset's materialization, so a run records its schedule first.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pandera.polars as pa


@functools.cache
def belief_schema() -> pa.DataFrameSchema:
    """The belief-frame schema: types, positive ids, probabilities in [0, 1], finite values,
    one row per belief key."""
    import pandera.polars as pa

    def finite(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_finite())

    return pa.DataFrameSchema(
        {
            "sensor_id": pa.Column(pl.Int64, pa.Check.gt(0)),
            "event_start": pa.Column(pl.Datetime("us", "UTC")),
            "belief_time": pa.Column(pl.Datetime("us", "UTC")),
            "source_id": pa.Column(pl.Int64, pa.Check.gt(0)),
            "cumulative_probability": pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0)),
            "event_value": pa.Column(pl.Float64, pa.Check(finite)),
        },
        strict=True,
        unique=["sensor_id", "event_start", "belief_time", "source_id", "cumulative_probability"],
        name="belief frame",
    )


def schema_errors(frame: pl.DataFrame) -> list[str]:
    """Schema violations of a belief frame (empty when it conforms)."""
    import pandera.errors

    try:
        belief_schema().validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return [str(x) for x in exc.schema_errors][:20]
    return []
