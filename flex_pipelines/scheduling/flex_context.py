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
from dataclasses import dataclass, replace
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
    "RISK_FIELDS",
    "RiskSettings",
    "merge_flex_contexts",
    "parse_flex_context",
    "parse_flex_contexts",
    "parse_risk",
    "upgrade_flex_context",
]

#: FlexMeasures' deprecated flex-context fields (a bare sensor id) → the current field
DEPRECATED_CONTEXT_FIELDS = {
    "consumption-price-sensor": "consumption-price",
    "production-price-sensor": "production-price",
}
#: risk-aware scheduling (top level only): :func:`parse_risk`
RISK_FIELDS = frozenset({"risk-aversion", "cvar-alpha", "scenarios", "scenario-seed"})
FLEX_CONTEXT_FIELDS = (
    SITE_FIELDS
    | RISK_FIELDS
    | {
        "commodities",
        "aggregate-power",
        "inflexible-device-sensors",
        *DEPRECATED_CONTEXT_FIELDS,
    }
)
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
        elec = {k: v for k, v in top.items() if k != "commodities" and k not in RISK_FIELDS}
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


#: at most this many scenarios per solve (each adds the site's columns and rows once)
MAX_SCENARIOS = 1000


@dataclass(frozen=True)
class RiskSettings:
    """The flex-context's risk-aware fields: ``risk-aversion`` λ ≥ 0 (objective: expected cost +
    λ × CVaR), ``cvar-alpha`` α in (0, 1) (CVaR: the mean cost of the worst 1 − α share of the
    scenarios), ``scenarios`` (how many price/load paths) and ``scenario-seed`` (their random
    seed)."""

    risk_aversion: float = 0.0
    cvar_alpha: float = 0.9
    scenarios: int = 20
    seed: int = 0


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchedulingError(f"flex-context field {name!r} = {value!r}: expected a number")
    if not np.isfinite(value):
        raise SchedulingError(f"flex-context field {name!r} = {value!r}: must be finite")
    return float(value)


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchedulingError(f"flex-context field {name!r} = {value!r}: expected a whole number")
    if not low <= value <= high:
        raise SchedulingError(
            f"flex-context field {name!r} = {value!r}: must be between {low} and {high}"
        )
    return int(value)


def parse_risk(fc: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> RiskSettings | None:
    """The risk-aware fields of a flex-context, or None when it gives none of them (the
    deterministic schedule).

    >>> parse_risk({"risk-aversion": 0.5})
    RiskSettings(risk_aversion=0.5, cvar_alpha=0.9, scenarios=20, seed=0)
    >>> parse_risk({"consumption-price": "50 EUR/MWh"}) is None
    True

    Raises
    ------
    SchedulingError
        Naming field and value: ``risk-aversion`` negative, ``cvar-alpha`` outside (0, 1),
        ``scenarios`` not a whole number from 1 to :data:`MAX_SCENARIOS`, ``scenario-seed`` not
        a whole number ≥ 0, or a risk field inside a ``commodities`` entry.
    """
    if not isinstance(fc, Mapping):
        for e in fc or []:
            if isinstance(e, Mapping) and RISK_FIELDS & set(e):
                raise SchedulingError(
                    f"flex-context field {sorted(RISK_FIELDS & set(e))[0]!r}: give risk fields "
                    "at the top level of the flex-context (they apply to the whole site)"
                )
        return None
    for e in fc.get("commodities") or []:
        if isinstance(e, Mapping) and RISK_FIELDS & set(e):
            raise SchedulingError(
                f"commodities entry {e.get('commodity', 'electricity')!r}: field "
                f"{sorted(RISK_FIELDS & set(e))[0]!r} belongs at the top level of the flex-context"
            )
    given = {k: fc[k] for k in RISK_FIELDS if fc.get(k) is not None}
    if not given:
        return None
    out = RiskSettings()
    if "risk-aversion" in given:
        lam = _number("risk-aversion", given["risk-aversion"])
        if lam < 0:
            raise SchedulingError(
                f"flex-context field 'risk-aversion' = {given['risk-aversion']!r}: must be "
                "0 (risk-neutral: expected cost) or more"
            )
        out = replace(out, risk_aversion=lam)
    if "cvar-alpha" in given:
        alpha = _number("cvar-alpha", given["cvar-alpha"])
        if not 0.0 < alpha < 1.0:
            raise SchedulingError(
                f"flex-context field 'cvar-alpha' = {given['cvar-alpha']!r}: must be between 0 "
                "and 1, exclusive (0.9: the mean cost of the worst 10 % of the scenarios)"
            )
        out = replace(out, cvar_alpha=alpha)
    if "scenarios" in given:
        out = replace(out, scenarios=_integer("scenarios", given["scenarios"], 1, MAX_SCENARIOS))
    if "scenario-seed" in given:
        out = replace(out, seed=_integer("scenario-seed", given["scenario-seed"], 0, 2**63 - 1))
    return out
