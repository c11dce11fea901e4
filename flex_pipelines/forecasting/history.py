"""Series of beliefs as forecasting inputs, and the *as-of* cut that keeps forecasts leak-free.

A :class:`SeriesHistory` holds beliefs about one sensor (``event_start``, ``belief_time``,
``event_value`` and optionally ``cumulative_probability``), all UTC. ``belief_time`` is when a value
became known (its knowledge time): a measurement at the end of its event, a day-ahead price at the
auction's publication the day before, a weather forecast when it was issued.

:func:`known_at` is the only door from a history to features: it keeps the beliefs with
``belief_time <= viewpoint`` and nothing else. Every forecast starts by passing its inputs through
it, so a value that became known after the viewpoint cannot reach a feature, a training target or
a model (``tests/unit/forecasting/test_forecast_no_lookahead.py`` perturbs such values and checks
that the forecast does not change).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import UTC_DT, KnowledgeHorizon
from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.time import format_duration, get_zone

__all__ = ["SeriesHistory", "known_at", "knowledge_times", "per_event"]

_HISTORY_COLUMNS = {"event_start": UTC_DT, "belief_time": UTC_DT, "event_value": pl.Float64()}


@dataclass(frozen=True)
class SeriesHistory:
    """Beliefs about one series, with what a model needs to read them.

    ``frame`` columns: ``event_start``, ``belief_time`` (UTC), ``event_value`` (in ``unit``), and
    optionally ``cumulative_probability``. ``timezone`` is where calendar features and "same time
    yesterday" are computed; ``resolution`` is the event duration.
    """

    frame: pl.DataFrame
    resolution: timedelta
    timezone: str = "UTC"
    unit: str = ""
    name: str = "target"

    def __post_init__(self) -> None:
        missing = [c for c in _HISTORY_COLUMNS if c not in self.frame.columns]
        if missing:
            raise ForecastingError(
                f"history {self.name!r}: columns {missing} are missing; a history needs "
                "event_start, belief_time and event_value"
            )
        if self.resolution <= timedelta(0):
            raise ForecastingError(
                f"history {self.name!r}: resolution {format_duration(self.resolution)} "
                "must be positive"
            )
        get_zone(self.timezone)
        cols = [pl.col(c).cast(t) for c, t in _HISTORY_COLUMNS.items()]
        if "cumulative_probability" in self.frame.columns:
            cols.append(pl.col("cumulative_probability").cast(pl.Float64))
        frame = self.frame.select(cols).with_columns(pl.col("event_value").fill_nan(None))
        object.__setattr__(self, "frame", frame)

    @classmethod
    def from_values(
        cls,
        event_start: pl.Series | list[datetime],
        values: pl.Series | np.ndarray | list[float],
        *,
        resolution: timedelta,
        knowledge_horizon: KnowledgeHorizon | None = None,
        timezone: str = "UTC",
        unit: str = "",
        name: str = "target",
    ) -> SeriesHistory:
        """One belief per event, believed at its knowledge time (see :func:`knowledge_times`)."""
        starts = pl.Series("event_start", event_start).cast(UTC_DT)
        frame = pl.DataFrame(
            {
                "event_start": starts,
                "belief_time": knowledge_times(
                    starts, resolution, knowledge_horizon or KnowledgeHorizon(), timezone
                ),
                "event_value": pl.Series("event_value", values, dtype=pl.Float64),
            }
        )
        return cls(frame, resolution, timezone, unit, name)

    def with_frame(self, frame: pl.DataFrame) -> SeriesHistory:
        return replace(self, frame=frame)

    @property
    def first_event(self) -> datetime | None:
        return self.frame["event_start"].min() if self.frame.height else None  # type: ignore[return-value]


def knowledge_times(
    event_start: pl.Series, resolution: timedelta, horizon: KnowledgeHorizon, timezone: str
) -> pl.Series:
    """When each event's value becomes known, UTC.

    - ``ex_post``: event end + offset (measurements);
    - ``ex_ante``: event start − offset;
    - ``day_ahead``: ``horizon.hour`` o'clock local time on the local day before the event.
    """
    from flex_pipelines.beliefs.knowledge import knowledge_time_expr
    from flex_pipelines.beliefs.model import Sensor

    # one definition of knowledge time, shared with the belief store
    sensor = Sensor(0, "", "", resolution, timezone, knowledge_horizon=horizon)
    frame = pl.DataFrame({"event_start": event_start.cast(UTC_DT)})
    out = frame.select(knowledge_time_expr(pl.col("event_start"), sensor)).to_series()
    return out.cast(UTC_DT).alias("belief_time")


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ForecastingError(f"viewpoint {dt.isoformat()} has no UTC offset")
    return dt.astimezone(UTC)


def known_at(history: SeriesHistory, viewpoint: datetime) -> SeriesHistory:
    """The beliefs known at ``viewpoint``: ``belief_time <= viewpoint``, nothing else."""
    vp = _utc(viewpoint)
    return history.with_frame(history.frame.filter(pl.col("belief_time") <= vp))


def per_event(history: SeriesHistory) -> pl.DataFrame:
    """One value per event: the latest belief (the median, or the probability closest to 0.5).

    Returns ``event_start``, ``event_value`` and ``known_since`` (the first belief time about the
    event, i.e. from when *some* value was known), sorted by ``event_start``; missing values drop.
    """
    f = history.frame.filter(pl.col("event_value").is_not_null())
    if "cumulative_probability" in f.columns:
        f = f.with_columns((pl.col("cumulative_probability") - 0.5).abs().alias("_pdist"))
    else:
        f = f.with_columns(pl.lit(0.0).alias("_pdist"))
    return (
        f.sort(["event_start", "belief_time", "_pdist"], descending=[False, True, False])
        .group_by("event_start", maintain_order=True)
        .agg(
            pl.col("event_value").first(),
            pl.col("belief_time").min().alias("known_since"),
        )
        .sort("event_start")
    )
