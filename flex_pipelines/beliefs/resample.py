"""Resampling one-value-per-event belief frames to another resolution, where that is sound.

- Downsampling (coarser): means for intensive units (power, price, temperature, %); sums for
  energy and other extensive quantities (units ending in ``h`` such as kWh, MWh).
- Upsampling (finer): intensive values repeat over the sub-steps (forward fill); energy is split
  evenly over the sub-steps.
The belief time of a resampled event is the latest belief time of the events it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import polars as pl

from flex_pipelines.beliefs.model import BELIEF_SCHEMA, Sensor
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.units import is_energy_unit


def _every(td: timedelta) -> str:
    return f"{int(td.total_seconds())}s"


def resample_beliefs(
    frame: pl.DataFrame, sensors: Mapping[int, Sensor], resolution: timedelta
) -> pl.DataFrame:
    """Resample each sensor's events to ``resolution`` (see module docstring)."""
    if resolution <= timedelta(0):
        raise FlexPipelinesError(f"resolution {resolution} must be positive")
    if frame.is_empty():
        return frame
    parts = []
    for (sensor_id,), part in frame.group_by("sensor_id", maintain_order=True):
        sensor = sensors[int(sensor_id)]
        own = sensor.event_resolution
        extensive = is_energy_unit(sensor.unit)
        if own == resolution or own == timedelta(0):
            parts.append(part)
        elif resolution > own:
            if (resolution.total_seconds() % own.total_seconds()) != 0:
                raise FlexPipelinesError(
                    f"cannot resample sensor {sensor.id} from {own} to {resolution}: not a multiple"
                )
            agg = pl.col("event_value").sum() if extensive else pl.col("event_value").mean()
            out = (
                part.sort("event_start")
                .group_by_dynamic("event_start", every=_every(resolution))
                .agg(
                    agg,
                    pl.col("belief_time").max(),
                    pl.col("source_id").max(),
                    pl.col("cumulative_probability").first(),
                )
                .with_columns(pl.lit(sensor.id, pl.Int64).alias("sensor_id"))
            )
            parts.append(out.select(list(BELIEF_SCHEMA)))
        else:
            if (own.total_seconds() % resolution.total_seconds()) != 0:
                raise FlexPipelinesError(
                    f"cannot resample sensor {sensor.id} from {own} to {resolution}: not a divisor"
                )
            k = int(own.total_seconds() // resolution.total_seconds())
            offsets = pl.Series("k", [i * resolution for i in range(k)], dtype=pl.Duration("us"))
            out = part.join(pl.DataFrame(offsets), how="cross").with_columns(
                (pl.col("event_start") + pl.col("k")).alias("event_start"),
                (pl.col("event_value") / k) if extensive else pl.col("event_value"),
            )
            parts.append(out.select(list(BELIEF_SCHEMA)))
    return pl.concat(parts).sort(["sensor_id", "event_start"])
