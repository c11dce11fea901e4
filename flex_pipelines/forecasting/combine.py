"""Forecast combination: the (weighted) mean of several models' belief frames.

Averaging forecasts of different model families is one of the most reliable accuracy gains in
electricity price forecasting (e.g. Lago et al. 2021 average four LEAR calibration windows).
Quantiles are averaged per probability level (Vincentization) and stay non-crossing.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from flex_pipelines.beliefs.model import BELIEF_SCHEMA
from flex_pipelines.forecasting.errors import ForecastingError

__all__ = ["combine_forecasts"]


def combine_forecasts(
    frames: Sequence[pl.DataFrame],
    weights: Sequence[float] | None = None,
    *,
    source_id: int | None = None,
) -> pl.DataFrame:
    """Mean of belief frames over the (event, belief time, probability) they all share."""
    if not frames:
        raise ForecastingError("combine_forecasts needs at least one forecast frame")
    w = list(weights) if weights is not None else [1.0] * len(frames)
    if len(w) != len(frames) or sum(w) <= 0:
        raise ForecastingError(
            f"weights {w} must give one positive-sum weight per forecast ({len(frames)})"
        )
    key = ["sensor_id", "event_start", "belief_time", "cumulative_probability"]
    stacked = pl.concat(
        [
            f.select(*key, (pl.col("event_value") * wi).alias("wv"), pl.lit(wi).alias("w"))
            for f, wi in zip(frames, w, strict=True)
        ]
    )
    out = (
        stacked.group_by(key)
        .agg((pl.col("wv").sum() / pl.col("w").sum()).alias("event_value"), pl.len().alias("k"))
        .filter(pl.col("k") == len(frames))
        .with_columns(pl.lit(source_id if source_id is not None else 0).alias("source_id"))
    )
    return out.select([pl.col(c).cast(t) for c, t in BELIEF_SCHEMA.items()]).sort(
        ["event_start", "belief_time", "cumulative_probability"]
    )
