"""The data model: accounts, users, assets, sensors, sources, and the belief frame.

A belief is what a source believed, at ``belief_time``, about the value of a sensor for the event
starting at ``event_start`` (lasting the sensor's resolution). Beliefs travel as polars frames with
the columns of :data:`BELIEF_SCHEMA`; every timestamp is UTC and tz-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.errors import FlexPipelinesError

UTC_DT = pl.Datetime("us", "UTC")

#: Columns (and dtypes) of a belief frame, in storage order.
BELIEF_SCHEMA: dict[str, pl.DataType] = {
    "sensor_id": pl.Int64(),
    "event_start": UTC_DT,
    "belief_time": UTC_DT,
    "source_id": pl.Int64(),
    "cumulative_probability": pl.Float64(),
    "event_value": pl.Float64(),
}
#: Columns that identify a belief; saving the same key twice changes nothing.
BELIEF_KEY = ["sensor_id", "event_start", "belief_time", "source_id", "cumulative_probability"]

SOURCE_TYPES = ("user", "forecaster", "scheduler", "reporter", "demo", "gateway", "market")


@dataclass(frozen=True)
class KnowledgeHorizon:
    """When the value of an event becomes known (its *knowledge time*).

    - ``ex_post``: at the end of the event, plus ``offset`` (measurements);
    - ``ex_ante``: ``offset`` before the event start (e.g. PT1H for an intraday market);
    - ``day_ahead``: on the local day before the event, at ``hour`` o'clock in ``timezone``
      (day-ahead auctions publish around 12:00–13:00 the day before).
    ``belief_horizon = knowledge_time(event) - belief_time``: positive means a forecast.
    """

    kind: str = "ex_post"
    offset: timedelta = timedelta(0)
    hour: int = 12

    def to_json(self) -> dict[str, Any]:
        from flex_pipelines.time import format_duration

        d: dict[str, Any] = {"kind": self.kind}
        if self.kind == "day_ahead":
            d["hour"] = self.hour
        else:
            d["offset"] = format_duration(self.offset)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> KnowledgeHorizon:
        from flex_pipelines.time import parse_timedelta

        if not d:
            return cls()
        kind = d.get("kind", "ex_post")
        if kind not in ("ex_post", "ex_ante", "day_ahead"):
            raise FlexPipelinesError(
                f"knowledge-horizon kind {kind!r} is not one of ex_post, ex_ante, day_ahead"
            )
        hour = int(d.get("hour", 12))
        if not 0 <= hour <= 23:
            raise FlexPipelinesError(f"knowledge-horizon hour {hour} is not in 0..23")
        return cls(kind=kind, offset=parse_timedelta(d.get("offset", "PT0S")), hour=hour)


@dataclass(frozen=True)
class Account:
    id: int
    name: str


@dataclass(frozen=True)
class User:
    id: int
    account_id: int
    email: str
    roles: tuple[str, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class Asset:
    id: int
    name: str
    type: str
    account_id: int | None
    parent_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str = "UTC"
    flex_model: dict[str, Any] = field(default_factory=dict)
    flex_context: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sensor:
    id: int
    name: str
    unit: str
    event_resolution: timedelta
    timezone: str = "UTC"
    asset_id: int | None = None
    knowledge_horizon: KnowledgeHorizon = KnowledgeHorizon()
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    id: int
    name: str
    type: str
    model: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class SaveResult:
    """What a save did: how many beliefs were new, how many were already stored (the same
    belief, or one repeating its source's most recent belief about the event)."""

    n_new: int
    n_existing: int
    ingestion_id: int | None  # the watermark after this save (None when nothing was new)
    new_by_sensor: dict[int, int] = field(default_factory=dict)  # n_new of each sensor with some


def now_utc() -> datetime:
    return datetime.now(UTC)


def empty_beliefs() -> pl.DataFrame:
    return pl.DataFrame(schema=BELIEF_SCHEMA)
