"""Pandera schemas for the frames the pipeline writes and reads (belief frames)."""

import pandera.polars as pa
import polars as pl

BELIEFS = pa.DataFrameSchema(
    {
        "sensor_id": pa.Column(pl.Int64, pa.Check.gt(0)),
        "event_start": pa.Column(pl.Datetime("us", "UTC")),
        "belief_time": pa.Column(pl.Datetime("us", "UTC")),
        "source_id": pa.Column(pl.Int64, pa.Check.gt(0)),
        "cumulative_probability": pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0)),
        "event_value": pa.Column(
            pl.Float64, pa.Check(lambda d: d.lazyframe.select(pl.col(d.key).is_finite()))
        ),  # fmt: skip
    },
    strict=True,
    unique=["sensor_id", "event_start", "belief_time", "source_id", "cumulative_probability"],
    name="belief frame",
)


def schema_errors(frame: pl.DataFrame) -> list[str]:
    """Schema violations of a belief frame (empty when it conforms)."""
    try:
        BELIEFS.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return [str(x) for x in exc.schema_errors][:20]
    return []
