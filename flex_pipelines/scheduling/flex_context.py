"""Parsing a site's flex-context (FlexMeasures' field names) into one :class:`Site` per
commodity.

The flex-context is one object (the electricity context, FlexMeasures' single-dict form) that
may list further commodities under ``commodities`` (FlexMeasures 1.0's per-commodity contexts,
each with its own prices, capacities and commitments); FlexMeasures' list form (one context per
commodity) is accepted too. What each field means is in
:mod:`~flex_pipelines.scheduling.site_context`. Deprecated names (``consumption-price-sensor``,
``production-price-sensor``, ``inflexible-device-sensors``) are read with a deprecation note in
the run record. Asset-level flex-contexts are inherited (nearest wins):
:func:`merge_flex_contexts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flex_pipelines.scheduling.fields import UnitContext
from flex_pipelines.scheduling.flex_model import RelaxSettings
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.problem import Site
from flex_pipelines.scheduling.site_context import GRID_FIELDS, SITE_FIELDS, parse_site

__all__ = [
    "DEPRECATED_CONTEXT_FIELDS",
    "FLEX_CONTEXT_FIELDS",
    "FLEX_CONTEXT_ID_LISTS",
    "FLEX_CONTEXT_OUTPUT_FIELDS",
    "FlexContext",
    "merge_flex_contexts",
    "parse_flex_context",
    "parse_flex_contexts",
    "upgrade_flex_context",
]

#: FlexMeasures' deprecated flex-context fields (a bare sensor id) → the current field
DEPRECATED_CONTEXT_FIELDS = {
    "consumption-price-sensor": "consumption-price",
    "production-price-sensor": "production-price",
}
FLEX_CONTEXT_FIELDS = SITE_FIELDS | {
    "commodities",
    "aggregate-power",
    "inflexible-device-sensors",
    *DEPRECATED_CONTEXT_FIELDS,
}
#: flex-context fields naming sensors the scheduler writes (the rest it reads)
FLEX_CONTEXT_OUTPUT_FIELDS = ("aggregate-power", "aggregate-consumption", "aggregate-production")
#: flex-context fields that are (or whose list items may be) bare sensor ids
FLEX_CONTEXT_ID_LISTS = ("inflexible-device-sensors", *DEPRECATED_CONTEXT_FIELDS)
_ALIASES = {**DEPRECATED_CONTEXT_FIELDS, **{v: k for k, v in DEPRECATED_CONTEXT_FIELDS.items()}}


def merge_flex_contexts(contexts: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Merge flex-contexts given nearest-first (request, asset, parent, …): nearest wins.

    >>> merge_flex_contexts([{"a": 1}, {"a": 2, "b": 3}])
    {'a': 1, 'b': 3}
    >>> merge_flex_contexts([{"consumption-price-sensor": 3}, {"consumption-price": "9 EUR/MWh"}])
    {'consumption-price-sensor': 3}
    """
    merged: dict[str, Any] = {}
    for ctx in reversed(list(contexts)):
        if ctx:
            given = {k: v for k, v in ctx.items() if v is not None}
            for key in given:  # a deprecated name and its replacement are one field
                if key in _ALIASES:
                    merged.pop(_ALIASES[key], None)
            merged.update(given)
    return merged


