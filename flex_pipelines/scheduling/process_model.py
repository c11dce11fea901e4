"""The process flex-model: what a process (a shiftable industrial load) may do.

Field names are FlexMeasures' (``ProcessScheduler``), so its flex-models can be used unchanged:

- ``duration`` (required): how long the process runs, ISO 8601 (``"PT4H"``) or a timedelta.
  Calendar days count as 24 hours (a process takes physical time, not wall-clock days).
- ``power`` (required): the power while running, a quantity such as ``"200 kW"``. A bare number
  is read in ``default_power_unit`` when one is given (FlexMeasures reads it in the sensor's unit)
  and refused otherwise. Energy units are refused. Only consumption (power > 0) is allowed unless
  ``allow_production=True``.
- ``process-type``: ``INFLEXIBLE`` (default; starts at the first allowed time), ``SHIFTABLE``
  (one contiguous block at the best time) or ``BREAKABLE`` (the best single steps).
- ``time-restrictions``: a list of ``{"start": ISO time, "duration": ISO duration}`` (or
  ``"end"`` instead of ``"duration"``) during which the process may not run.
- ``optimization-sense``: ``MIN`` (default; lowest cost) or ``MAX`` (highest value).

Unknown fields are refused (a typo must not silently drop a restriction); ``sensor`` (the
device's power sensor, as stored on an asset's flex-model) is accepted and left to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import TimeError, add_duration, parse_datetime, parse_duration
from flex_pipelines.units import UnitError, convert, is_energy_unit, is_power_unit, parse_quantity

__all__ = [
    "ProcessFlexModelError",
    "ProcessInfeasibleError",
    "ProcessType",
    "OptimizationSense",
    "TimeRestriction",
    "ProcessFlexModel",
    "parse_process_flex_model",
    "parse_time_restrictions",
    "PROCESS_FLEX_MODEL_FIELDS",
]


class ProcessFlexModelError(FlexPipelinesError):
    """A process flex-model field that cannot be used as given."""


class ProcessInfeasibleError(FlexPipelinesError):
    """The process cannot run as required inside the window (restrictions leave no room)."""


class ProcessType(StrEnum):
    INFLEXIBLE = "INFLEXIBLE"
    SHIFTABLE = "SHIFTABLE"
    BREAKABLE = "BREAKABLE"


class OptimizationSense(StrEnum):
    MIN = "MIN"
    MAX = "MAX"


PROCESS_FLEX_MODEL_FIELDS = (
    "duration",
    "power",
    "process-type",
    "time-restrictions",
    "optimization-sense",
)


@dataclass(frozen=True)
class TimeRestriction:
    """A period [start, end) in which the process may not run (tz-aware times)."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}–{self.end.isoformat()}"


@dataclass(frozen=True)
class ProcessFlexModel:
    """A parsed process flex-model in engine units (MW, timedelta, tz-aware datetimes)."""

    duration: timedelta
    power_mw: float
    process_type: ProcessType = ProcessType.INFLEXIBLE
    time_restrictions: tuple[TimeRestriction, ...] = ()
    optimization_sense: OptimizationSense = OptimizationSense.MIN


def _field_error(field: str, value: Any, why: str) -> ProcessFlexModelError:
    return ProcessFlexModelError(f"process flex-model field {field!r} = {value!r}: {why}")


def _parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        td = value
    else:
        try:
            dur = parse_duration(str(value))
        except TimeError as exc:
            raise _field_error("duration", value, str(exc)) from exc
        if dur.months:
            raise _field_error("duration", value, "a duration in months has no fixed length")
        td = timedelta(days=dur.days) + dur.clock
    if td <= timedelta(0):
        raise _field_error("duration", value, "must be longer than zero")
    return td


def _parse_power(value: Any, default_unit: str | None, allow_production: bool) -> float:
    if value is None:
        raise _field_error("power", value, "is required, e.g. '200 kW'")
    try:
        q = parse_quantity(value, default_unit=default_unit)
    except UnitError as exc:
        raise _field_error("power", value, f"{exc}; give a power such as '200 kW'") from exc
    if is_energy_unit(q.unit):
        raise _field_error(
            "power", value, f"{q.unit!r} is an energy unit; give a power such as '200 kW'"
        )
    if not is_power_unit(q.unit):
        raise _field_error("power", value, f"{q.unit!r} is not a power unit (W, kW, MW)")
    power_mw = float(convert(q.magnitude, q.unit, "MW"))
    if power_mw == 0.0:
        raise _field_error("power", value, "must not be zero")
    if power_mw < 0.0 and not allow_production:
        raise _field_error(
            "power",
            value,
            "is negative (production), but this process may only consume; "
            "give the consumed power as a positive number",
        )
    return power_mw


