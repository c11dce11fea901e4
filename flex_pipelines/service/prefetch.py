"""The store as a batch of sites sees it: each input read once for all of them.

What one site at a time does with a few queries per input (sensor metadata, each price and load
series, each state of charge, each saved schedule) :class:`PrefetchedReads` answers from a few
set-based reads for all sites, and :func:`site_reads` builds it for a list of scopes. Every
query it does not cover goes to the store, so answers never differ from the store's. Used by
the batch scheduler (:func:`~flex_pipelines.service.batch.schedule_sites`) and the check of saved
schedules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import Sensor, Source
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.scheduling.references import json_references
from flex_pipelines.sites import AssetTree, Scope

__all__ = ["PrefetchedReads", "site_reads"]


def _us(t: datetime) -> int:
    """Epoch microseconds of an aware datetime (exact, no float rounding)."""
    return (t - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PrefetchedReads:
    """The store as the batch's schedulers see it: sensors from the tree, the series they read
    from two set-based queries, everything else (and every write) from the store itself.

    Reads are answered from memory when they ask what was prefetched (one value per event, as
    known ``as_of``, scheduler beliefs excluded; or a state of charge at the window start);
    a query the prefetch does not cover goes to the store, so answers never differ from the
    store's.
    """

    def __init__(
        self,
        store: BeliefStore,
        tree: AssetTree,
        series_ids: Sequence[int],
        soc_ids: Sequence[int],
        start: datetime,
        end: datetime,
        as_of: datetime,
        schedule_ids: Sequence[int] = (),
    ) -> None:
        self._store, self._tree, self.as_of = store, tree, as_of
        steps = [tree.sensor(i).event_resolution for i in series_ids]
        lead = max([s for s in steps if s > timedelta(0)], default=timedelta(0))
        self.window = (start - lead, end)
        self._series_ids = list(series_ids)
        self._series_set = set(series_ids)
        # per as_of asked (the batch's, or None: as known now, which input checks ask)
        self._series: dict[datetime | None, dict[int, tuple[pl.DataFrame, np.ndarray]]] = {}
        self._soc_at = start
        self._soc = self._split(
            store.search_beliefs(
                list(soc_ids),
                start,
                start + timedelta(microseconds=1),
                as_of=as_of,
                one_per_event=True,
            )
            if soc_ids
            else None
        )
        self._sources: dict[tuple[Any, ...], Source] = {}
        # the latest schedules of these sensors (a check of saved schedules reads them), read
        # on first use over the window and an hour past it (SoC instants at the window end)
        self._schedule_ids = set(schedule_ids)
        self._schedule_window = (start - lead, end + timedelta(hours=1))
        self._schedules: dict[int, tuple[pl.DataFrame, np.ndarray]] | None = None

    def _prefetch(self, as_of: datetime | None) -> dict[int, tuple[pl.DataFrame, np.ndarray]]:
        """Every prefetched series as known ``as_of`` (None: latest), read once."""
        if as_of not in self._series:
            frame = None
            if self._series_ids:
                frame = self._store.search_beliefs(
                    self._series_ids,
                    *self.window,
                    as_of=as_of,
                    one_per_event=True,
                    exclude_source_types=["scheduler"],
                )
            self._series[as_of] = self._split(frame)
        return self._series[as_of]

    @staticmethod
    def _split(frame: pl.DataFrame | None) -> dict[int, tuple[pl.DataFrame, np.ndarray]]:
        """Per sensor: its beliefs sorted by event start, and those starts in epoch µs."""
        if frame is None:
            return {}
        out = {}
        for k, g in frame.partition_by("sensor_id", as_dict=True).items():
            g = g.sort("event_start")
            out[int(k[0])] = (g, g["event_start"].dt.epoch("us").to_numpy())
        return out

    def _slice(
        self,
        found: dict[int, tuple[pl.DataFrame, np.ndarray]],
        sensor_id: int,
        start: datetime,
        end: datetime,
        query: dict[str, Any],
    ) -> pl.DataFrame:
        if sensor_id not in found:  # no beliefs in the window: the store's own empty answer
            return self._store.search_beliefs(sensor_id, start, end, **query)
        frame, us = found[sensor_id]
        i, j = np.searchsorted(us, [_us(start), _us(end)])
        return frame.slice(int(i), int(j - i))

    def __getattr__(self, name: str) -> Any:  # writes, transactions, the rest: the store's
        return getattr(self._store, name)

    def get_sensor(self, sensor_id: int) -> Sensor:
        return self._tree.sensors.get(sensor_id) or self._store.get_sensor(sensor_id)

    def get_or_create_source(
        self, name: str, type: str = "user", model: str | None = None, version: str | None = None
    ) -> Source:
        key = (name, type, model, version)
        if key not in self._sources:
            self._sources[key] = self._store.get_or_create_source(name, type, model, version)
        return self._sources[key]

    def search_beliefs(
        self,
        sensor_ids: Any,
        start: datetime | None = None,
        end: datetime | None = None,
        **query: Any,
    ) -> pl.DataFrame:
        """The store's search, answered from the prefetch when it asks what was prefetched."""
        one = isinstance(sensor_ids, int) and start is not None and end is not None
        as_of = query.get("as_of")
        if one and query.get("one_per_event") and as_of in (None, self.as_of):
            rest = {k: v for k, v in query.items() if k not in ("as_of", "one_per_event") and v}
            if (
                rest.keys() == {"exclude_source_types"}
                and list(rest["exclude_source_types"]) == ["scheduler"]
                and sensor_ids in self._series_set
                and self.window[0] <= start  # type: ignore[operator]
                and end <= self.window[1]  # type: ignore[operator]
            ):
                return self._slice(self._prefetch(as_of), sensor_ids, start, end, query)  # type: ignore[arg-type]
            if (
                as_of is None
                and rest.keys() == {"source_types"}
                and list(rest["source_types"]) == ["scheduler"]
                and sensor_ids in self._schedule_ids
                and self._schedule_window[0] <= start  # type: ignore[operator]
                and end <= self._schedule_window[1]  # type: ignore[operator]
            ):
                if self._schedules is None:
                    self._schedules = self._split(
                        self._store.search_beliefs(
                            sorted(self._schedule_ids),
                            *self._schedule_window,
                            one_per_event=True,
                            source_types=["scheduler"],
                        )
                    )
                return self._slice(self._schedules, sensor_ids, start, end, query)  # type: ignore[arg-type]
            if (
                not rest
                and as_of == self.as_of
                and start == self._soc_at
                and sensor_ids in self._soc
            ):
                return self._soc[sensor_ids][0]
        return self._store.search_beliefs(sensor_ids, start, end, **query)


def site_reads(
    store: BeliefStore,
    tree: AssetTree,
    scopes: Sequence[Scope],
    start: datetime,
    end: datetime,
    as_of: datetime,
    schedules: bool = False,
) -> PrefetchedReads:
    """The store as seen by the schedulers (or the checks) of ``scopes`` for [start, end):
    every series their flex-models and flex-contexts read, their states of charge at ``start``
    and, with ``schedules``, the latest saved schedules of their power and SoC sensors, each
    read once for all of them (:class:`PrefetchedReads`)."""
    series: set[int] = set()
    socs: set[int] = set()
    saved: set[int] = set()
    for sc in scopes:
        series |= {r.sensor_id for r in sc.references() if r.role == "read"}
        for f in sc.flex_models:
            soc = f.get("state-of-charge")
            socs |= {r.sensor_id for r in json_references(soc, "soc", bare_ids=True)}
        if schedules and sc.site is not None:
            saved |= set(sc.site.power_sensor_ids())
            saved |= {d.state_of_charge_sensor_id or 0 for d in sc.site.devices} - {0}
    return PrefetchedReads(
        store, tree, sorted(series), sorted(socs), start, end, as_of, schedule_ids=sorted(saved)
    )
