"""Sites, devices and windows as the pipeline sees them (no dagster, no domain logic).

- a **site** is the nearest ancestor with a flex-context of every device (an asset whose
  flex-model names a power ``sensor``); its inputs are the sensors whose new beliefs change its
  schedule (:meth:`Site.input_sensor_ids`);
- **windows** are local calendar days of ``FLEXPIPE_TIMEZONE`` (default Europe/Amsterdam) as UTC
  instants: a DST day holds 92 or 100 quarter hours;
- :func:`reopt_targets` maps new ingestions to the days and sites they affect.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flex_pipelines.beliefs import Asset, BeliefStore, Ingestion
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import day_window, get_zone

PIPELINE_TIMEZONE = os.environ.get("FLEXPIPE_TIMEZONE", "Europe/Amsterdam")
PRICE_FIELDS = ("consumption-price", "production-price")
INFLEXIBLE_FIELDS = ("inflexible-device-sensors", "inflexible-consumption", "inflexible-production")


class MissingInputsError(FlexPipelinesError):
    """A window cannot be computed because its inputs are not in the store (a skip, not a failure)."""


# --- progress hook (in-process runs only) ---------------------------------------------------
_progress: Callable[[str, str], None] | None = None


def report_progress(step: str, detail: str) -> None:
    """Tell an in-process runner that ``step`` finished ``detail`` (no-op elsewhere)."""
    if _progress is not None:
        _progress(step, detail)


@contextmanager
def _progress_hook(fn: Callable[[str, str], None] | None) -> Iterator[None]:
    global _progress
    old, _progress = _progress, fn
    try:
        yield
    finally:
        _progress = old


# --- sites and devices ------------------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """An asset with a flex-context and the schedulable devices below it."""

    asset: Asset
    devices: tuple[Asset, ...]
    flex_context: dict[str, Any]
    forecast_ids: tuple[int, ...] = ()  # sensors below the site with a forecast config

    @property
    def id(self) -> int:
        return self.asset.id

    def power_sensor_ids(self) -> list[int]:
        """The power sensors of the site's devices (where their schedules are saved)."""
        return [int(d.flex_model["sensor"]) for d in self.devices]

    def input_sensor_ids(self) -> set[int]:
        """Sensors whose new beliefs change this site's schedule (prices, loads, SoC)."""
        ids: set[int] = set()
        for key in PRICE_FIELDS:
            ref = self.flex_context.get(key)
            if isinstance(ref, dict) and "sensor" in ref:
                ids.add(int(ref["sensor"]))
        for key in INFLEXIBLE_FIELDS:
            for ref in self.flex_context.get(key, []) or []:
                ids.add(int(ref["sensor"]) if isinstance(ref, dict) else int(ref))
        for dev in self.devices:
            soc = dev.flex_model.get("state-of-charge")
            if isinstance(soc, dict) and "sensor" in soc:
                ids.add(int(soc["sensor"]))
        return ids | set(self.forecast_ids)


def device_kind(device: Asset) -> str:
    """``process`` when the flex-model has a process type, else ``storage``."""
    return "process" if "process-type" in device.flex_model else "storage"


def list_sites(store: BeliefStore) -> list[Site]:
    """Sites (nearest ancestor with a flex-context) of every device (flex-model with a sensor)."""
    assets = {a.id: a for a in store.list_assets()}
    devices: dict[int, list[Asset]] = {}
    contexts: dict[int, dict[str, Any]] = {}
    for a in assets.values():
        if not a.flex_model.get("sensor"):
            continue
        chain, node = [], a
        while node is not None:
            chain.append(node)
            node = assets.get(node.parent_id) if node.parent_id is not None else None
        site = next((n for n in chain if n.flex_context), chain[-1])
        merged: dict[str, Any] = {}
        for n in reversed(chain):  # inherited down the tree, nearest wins
            merged.update(n.flex_context)
        devices.setdefault(site.id, []).append(a)
        contexts.setdefault(site.id, merged)

    def site_of(asset_id: int | None) -> int | None:
        seen: set[int] = set()
        while asset_id is not None and asset_id not in seen:
            if asset_id in devices:
                return asset_id
            seen.add(asset_id)
            asset_id = assets[asset_id].parent_id if asset_id in assets else None
        return None

    forecast: dict[int, list[int]] = {}
    for s in store.list_sensors():
        sid = site_of(s.asset_id)
        if sid is not None and isinstance(s.attributes.get("forecast"), dict):
            forecast.setdefault(sid, []).append(s.id)
    return [
        Site(
            assets[sid],
            tuple(sorted(devs, key=lambda d: d.id)),
            contexts[sid],
            tuple(forecast.get(sid, [])),
        )
        for sid, devs in sorted(devices.items())
    ]


# --- windows ----------------------------------------------------------------------------------
def days_in(start: datetime, end: datetime, timezone: str = PIPELINE_TIMEZONE) -> list[date]:
    """The local days overlapping [start, end)."""
    tz = get_zone(timezone)
    first, last = (
        start.astimezone(tz).date(),
        (end - timedelta(microseconds=1)).astimezone(tz).date(),
    )
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_windows(start: datetime, end: datetime, timezone: str = PIPELINE_TIMEZONE) -> list[tuple[date, datetime, datetime]]:  # fmt: skip
    """(day, window start UTC, window end UTC) for each local day in [start, end)."""
    out = []
    for d in days_in(start, end, timezone):
        s, e = day_window(d, timezone)
        out.append((d, s.astimezone(UTC), e.astimezone(UTC)))
    return out


def day_ahead_viewpoint(day: date, timezone: str = PIPELINE_TIMEZONE, gate_closure: str | None = None) -> datetime:  # fmt: skip
    """When the day-ahead forecast for ``day`` is made: gate closure (HH:MM local) the day before."""
    gate = gate_closure or os.environ.get("FLEXPIPE_GATE_CLOSURE", "12:00")
    hh, mm = (int(x) for x in gate.split(":"))
    prev = day - timedelta(days=1)
    local = datetime(prev.year, prev.month, prev.day, hh, mm, tzinfo=get_zone(timezone))
    return local.astimezone(UTC)


# --- re-optimisation --------------------------------------------------------------------------
def reopt_targets(
    sites: Sequence[Site], ingestions: Sequence[Ingestion], timezone: str = PIPELINE_TIMEZONE
) -> dict[str, dict[int, int]]:
    """Which local days (partition keys ``YYYY-MM-DD``) of which sites new ingestions affect.

    Returns ``{day: {site_id: latest ingestion id}}``. A site is affected by beliefs on its
    inputs (:meth:`Site.input_sensor_ids`); each ingestion's event window maps to the days it
    overlaps. Beliefs on device power sensors (the schedules themselves) affect nothing, and
    neither do ingestions made only by scheduler sources (a schedule's own SoC and power
    outputs), so a schedule never re-triggers itself.
    """
    by_sensor: dict[int, set[int]] = {}
    for site in sites:
        for sid in site.input_sensor_ids():
            by_sensor.setdefault(sid, set()).add(site.id)
    out: dict[str, dict[int, int]] = {}
    for ing in ingestions:
        if ing.source_types and set(ing.source_types) <= {"scheduler"}:
            continue
        for site_id in by_sensor.get(ing.sensor_id, ()):
            for d in days_in(ing.first_event_start, ing.last_event_end, timezone):
                per_day = out.setdefault(d.isoformat(), {})
                per_day[site_id] = max(per_day.get(site_id, 0), ing.id)
    return out
