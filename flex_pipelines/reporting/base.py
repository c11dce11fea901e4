"""What every reporter shares: its result, its source (name, version, config hash) and saving.

A report is a series of values on an output sensor, stored as beliefs of a *reporter* source.
The source's ``model`` names the reporter class and its ``version`` carries the reporter version
and a hash of the configuration (``"1+cfg3f2a9c01b7e4"``), so two configurations never share
a source and re-running a report with the same configuration changes nothing.

The belief time of a report is, unless given, the latest belief time of the input values it was
computed from (the report is believed as soon as its inputs were). Re-running over the same
inputs therefore re-creates the very same beliefs (0 new), while new input beliefs (a newer
schedule, a corrected measurement) yield a new report belief next to the old one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import SaveResult, Sensor, Source
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import format_duration, get_zone
from flex_pipelines.units import UnitError, convert, is_energy_unit

__all__ = [
    "ReportError",
    "ReportResult",
    "REPORT_FRAME_SCHEMA",
    "coarsen",
    "config_hash",
    "reporter_source",
    "save_report",
]

REPORTER_VERSION = "1"
UTC_US = pl.Datetime("us", "UTC")
#: A report before saving: one value per event, in ``ReportResult.unit``.
REPORT_FRAME_SCHEMA = {"event_start": UTC_US, "value": pl.Float64()}


class ReportError(FlexPipelinesError):
    """A report that cannot be computed as configured (bad config, units, resolutions, SQL)."""


def config_hash(config: Mapping[str, Any]) -> str:
    """A short, stable hash of a configuration (key order and whitespace do not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def reporter_source(
    store: BeliefStore, reporter: str, model: str, config: Mapping[str, Any]
) -> Source:
    """The reporter source for this reporter and configuration (created on first use)."""
    return store.get_or_create_source(
        name=f"FlexPipelines {reporter} reporter",
        type="reporter",
        model=model,
        version=f"{REPORTER_VERSION}+cfg{config_hash(config)}",
    )


@dataclass
class ReportResult:
    """A computed report (and, once saved, where it went)."""

    reporter: str
    start: datetime
    end: datetime
    resolution: timedelta
    unit: str
    frame: pl.DataFrame  # event_start (UTC), value (in ``unit``)
    totals: dict[str, float | int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    input_belief_time: datetime | None = None
    output_sensor: Sensor | None = None
    source: Source | None = None
    belief_time: datetime | None = None
    saved: SaveResult | None = None
    extra: pl.DataFrame | None = None  # per-event detail columns (e.g. power, prices)

    @property
    def empty(self) -> bool:
        return self.frame.is_empty()

    def to_record(self) -> dict[str, Any]:
        """A flat summary (for the CLI, the API and Dagster metadata)."""
        return {
            "reporter": self.reporter,
            "start": self.start,
            "end": self.end,
            "resolution": format_duration(self.resolution),
            "unit": self.unit,
            "n_events": self.frame.height,
            **self.totals,
            "output_sensor_id": self.output_sensor.id if self.output_sensor else None,
            "source_id": self.source.id if self.source else None,
            "belief_time": self.belief_time,
            "n_new_beliefs": self.saved.n_new if self.saved else 0,
            "notes": "; ".join(self.notes),
        }

    def rows(self, timezone: str | None = None) -> list[dict[str, Any]]:
        """One dict per event; times in ``timezone`` (default: the output sensor's, else UTC)."""
        tz = get_zone(timezone or (self.output_sensor.timezone if self.output_sensor else "UTC"))
        frame = self.extra if self.extra is not None else self.frame
        out = []
        for rec in frame.iter_rows(named=True):
            rec["event_start"] = rec["event_start"].astimezone(tz)
            out.append(rec)
        return out


def coarsen(frame: pl.DataFrame, resolution: timedelta, extensive: bool) -> pl.DataFrame:
    """``event_start, value`` on the coarser grid of ``resolution``: sums of extensive values
    (energy, money), means of intensive ones (power, prices)."""
    agg = pl.col("value").sum() if extensive else pl.col("value").mean()
    return (
        frame.sort("event_start")
        .group_by_dynamic("event_start", every=f"{int(resolution.total_seconds())}s")
        .agg(agg)
    )


def _to_output_grid(result: ReportResult, sensor: Sensor) -> pl.DataFrame:
    """The report in the output sensor's unit and resolution (sums money/energy when coarser)."""
    frame = result.frame
    extensive = is_energy_unit(result.unit) or _is_money(result.unit)
    own, target = result.resolution, sensor.event_resolution
    if target != own and target != timedelta(0):
        if target < own or target.total_seconds() % own.total_seconds():
            raise ReportError(
                f"output sensor {sensor.id} ({sensor.name}) has resolution "
                f"{format_duration(target)}, which is not a multiple of the report's "
                f"{format_duration(own)}; choose an output sensor of {format_duration(own)} "
                f"or coarser"
            )
        frame = coarsen(frame, target, extensive)
    try:
        factor = float(convert(1.0, result.unit, sensor.unit))
    except UnitError as exc:
        raise ReportError(
            f"output sensor {sensor.id} ({sensor.name}) has unit {sensor.unit!r}, but the "
            f"{result.reporter} report is in {result.unit!r}: {exc}"
        ) from exc
    return frame.with_columns(pl.col("value") * factor)


def _is_money(unit: str) -> bool:
    from flex_pipelines.units import is_price_unit

    try:
        return is_price_unit(unit) and "/" not in unit
    except UnitError:
        return False


def save_report(
    store: BeliefStore,
    result: ReportResult,
    output_sensor_id: int,
    model: str,
    config: Mapping[str, Any],
    belief_time: datetime | None = None,
) -> ReportResult:
    """Save a report on its output sensor as beliefs of the reporter source (idempotent).

    ``belief_time`` defaults to the latest belief time of the inputs, else the window end.
    An empty report saves nothing (and says so in its notes).
    """
    sensor = store.get_sensor(output_sensor_id)
    result.output_sensor = sensor
    bt = belief_time or result.input_belief_time or result.end
    result.belief_time = bt.astimezone(UTC)
    if result.empty:
        result.notes.append(f"nothing saved on sensor {sensor.id}: the report is empty")
        return result
    frame = _to_output_grid(result, sensor)
    result.source = reporter_source(store, result.reporter, model, config)
    n = frame.height
    beliefs = pl.DataFrame(
        {
            "sensor_id": pl.Series([sensor.id] * n, dtype=pl.Int64),
            "event_start": frame["event_start"],
            "belief_time": pl.Series([result.belief_time] * n, dtype=UTC_US),
            "source_id": pl.Series([result.source.id] * n, dtype=pl.Int64),
            "cumulative_probability": pl.Series([0.5] * n, dtype=pl.Float64),
            "event_value": frame["value"],
        }
    )
    # A report is a function of its inputs: if an input was overwritten under the same belief
    # time, the report is overwritten too (rather than refusing to save it).
    result.saved = store.save_beliefs(beliefs, overwrite=True)
    return result
