"""Parsing a site's flex-context (FlexMeasures' field names) into a :class:`Site`.

- ``consumption-price`` is required for every step (a horizon without prices is an error);
  ``production-price`` defaults to it.
- ``site-power-capacity`` is a hard symmetric limit. ``site-consumption-capacity`` and
  ``site-production-capacity`` are hard unless a site breach price exists (given, or by
  default through ``relax-constraints``): then they are soft, and ``site-power-capacity`` stays
  the hard limit. A breach price is charged twice: per MW on the highest breach in the window,
  and per MW per hour on every step's breach.
- ``site-peak-consumption``/``-production`` (MW, default 0) with their prices: charged once
  per window, per MW on the highest excess over that peak.
- ``relax-constraints`` (default true) makes SoC constraints soft at 1000 CUR/kWh and site
  capacities soft at 10000 CUR/kW when no price is given; ``relax-capacity-constraints``
  (default false) makes device capacities soft at 100 CUR/kW.
- Asset-level flex-contexts are inherited (nearest wins): :func:`merge_flex_contexts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flex_pipelines.scheduling.fields import UnitContext, field_series, sum_components
from flex_pipelines.scheduling.flex_model import RelaxSettings, _bool
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.problem import Commitment, Site

__all__ = [
    "FLEX_CONTEXT_FIELDS",
    "FLEX_CONTEXT_OUTPUT_FIELDS",
    "FLEX_CONTEXT_ID_LISTS",
    "merge_flex_contexts",
    "parse_flex_context",
]

FLEX_CONTEXT_FIELDS = frozenset(
    {
        "consumption-price",
        "production-price",
        "site-power-capacity",
        "site-consumption-capacity",
        "site-production-capacity",
        "site-consumption-breach-price",
        "site-production-breach-price",
        "site-peak-consumption",
        "site-peak-production",
        "site-peak-consumption-price",
        "site-peak-production-price",
        "soc-minima-breach-price",
        "soc-maxima-breach-price",
        "consumption-breach-price",
        "production-breach-price",
        "relax-constraints",
        "relax-soc-constraints",
        "relax-capacity-constraints",
        "relax-site-capacity-constraints",
        "inflexible-consumption",
        "inflexible-production",
        "inflexible-device-sensors",
        "commitments",
        "aggregate-power",
    }
)

#: flex-context fields naming sensors the scheduler writes (the rest it reads)
FLEX_CONTEXT_OUTPUT_FIELDS = ("aggregate-power",)
#: flex-context fields whose list items may be bare sensor ids
FLEX_CONTEXT_ID_LISTS = ("inflexible-device-sensors",)

DEFAULT_SOC_BREACH_PRICE = 1000.0 * 1000  # 1000 CUR/kWh in CUR/MWh
DEFAULT_SITE_BREACH_PRICE = 10000.0 * 1000  # 10000 CUR/kW in CUR/MW
DEFAULT_DEVICE_BREACH_PRICE = 100.0 * 1000  # 100 CUR/kW in CUR/MW


def merge_flex_contexts(contexts: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Merge flex-contexts given nearest-first (request, asset, parent, …): nearest wins.

    >>> merge_flex_contexts([{"a": 1}, {"a": 2, "b": 3}])
    {'a': 1, 'b': 3}
    """
    merged: dict[str, Any] = {}
    for ctx in reversed(list(contexts)):
        if ctx:
            merged.update({k: v for k, v in ctx.items() if v is not None})
    return merged


def _price(name: str, value: Any, grid: TimeGrid, ctx: UnitContext, per: str) -> np.ndarray:
    return field_series(name, value, grid, f"CUR/{per}", ctx)


def _flex_price(name: str, value: Any, grid: TimeGrid, ctx: UnitContext) -> np.ndarray:
    """A commitment price in CUR/MWh or CUR/MW (the latter read as per MW per hour)."""
    try:
        return _price(name, value, grid, ctx, "MWh")
    except SchedulingError as exc:
        if "cannot be read" not in str(exc):
            raise
        return _price(name, value, grid, ctx, "MW")


def _require_all(name: str, arr: np.ndarray, grid: TimeGrid) -> np.ndarray:
    missing = np.flatnonzero(np.isnan(arr))
    if missing.size:
        t = grid.fmt(grid.time_at_step(int(missing[0])))
        raise SchedulingError(
            f"{name} has no value at {t} ({missing.size} of {grid.n_steps} steps missing): "
            "a horizon without prices cannot be scheduled"
        )
    return arr


def _scalar_price(
    name: str, value: Any, grid: TimeGrid, ctx: UnitContext, per: str
) -> float | None:
    if value is None:
        return None
    arr = _price(name, value, grid, ctx, per)
    return float(np.nanmax(arr)) if not np.isnan(arr).all() else None


