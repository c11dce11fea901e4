"""Searching beliefs in SQL (both backends): windows, sources, horizons, one value per event.

:class:`~flex_pipelines.beliefs.sql_store.SQLBeliefStore` adds saving and the ingestion log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import BELIEF_SCHEMA, empty_beliefs
from flex_pipelines.beliefs.resample import resample_beliefs
from flex_pipelines.beliefs.sql_entities import SQLEntities, in_list
from flex_pipelines.beliefs.validate import BeliefValidationError
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import to_utc

_BELIEF_COLS = ", ".join(BELIEF_SCHEMA)


def _ids(x: int | Sequence[int]) -> list[int]:
    return [int(x)] if isinstance(x, int) else [int(i) for i in x]


def _utc(dt: datetime, field: str) -> datetime:
    if dt.tzinfo is None:
        raise BeliefValidationError(f"{field} {dt.isoformat()} has no UTC offset or timezone")
    return to_utc(dt)


class SQLBeliefSearch(SQLEntities):
    """Reading beliefs: the window and source filters and :meth:`search_beliefs`."""

    # --- beliefs: reading ----------------------------------------------------------------------
    @staticmethod
    def _window_filters(
        ids: Sequence[int], start: datetime | None, end: datetime | None
    ) -> tuple[list[str], list[Any]]:
        where = [f"sensor_id IN ({in_list(ids)})" if len(ids) > 1 else f"sensor_id = {int(ids[0])}"]
        params: list[Any] = []
        if start is not None and end is not None and _utc(end, "end") < _utc(start, "start"):
            raise BeliefValidationError(
                f"window end {end.isoformat()} is before its start {start.isoformat()}"
            )
        if start is not None:
            where.append("event_start >= ?")
            params.append(_utc(start, "start"))
        if end is not None:
            where.append("event_start < ?")
            params.append(_utc(end, "end"))
        return where, params

    def _source_filter(
        self,
        source_ids: Sequence[int] | None,
        source_types: Sequence[str] | None,
        exclude_source_types: Sequence[str] | None,
    ) -> str | None:
        """A SQL condition on source_id, or "FALSE" when nothing can match."""
        allowed: set[int] | None = None
        if source_ids is not None:
            allowed = {int(i) for i in source_ids}
        if source_types:
            typed = {s.id for s in self.list_sources(source_types)}
            allowed = typed if allowed is None else allowed & typed
        if exclude_source_types:
            excluded = {s.id for s in self.list_sources(exclude_source_types)}
            if allowed is None:
                return f"source_id NOT IN ({in_list(excluded)})" if excluded else None
            allowed -= excluded
        if allowed is None:
            return None
        return f"source_id IN ({in_list(sorted(allowed))})" if allowed else "FALSE"

    @staticmethod
    def _derived_rank() -> str:
        """An ORDER BY term that, at equal belief times, puts data (measurements, published
        prices) before schedules and reports, and those before forecasts (a sub-query on the
        small sources table; no extra round trip)."""
        return (
            "CASE WHEN source_id IN (SELECT id FROM sources WHERE type = 'forecaster') THEN 2 "
            "WHEN source_id IN (SELECT id FROM sources WHERE type IN ('scheduler', 'reporter')) "
            "THEN 1 ELSE 0 END, "
        )

    def search_beliefs(
        self,
        sensor_ids: int | Sequence[int],
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        as_of: datetime | None = None,
        source_ids: Sequence[int] | None = None,
        source_types: Sequence[str] | None = None,
        exclude_source_types: Sequence[str] | None = None,
        horizon_min: timedelta | None = None,
        horizon_max: timedelta | None = None,
        most_recent: bool = False,
        one_per_event: bool = False,
        resolution: timedelta | None = None,
    ) -> pl.DataFrame:
        ids = _ids(sensor_ids)
        if not ids:
            return empty_beliefs()
        where, params = self._window_filters(ids, start, end)
        if as_of is not None:
            where.append("belief_time <= ?")
            params.append(_utc(as_of, "as_of"))
        src = self._source_filter(source_ids, source_types, exclude_source_types)
        if src == "FALSE":
            return empty_beliefs()
        if src:
            where.append(src)
        if horizon_min is not None:
            where.append(f"belief_horizon_s >= {int(horizon_min.total_seconds())}")
        if horizon_max is not None:
            where.append(f"belief_horizon_s <= {int(horizon_max.total_seconds())}")
        cond = " AND ".join(where)
        if one_per_event:
            sql = (
                f"SELECT DISTINCT ON (sensor_id, event_start) {_BELIEF_COLS} FROM beliefs "
                f"WHERE {cond} ORDER BY sensor_id, event_start, belief_time DESC, "
                f"{self._derived_rank()}abs(cumulative_probability - 0.5), "
                f"cumulative_probability, ingestion_id DESC, source_id DESC"
            )
        elif most_recent:
            sql = (
                f"SELECT DISTINCT ON (sensor_id, event_start, source_id, cumulative_probability) "
                f"{_BELIEF_COLS} FROM beliefs WHERE {cond} ORDER BY sensor_id, event_start, "
                f"source_id, cumulative_probability, belief_time DESC"
            )
        else:
            sql = (
                f"SELECT {_BELIEF_COLS} FROM beliefs WHERE {cond} "
                f"ORDER BY sensor_id, event_start, source_id, cumulative_probability, belief_time"
            )
        frame = self._fetch_beliefs(sql, params)
        if resolution is not None:
            if not one_per_event:
                raise FlexPipelinesError(
                    "resampling needs one value per event (one_per_event=True)"
                )
            frame = resample_beliefs(frame, self._sensors(ids), resolution)
        return frame
