"""Which sensors a flex-model, a flex-context or a reporter config names, and whether each is
read or written: what access control checks before anything runs.

A sensor reference is ``{"sensor": id}`` anywhere in the JSON (nested in time-ranged lists,
commitments, report inputs), a bare id where a field takes one (``state-of-charge``,
``inflexible-device-sensors``, forecast ``regressors``). The fields the scheduler *writes* are
declared next to their parsers (:data:`~flex_pipelines.scheduling.flex_model.FLEX_MODEL_OUTPUT_FIELDS`,
:data:`~flex_pipelines.scheduling.flex_context.FLEX_CONTEXT_OUTPUT_FIELDS`); every other
reference is read. Walking the whole JSON (not a list of known fields) means a field added
later is checked without touching this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flex_pipelines.scheduling.flex_context import FLEX_CONTEXT_ID_LISTS, FLEX_CONTEXT_OUTPUT_FIELDS
from flex_pipelines.scheduling.flex_model import FLEX_MODEL_OUTPUT_FIELDS
from flex_pipelines.scheduling.grid import SchedulingError

__all__ = [
    "SensorReference",
    "canonical_flex",
    "canonical_ids",
    "flex_references",
    "json_references",
    "sensor_id_of",
]

Role = Literal["read", "write"]


@dataclass(frozen=True)
class SensorReference:
    """One sensor a request names: where (``field``, a JSON path), which sensor, read or write."""

    field: str
    sensor_id: int
    role: Role


_DIGITS = re.compile(r"[0-9]+")


def sensor_id_of(value: Any, field: str = "sensor") -> int:
    """The sensor id ``value`` names: an integer, a string of ASCII digits or a whole float
    (``3``, ``"3"``, ``3.0``); the one reading every parser and the access check share.

    Raises
    ------
    SchedulingError
        For anything else (``true``, ``9.5``, ``"0_9"``, ``"²"``), naming the field and value.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and int(value) > 0:
        return int(value.strip())
    raise SchedulingError(f"{field}: {value!r} is not a sensor id (a positive whole number)")


def _is_id(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def json_references(
    value: Any, path: str, role: Role = "read", *, bare_ids: bool = False
) -> Iterator[SensorReference]:
    """Every ``{"sensor": id}`` in a JSON value (and bare ids when ``bare_ids``); an id that is
    not a valid sensor id raises (:func:`sensor_id_of`) instead of being passed over."""
    if bare_ids and _is_id(value):
        yield SensorReference(path, sensor_id_of(value, path), role)
    elif isinstance(value, Mapping):
        if "sensor" in value and value["sensor"] is not None:
            yield SensorReference(path, sensor_id_of(value["sensor"], f"{path}.sensor"), role)
        for k, v in value.items():
            if k != "sensor":
                yield from json_references(v, f"{path}.{k}", role)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from json_references(v, f"{path}[{i}]", role, bare_ids=bare_ids)


def canonical_ids(value: Any, path: str = "", *, bare_ids: bool = False) -> Any:
    """A copy of a JSON value with every sensor id as an int (``{"sensor": "3"}`` →
    ``{"sensor": 3}``), so what the access check saw is exactly what the parsers read."""
    if bare_ids and _is_id(value):
        return sensor_id_of(value, path)
    if isinstance(value, Mapping):
        out = {k: canonical_ids(v, f"{path}.{k}") for k, v in value.items() if k != "sensor"}
        if "sensor" in value:
            raw = value["sensor"]
            out = {"sensor": None if raw is None else sensor_id_of(raw, f"{path}.sensor"), **out}
        return out
    if isinstance(value, list | tuple):
        return [canonical_ids(v, f"{path}[{i}]", bare_ids=bare_ids) for i, v in enumerate(value)]
    return value


def canonical_flex(
    flex_models: Sequence[Mapping[str, Any]], flex_context: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Flex-models and a flex-context with canonical sensor ids (:func:`canonical_ids`)."""
    fms = []
    for i, fm in enumerate(flex_models):
        where = f"flex-model[{i}]" if len(flex_models) > 1 else "flex-model"
        fms.append(
            {
                k: canonical_ids(v, f"{where}.{k}", bare_ids=k in FLEX_MODEL_OUTPUT_FIELDS)
                for k, v in fm.items()
            }
        )
    fc = {
        k: canonical_ids(
            v,
            f"flex-context.{k}",
            bare_ids=k in FLEX_CONTEXT_ID_LISTS or k in FLEX_CONTEXT_OUTPUT_FIELDS,
        )
        for k, v in (flex_context or {}).items()
    }
    return fms, fc


def flex_references(
    flex_models: Sequence[Mapping[str, Any]], flex_context: Mapping[str, Any] | None
) -> list[SensorReference]:
    """The sensors device flex-models and a flex-context name, with what the scheduler does
    with each (``write``: power, state-of-charge, consumption/production, aggregate-power;
    ``read``: prices, inflexible devices, capacities and limits given as sensors, SoC
    measurements, commitments)."""
    out: list[SensorReference] = []
    for i, fm in enumerate(flex_models):
        where = f"flex-model[{i}]" if len(flex_models) > 1 else "flex-model"
        for key, value in fm.items():
            if key == "sensor" and value is not None:
                out.append(
                    SensorReference(
                        f"{where}.sensor", sensor_id_of(value, f"{where}.sensor"), "write"
                    )
                )
            elif key in FLEX_MODEL_OUTPUT_FIELDS:
                out += json_references(value, f"{where}.{key}", "write", bare_ids=True)
            else:
                out += json_references(value, f"{where}.{key}")
    for key, value in (flex_context or {}).items():
        role: Role = "write" if key in FLEX_CONTEXT_OUTPUT_FIELDS else "read"
        bare = key in FLEX_CONTEXT_ID_LISTS or key in FLEX_CONTEXT_OUTPUT_FIELDS
        out += json_references(value, f"flex-context.{key}", role, bare_ids=bare)
    return out