def upgrade_flex_context(
    fc: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None, notes: list[str] | None = None
) -> dict[str, Any] | None:
    """FlexMeasures' older forms → the current one, one rule per field.

    ``{"consumption-price-sensor": 3}`` → ``{"consumption-price": {"sensor": 3}}`` (likewise
    for production); a list of per-commodity contexts → ``{"commodities": [...]}``. A
    deprecation note goes to ``notes`` (the run record). Raises
    :class:`~flex_pipelines.scheduling.grid.SchedulingError` for a deprecated field that is not
    a sensor id, or given next to its replacement.
    """
    if fc is None:
        return None
    if isinstance(fc, Sequence) and not isinstance(fc, str | bytes | Mapping):
        if not all(isinstance(e, Mapping) for e in fc):
            raise SchedulingError("flex-context: a list form lists one object per commodity")
        return {"commodities": [dict(e) for e in fc]}
    if not isinstance(fc, Mapping):
        raise SchedulingError(f"flex-context {fc!r}: expected an object with fields")
    out = {k: v for k, v in fc.items() if k not in DEPRECATED_CONTEXT_FIELDS}
    for old, new in DEPRECATED_CONTEXT_FIELDS.items():
        if old not in fc:
            continue
        value = fc[old]
        if not isinstance(value, int) or isinstance(value, bool):
            raise SchedulingError(f"flex-context field {old!r} must be a sensor id, not {value!r}")
        if fc.get(new) is not None:
            raise SchedulingError(f"flex-context: give {new!r} or {old!r} (deprecated), not both")
        out[new] = {"sensor": value}
        if notes is not None:
            notes.append(
                f'deprecated: flex-context field {old!r}; use "{new}": {{"sensor": {value}}}'
            )
    return out


@dataclass
class FlexContext:
    """One :class:`Site` per commodity (electricity first), the relax settings devices of each
    commodity use, and each commodity's ``site-power-capacity`` (MW per step, or None)."""

    sites: list[Site]
    relax: dict[str, RelaxSettings]
    site_power_capacity: dict[str, np.ndarray | None]


def _unknown(fields: Mapping[str, Any], known: frozenset[str] | set[str], where: str) -> None:
    unknown = sorted(set(fields) - known)
    if unknown:
        raise SchedulingError(
            f"{where}: unknown field {unknown[0]!r} (value {fields[unknown[0]]!r}); "
            f"known fields: {', '.join(sorted(known))}"
        )


def parse_flex_contexts(
    fc: Mapping[str, Any] | Sequence[Mapping[str, Any]], grid: TimeGrid, ctx: UnitContext
) -> FlexContext:
    """Flex-context → one site per commodity (see :class:`FlexContext`)."""
    top = upgrade_flex_context(fc, ctx.notes)
    assert top is not None
    _unknown(top, FLEX_CONTEXT_FIELDS, "flex-context")
    if top.get("commodity", "electricity") != "electricity":
        raise SchedulingError(
            f"flex-context field 'commodity' = {top['commodity']!r}: the top-level context is "
            "electricity's; list other commodities under 'commodities'"
        )
    entries = top.get("commodities") or []
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise SchedulingError("flex-context field 'commodities': expected a list of contexts")
    by_commodity: dict[str, Mapping[str, Any]] = {}
    for e in entries:
        c = e.get("commodity", "electricity")
        if not isinstance(c, str) or not c.strip():
            raise SchedulingError(f"commodities entry {e!r}: 'commodity' must be a name")
        if c in by_commodity:
            raise SchedulingError(f"commodities: {c!r} is listed twice")
        _unknown(e, SITE_FIELDS, f"commodities entry {c!r}")
        by_commodity[c] = e
    out = FlexContext([], {}, {})
    if "electricity" in by_commodity:
        elec, smart = by_commodity.pop("electricity"), True
    else:
        elec = {k: v for k, v in top.items() if k != "commodities"}
        smart = bool(entries) and not any(elec.get(k) is not None for k in GRID_FIELDS)
    for commodity, context, smart_defaults in [("electricity", elec, smart)] + [
        (c, e, True) for c, e in by_commodity.items()
    ]:
        site, relax, spc = parse_site(
            context, grid, ctx, commodity=commodity, smart_defaults=smart_defaults
        )
        out.sites.append(site)
        out.relax[commodity] = relax
        out.site_power_capacity[commodity] = spc
    return out


def parse_flex_context(
    fc: Mapping[str, Any], grid: TimeGrid, ctx: UnitContext
) -> tuple[Site, RelaxSettings, np.ndarray | None]:
    """Flex-context → (electricity :class:`Site`, its device relax settings, its
    site-power-capacity in MW)."""
    parsed = parse_flex_contexts(fc, grid, ctx)
    return (
        parsed.sites[0],
        parsed.relax["electricity"],
        parsed.site_power_capacity["electricity"],
    )
