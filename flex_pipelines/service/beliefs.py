"""Post and read beliefs: the use case behind the API's sensor-data routes, the CLI's
``add beliefs`` / ``show beliefs`` and the inbox.

Writes need write access to every sensor in the frame, reads read access (the one rule of
:mod:`flex_pipelines.service.access`); saving follows the store's rule (only beliefs that change
their source's latest belief about an event are stored; docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import SaveResult
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.scheduling.references import SensorReference
from flex_pipelines.service.access import Caller, authorize

__all__ = ["authorize_post", "read_beliefs", "save_beliefs"]


def authorize_post(caller: Caller, store: BeliefStore, sensor_ids: Iterable[int]) -> None:
    """Check the caller may post beliefs on each sensor (raises ``AccessDenied``)."""
    authorize(caller, store, [SensorReference("sensor", int(s), "write") for s in sensor_ids])


def save_beliefs(
    caller: Caller, store: BeliefStore, frame: pl.DataFrame, *, overwrite: bool = False
) -> SaveResult:
    """Save a belief frame (all or nothing) after checking write access to its sensors."""
    authorize_post(caller, store, frame["sensor_id"].unique().to_list())
    return store.save_beliefs(frame, overwrite=overwrite)


def read_beliefs(
    caller: Caller,
    store: BeliefStore,
    sensor_id: int,
    start: datetime,
    end: datetime,
    **search: Any,
) -> pl.DataFrame:
    """The store's :meth:`~flex_pipelines.beliefs.store.BeliefStore.search_beliefs` for one
    sensor, after checking read access."""
    authorize(caller, store, [SensorReference("sensor", sensor_id, "read")])
    return store.search_beliefs(sensor_id, start, end, **search)
