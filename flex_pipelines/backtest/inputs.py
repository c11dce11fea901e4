"""What a backtest schedule may read: the store as seen from a viewpoint, with some inputs
swapped to their realised values.

:class:`InputView` stands in for the store when the one scheduling path
(:func:`flex_pipelines.service.schedule`) schedules a backtest day. Every read of one of the
site's inputs (price, load and PV sensors, from the reporting site model
:func:`~flex_pipelines.reporting.site.site_spec`) is answered

- as known at the viewpoint (``as_of`` forced to it, whatever the caller asked), or
- for the roles a variant reads as realised: from the realised values (every belief that is not
  a forecast, schedule or report, as known when the backtest runs), or
- for a naive variant: the values known at the viewpoint where there are any, else the value of
  the same instant seven days earlier as known at the viewpoint;
- for a variant of one forecaster: the values known at the viewpoint where there are any, else
  that forecaster's (its sources' beliefs only, as known at the viewpoint);

every other read and every write goes to the store itself. The viewpoint is a hard upper bound
for what the non-realised inputs can see, so beliefs made after it change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import BELIEF_SCHEMA, Sensor
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.sites import AssetTree, Site

__all__ = ["InputView", "Realised", "SiteInputs", "site_inputs", "MEASURED_ONLY"]

#: beliefs that are not measurements or published values
MEASURED_ONLY = ["scheduler", "forecaster", "reporter"]
NAIVE_LAG = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class SiteInputs:
    """The sensors a site's schedule reads, by role (``price``, ``load``, ``pv``)."""

    site: Site
    roles: Mapping[str, tuple[int, ...]]
    currency: str

    @property
    def sensor_ids(self) -> set[int]:
        return {s for ids in self.roles.values() for s in ids}

    def ids_of(self, roles: Iterable[str]) -> set[int]:
        return {s for r in roles for s in self.roles.get(r, ())}


def site_inputs(store: BeliefStore, site: Site, tree: AssetTree | None = None) -> SiteInputs:
    """The price, load and PV sensors of ``site`` (the reporting site model's components)."""
    from flex_pipelines.reporting.site import Catalog, site_spec

    cat = Catalog(store)
    if tree is not None:
        cat.tree = tree
    spec = site_spec(store, site.id, cat)
    role_of = {"cprice": "price", "pprice": "price", "load": "load", "pv": "pv"}
    roles: dict[str, list[int]] = {"price": [], "load": [], "pv": []}
    for c in spec.components:
        if c.role in role_of and c.sensor_id not in roles[role_of[c.role]]:
            roles[role_of[c.role]].append(c.sensor_id)
    return SiteInputs(site, {k: tuple(v) for k, v in roles.items()}, spec.currency)


class Realised:
    """The realised values of some sensors over a period, read once (one value per event,
    forecasts, schedules and reports excluded, as known now)."""

    def __init__(
        self, store: BeliefStore, sensor_ids: Iterable[int], start: datetime, end: datetime
    ) -> None:
        ids = sorted(set(sensor_ids))
        self.window = (start, end)
        frame = (
            store.search_beliefs(
                ids, start, end, one_per_event=True, exclude_source_types=MEASURED_ONLY
            )
            if ids
            else None
        )
        self._by_sensor: dict[int, tuple[pl.DataFrame, np.ndarray]] = {}
        if frame is not None:
            for k, g in frame.partition_by("sensor_id", as_dict=True).items():
                g = g.sort("event_start")
                self._by_sensor[int(k[0])] = (g, g["event_start"].dt.epoch("us").to_numpy())

    def slice(self, sensor_id: int, start: datetime, end: datetime) -> pl.DataFrame:
        """The realised beliefs of ``sensor_id`` in [start, end) (a belief frame)."""
        if sensor_id not in self._by_sensor:
            return pl.DataFrame(schema=BELIEF_SCHEMA)
        frame, us = self._by_sensor[sensor_id]
        i, j = np.searchsorted(us, [_us(start), _us(end)])
        return frame.slice(int(i), int(j - i))


class InputView:
    """The store as a backtest schedule sees it (see the module docstring)."""

    def __init__(
        self,
        store: BeliefStore,
        tree: AssetTree,
        inputs: SiteInputs,
        viewpoint: datetime,
        realised: Realised,
        actual_roles: Iterable[str] = (),
        naive: bool = False,
        forecaster_source_ids: Iterable[int] | None = None,
    ) -> None:
        self._store, self._tree, self.viewpoint = store, tree, viewpoint
        self._inputs = inputs.sensor_ids
        self._actual = inputs.ids_of(actual_roles)
        self._realised = realised
        self._naive = naive
        self._forecasters = None if forecaster_source_ids is None else list(forecaster_source_ids)

    def __getattr__(self, name: str) -> Any:  # writes, transactions, the rest: the store's
        return getattr(self._store, name)

    def get_sensor(self, sensor_id: int) -> Sensor:
        return self._tree.sensors.get(sensor_id) or self._store.get_sensor(sensor_id)

    def search_beliefs(
        self, sensor_ids: Any, start: datetime | None = None, end: datetime | None = None, **q: Any
    ) -> pl.DataFrame:
        """The store's search; a site input's as known at the viewpoint or realised."""
        if not (isinstance(sensor_ids, int) and sensor_ids in self._inputs):
            return self._store.search_beliefs(sensor_ids, start, end, **q)
        if sensor_ids in self._actual and start is not None and end is not None:
            return self._realised.slice(sensor_ids, start, end)
        q["as_of"] = min(q.get("as_of") or self.viewpoint, self.viewpoint)
        naive = self._naive
        if not (naive or self._forecasters is not None) or start is None or end is None:
            return self._store.search_beliefs(sensor_ids, start, end, **q)
        if not q.get("one_per_event"):  # e.g. quantiles: this forecaster's only
            if self._forecasters is not None and q.get("source_types") == ["forecaster"]:
                q["source_ids"] = self._forecasters
            return self._store.search_beliefs(sensor_ids, start, end, **q)
        return self._filled(sensor_ids, start, end, q)

    def _filled(
        self, sensor_id: int, start: datetime, end: datetime, q: dict[str, Any]
    ) -> pl.DataFrame:
        """Known values where there are any (measurements only), else the naive value (a week
        earlier) or the chosen forecaster's, all as known at the viewpoint."""
        measured = {**q, "exclude_source_types": MEASURED_ONLY, "source_types": None}
        known = self._store.search_beliefs(sensor_id, start, end, **measured)
        if self._naive:
            fill = self._store.search_beliefs(
                sensor_id, start - NAIVE_LAG, end - NAIVE_LAG, **measured
            ).with_columns(pl.col("event_start") + NAIVE_LAG)
        else:
            fill = self._store.search_beliefs(
                sensor_id,
                start,
                end,
                **{**q, "source_ids": self._forecasters or [-1], "exclude_source_types": None},
            )
        fill = fill.join(known.select("event_start"), on="event_start", how="anti")
        return pl.concat([known, fill.select(known.columns)]).sort("event_start")
