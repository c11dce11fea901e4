"""Sites, devices and windows as the pipeline sees them (no dagster, no domain logic).

- a **site** is the site model's (:mod:`flex_pipelines.sites`): the nearest ancestor with a
  flex-context of every device; its inputs are the sensors whose new beliefs change its
  schedule (:meth:`~flex_pipelines.sites.Site.input_sensor_ids`);
- **windows** are local calendar days of ``FLEXPIPE_TIMEZONE`` (default Europe/Amsterdam) as UTC
  instants: a DST day holds 92 or 100 quarter hours;
- :func:`reopt_targets` maps new ingestions to the days and sites they affect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from flex_pipelines.beliefs import BeliefStore, Ingestion
from flex_pipelines.service.schedule import MissingInputsError
from flex_pipelines.settings import code_location_settings
from flex_pipelines.sites import AssetTree, Device, Site
from flex_pipelines.time import day_window, get_zone

__all__ = [
    "MissingInputsError",
    "Site",
    "day_ahead_viewpoint",
    "day_windows",
    "days_in",
    "device_kind",
    "list_sites",
    "reopt_targets",
    "report_progress",
]

PIPELINE_TIMEZONE = code_location_settings().timezone


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


# --- sites and devices: the site model's (flex_pipelines.sites) ----------------------------------
def device_kind(device: Device) -> str:
    """``process`` when the flex-model has a process type, else ``storage``."""
    return device.kind


def list_sites(store: BeliefStore, tree: AssetTree | None = None) -> list[Site]:
    """The sites with a schedulable device (:meth:`flex_pipelines.sites.AssetTree.sites`), from
    ``tree`` when the caller has it loaded already."""
    return [s for s in (tree or AssetTree.load(store)).sites() if s.devices]


# --- windows ----------------------------------------------------------------------------------
def days_in(start: datetime, end: datetime, timezone: str = PIPELINE_TIMEZONE) -> list[date]:
    """The local days overlapping [start, end)."""
    tz = get_zone(timezone)
    first, last = (
        start.astimezone(tz).date(),
        (end - timedelta(microseconds=1)).astimezone(tz).date(),
    )
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_windows(
    start: datetime, end: datetime, timezone: str = PIPELINE_TIMEZONE
) -> list[tuple[date, datetime, datetime]]:
    """(day, window start UTC, window end UTC) for each local day in [start, end)."""
    out = []
    for d in days_in(start, end, timezone):
        s, e = day_window(d, timezone)
        out.append((d, s.astimezone(UTC), e.astimezone(UTC)))
    return out


def day_ahead_viewpoint(
    day: date, timezone: str = PIPELINE_TIMEZONE, gate_closure: str | None = None
) -> datetime:
    """When the day-ahead forecast for ``day`` is made: gate closure (HH:MM local) the day before."""
    gate = gate_closure or code_location_settings().gate_closure
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