def _opt_price(
    name: str, value: Any, grid: TimeGrid, ctx: UnitContext, per: str
) -> np.ndarray | None:
    if value is None:
        return None
    return np.nan_to_num(_price(name, value, grid, ctx, per), nan=0.0)


def parse_flex_context(
    fc: Mapping[str, Any], grid: TimeGrid, ctx: UnitContext
) -> tuple[Site, RelaxSettings, np.ndarray | None]:
    """Flex-context → (:class:`Site`, the device relax settings, site-power-capacity in MW)."""
    if not isinstance(fc, Mapping):
        raise SchedulingError(f"flex-context {fc!r}: expected an object with fields")
    unknown = sorted(set(fc) - FLEX_CONTEXT_FIELDS)
    if unknown:
        raise SchedulingError(
            f"flex-context: unknown field {unknown[0]!r} (value {fc[unknown[0]]!r}); "
            f"known fields: {', '.join(sorted(FLEX_CONTEXT_FIELDS))}"
        )
    n = grid.n_steps
    if fc.get("consumption-price") is None:
        raise SchedulingError(
            f"consumption-price missing from {grid.fmt(grid.start)}: a horizon without prices "
            "cannot be scheduled"
        )
    cp = _require_all(
        "consumption-price",
        _price("consumption-price", fc["consumption-price"], grid, ctx, "MWh"),
        grid,
    )
    if fc.get("production-price") is not None:
        pp = _require_all(
            "production-price",
            _price("production-price", fc["production-price"], grid, ctx, "MWh"),
            grid,
        )
    else:
        pp = cp.copy()

    relax = _bool("relax-constraints", fc.get("relax-constraints"), True)
    relax_soc = _bool("relax-soc-constraints", fc.get("relax-soc-constraints"), relax)
    relax_site = _bool(
        "relax-site-capacity-constraints", fc.get("relax-site-capacity-constraints"), relax
    )
    relax_dev = _bool("relax-capacity-constraints", fc.get("relax-capacity-constraints"), False)

    hard_fields: dict[str, str] = {}
    spc = field_series(
        "site-power-capacity", fc.get("site-power-capacity"), grid, "MW", ctx, combine="min"
    )
    scc = field_series(
        "site-consumption-capacity",
        fc.get("site-consumption-capacity"),
        grid,
        "MW",
        ctx,
        combine="min",
    )
    spr = field_series(
        "site-production-capacity",
        fc.get("site-production-capacity"),
        grid,
        "MW",
        ctx,
        combine="min",
    )
    for fname, arr in (
        ("site-power-capacity", spc),
        ("site-consumption-capacity", scc),
        ("site-production-capacity", spr),
    ):
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            i = int(bad[0])
            raise SchedulingError(
                f"{fname} {arr[i]:g} MW at {grid.fmt(grid.time_at_step(i))}: must not be negative"
            )
    hard = np.where(np.isnan(spc), np.inf, spc)
    cons_breach = _opt_price(
        "site-consumption-breach-price", fc.get("site-consumption-breach-price"), grid, ctx, "MW"
    )
    prod_breach = _opt_price(
        "site-production-breach-price", fc.get("site-production-breach-price"), grid, ctx, "MW"
    )
    cur = ctx.currency or "EUR"
    if cons_breach is None and relax_site and not np.isnan(scc).all():
        cons_breach = np.full(n, DEFAULT_SITE_BREACH_PRICE)
    if prod_breach is None and relax_site and not np.isnan(spr).all():
        prod_breach = np.full(n, DEFAULT_SITE_BREACH_PRICE)
    cons_hard, prod_hard = hard.copy(), hard.copy()
    cons_soft = prod_soft = None
    if not np.isnan(scc).all():
        if cons_breach is not None:
            cons_soft = np.fmin(np.where(np.isnan(scc), np.inf, scc), hard)
        else:
            cons_hard = np.fmin(cons_hard, np.where(np.isnan(scc), np.inf, scc))
            hard_fields["consumption"] = "site-consumption-capacity"
    if not np.isnan(spr).all():
        if prod_breach is not None:
            prod_soft = np.fmin(np.where(np.isnan(spr), np.inf, spr), hard)
        else:
            prod_hard = np.fmin(prod_hard, np.where(np.isnan(spr), np.inf, spr))
            hard_fields["production"] = "site-production-capacity"
    hard_fields.setdefault("consumption", "site-power-capacity")
    hard_fields.setdefault("production", "site-power-capacity")

    peak_c_price = _opt_price(
        "site-peak-consumption-price", fc.get("site-peak-consumption-price"), grid, ctx, "MW"
    )
    peak_p_price = _opt_price(
        "site-peak-production-price", fc.get("site-peak-production-price"), grid, ctx, "MW"
    )
    peak_c = np.nan_to_num(
        field_series("site-peak-consumption", fc.get("site-peak-consumption"), grid, "MW", ctx),
        nan=0.0,
    )
    peak_p = np.nan_to_num(
        field_series("site-peak-production", fc.get("site-peak-production"), grid, "MW", ctx),
        nan=0.0,
    )

    soc_min_bp = _scalar_price(
        "soc-minima-breach-price", fc.get("soc-minima-breach-price"), grid, ctx, "MWh"
    )
    soc_max_bp = _scalar_price(
        "soc-maxima-breach-price", fc.get("soc-maxima-breach-price"), grid, ctx, "MWh"
    )
    if relax_soc:
        soc_min_bp = DEFAULT_SOC_BREACH_PRICE if soc_min_bp is None else soc_min_bp
        soc_max_bp = DEFAULT_SOC_BREACH_PRICE if soc_max_bp is None else soc_max_bp
    dev_c_bp = _opt_price(
        "consumption-breach-price", fc.get("consumption-breach-price"), grid, ctx, "MW"
    )
    dev_p_bp = _opt_price(
        "production-breach-price", fc.get("production-breach-price"), grid, ctx, "MW"
    )
    if relax_dev:
        dev_c_bp = np.full(n, DEFAULT_DEVICE_BREACH_PRICE) if dev_c_bp is None else dev_c_bp
        dev_p_bp = np.full(n, DEFAULT_DEVICE_BREACH_PRICE) if dev_p_bp is None else dev_p_bp

    inflex = sum_components(
        "inflexible-consumption", fc.get("inflexible-consumption"), grid, "MW", ctx
    ) - sum_components("inflexible-production", fc.get("inflexible-production"), grid, "MW", ctx)
    sensors = fc.get("inflexible-device-sensors") or []
    if not isinstance(sensors, list):
        raise SchedulingError(
            f"inflexible-device-sensors {sensors!r}: expected a list of sensor ids"
        )
    for sid in sensors:
        ref = sid if isinstance(sid, dict) else {"sensor": sid}
        inflex += np.nan_to_num(field_series("inflexible-device-sensors", ref, grid, "MW", ctx))

    commitments = [_commitment(c, grid, ctx) for c in (fc.get("commitments") or [])]
    site = Site(
        consumption_price=cp,
        production_price=pp,
        inflexible_mw=inflex,
        consumption_hard_mw=cons_hard,
        production_hard_mw=prod_hard,
        consumption_soft_mw=cons_soft,
        production_soft_mw=prod_soft,
        consumption_breach_price=cons_breach if cons_soft is not None else None,
        production_breach_price=prod_breach if prod_soft is not None else None,
        peak_consumption_mw=peak_c if peak_c_price is not None else None,
        peak_production_mw=peak_p if peak_p_price is not None else None,
        peak_consumption_price=peak_c_price,
        peak_production_price=peak_p_price,
        soc_minima_breach_price=soc_min_bp,
        soc_maxima_breach_price=soc_max_bp,
        commitments=commitments,
        currency=ctx.currency or cur,
        hard_fields=hard_fields,
    )
    relax_settings = RelaxSettings(soc_min_bp, soc_max_bp, dev_c_bp, dev_p_bp)
    spc_out = None if np.isnan(spc).all() else hard
    return site, relax_settings, spc_out


def _commitment(c: Any, grid: TimeGrid, ctx: UnitContext) -> Commitment:
    if not isinstance(c, Mapping) or "name" not in c:
        raise SchedulingError(
            f"commitments entry {c!r}: needs name, baseline, up-price, down-price"
        )
    unknown = set(c) - {"name", "baseline", "up-price", "down-price"}
    if unknown:
        raise SchedulingError(f"commitments entry {c['name']!r}: unknown key(s) {sorted(unknown)}")
    name = str(c["name"])
    base = field_series(f"commitments[{name}].baseline", c.get("baseline", "0 MW"), grid, "MW", ctx)
    active = ~np.isnan(base)  # steps without a baseline carry no commitment
    up = np.nan_to_num(_flex_price(f"commitments[{name}].up-price", c.get("up-price"), grid, ctx))
    down = np.nan_to_num(
        _flex_price(f"commitments[{name}].down-price", c.get("down-price"), grid, ctx)
    )
    return Commitment(
        name=name,
        baseline_mw=np.nan_to_num(base, nan=0.0),
        up_price=np.where(active, up, 0.0),
        down_price=np.where(active, down, 0.0),
    )