def _parse_enum(field: str, value: Any, enum: type[StrEnum], default: StrEnum) -> Any:
    if value is None:
        return default
    try:
        return enum(str(value).strip().upper())
    except ValueError as exc:
        allowed = ", ".join(m.value for m in enum)
        raise _field_error(field, value, f"is not one of {allowed}") from exc


def parse_time_restrictions(
    value: Any, timezone: str | None = None, field: str = "time-restrictions"
) -> tuple[TimeRestriction, ...]:
    """Read ``[{"start": …, "duration": …}, …]`` (or ``"end"``) into :class:`TimeRestriction` s.

    Naive timestamps are localised in ``timezone`` and refused without one. Calendar durations
    (``P1D``) are added on the local wall clock of the start (DST-safe).
    """
    if value is None:
        return ()
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise _field_error(field, value, "must be a list of {start, duration} objects")
    out: list[TimeRestriction] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if isinstance(item, TimeRestriction):
            out.append(item)
            continue
        if not isinstance(item, Mapping) or "start" not in item:
            raise _field_error(where, item, "must be an object with 'start' and 'duration'")
        unknown = set(item) - {"start", "duration", "end"}
        if unknown:
            raise _field_error(where, item, f"unknown key(s) {sorted(unknown)}")
        try:
            start = parse_datetime(item["start"], timezone=timezone)
        except TimeError as exc:
            raise _field_error(f"{where}.start", item["start"], str(exc)) from exc
        if ("duration" in item) == ("end" in item):
            raise _field_error(where, item, "give exactly one of 'duration' and 'end'")
        try:
            if "duration" in item:
                dur = item["duration"]
                end = add_duration(start, dur if isinstance(dur, timedelta) else str(dur))
            else:
                end = parse_datetime(item["end"], timezone=timezone)
        except TimeError as exc:
            key = "duration" if "duration" in item else "end"
            raise _field_error(f"{where}.{key}", item[key], str(exc)) from exc
        if end.astimezone(UTC) <= start.astimezone(UTC):
            raise _field_error(
                where, item, f"ends at {end.isoformat()}, not after its start {start.isoformat()}"
            )
        out.append(TimeRestriction(start=start, end=end))
    return tuple(out)


def is_process_flex_model(flex_model: Any) -> bool:
    """Whether a device flex-model describes a process (it has a ``process-type``); the one
    test of a device's kind (storage otherwise)."""
    return isinstance(flex_model, Mapping) and "process-type" in flex_model


def parse_process_flex_model(
    flex_model: Mapping[str, Any] | ProcessFlexModel,
    *,
    timezone: str | None = None,
    default_power_unit: str | None = None,
    allow_production: bool = False,
) -> ProcessFlexModel:
    """Parse a FlexMeasures-style process flex-model (kebab-case JSON) into engine units.

    :param timezone: localises naive timestamps in ``time-restrictions`` (else they are refused).
    :param default_power_unit: unit of a bare-number ``power`` (e.g. the sensor's unit).
    :param allow_production: accept a negative ``power`` (a process that produces).
    :raises ProcessFlexModelError: naming the field and the value that cannot be used.
    """
    if isinstance(flex_model, ProcessFlexModel):
        return flex_model
    if not isinstance(flex_model, Mapping):
        raise ProcessFlexModelError(
            f"process flex-model {flex_model!r} must be an object with fields "
            f"{', '.join(PROCESS_FLEX_MODEL_FIELDS)}"
        )
    unknown = [k for k in flex_model if k not in PROCESS_FLEX_MODEL_FIELDS and k != "sensor"]
    if unknown:
        raise _field_error(
            unknown[0],
            flex_model[unknown[0]],
            f"unknown field; a process flex-model has {', '.join(PROCESS_FLEX_MODEL_FIELDS)}",
        )
    if "duration" not in flex_model:
        raise _field_error("duration", None, "is required, e.g. 'PT4H'")
    return ProcessFlexModel(
        duration=_parse_duration(flex_model["duration"]),
        power_mw=_parse_power(flex_model.get("power"), default_power_unit, allow_production),
        process_type=_parse_enum(
            "process-type", flex_model.get("process-type"), ProcessType, ProcessType.INFLEXIBLE
        ),
        time_restrictions=parse_time_restrictions(
            flex_model.get("time-restrictions"), timezone=timezone
        ),
        optimization_sense=_parse_enum(
            "optimization-sense",
            flex_model.get("optimization-sense"),
            OptimizationSense,
            OptimizationSense.MIN,
        ),
    )
