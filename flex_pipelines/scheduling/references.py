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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flex_pipelines.scheduling.flex_context import FLEX_CONTEXT_ID_LISTS, FLEX_CONTEXT_OUTPUT_FIELDS
from flex_pipelines.scheduling.flex_model import FLEX_MODEL_OUTPUT_FIELDS

__all__ = ["SensorReference", "flex_references", "json_references"]

Role = Literal["read", "write"]


@dataclass(frozen=True)
class SensorReference:
    """One sensor a request names: where (``field``, a JSON path), which sensor, read or write."""

    field: str
    sensor_id: int
    role: Role


def _as_id(value: Any) -> int | None:
    """A sensor id in any form a parser downstream might accept (``3``, ``"3"``, ``3.0``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    return None


def _is_id(value: Any) -> bool:
    return _as_id(value) is not None


def json_references(
    value: Any, path: str, role: Role = "read", *, bare_ids: bool = False
) -> Iterator[SensorReference]:
    """Every ``{"sensor": id}`` in a JSON value (and bare ids when ``bare_ids``)."""
    if bare_ids and _is_id(value):
        yield SensorReference(path, _as_id(value), role)  # type: ignore[arg-type]
    elif isinstance(value, Mapping):
        if _is_id(value.get("sensor")):
            yield SensorReference(path, _as_id(value["sensor"]), role)  # type: ignore[arg-type]
        for k, v in value.items():
            if k != "sensor":
                yield from json_references(v, f"{path}.{k}", role)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from json_references(v, f"{path}[{i}]", role, bare_ids=bare_ids)


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
            if key == "sensor" and _is_id(value):
                out.append(SensorReference(f"{where}.sensor", _as_id(value), "write"))  # type: ignore[arg-type]
            elif key in FLEX_MODEL_OUTPUT_FIELDS:
                out += json_references(value, f"{where}.{key}", "write", bare_ids=True)
            else:
                out += json_references(value, f"{where}.{key}")
    for key, value in (flex_context or {}).items():
        role: Role = "write" if key in FLEX_CONTEXT_OUTPUT_FIELDS else "read"
        bare = key in FLEX_CONTEXT_ID_LISTS or key in FLEX_CONTEXT_OUTPUT_FIELDS
        out += json_references(value, f"flex-context.{key}", role, bare_ids=bare)
    return out
