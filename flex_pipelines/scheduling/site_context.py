"""One commodity's part of a flex-context → a :class:`Site` (prices, limits, commitments).

- ``consumption-price`` is required for every step of the top-level (electricity) context;
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
- ``commitments``: a baseline with up and down prices, on the site's net power or scoped to
  ``sensors`` or a ``group``; a price per MWh is charged per MWh, a price per MW per MW per step
  (as FlexMeasures does).
- An entry of ``commodities`` (FlexMeasures' per-commodity contexts) follows FlexMeasures'
  smart defaults: a direction with neither price nor capacity gets a 0 capacity (soft), one with
  a capacity but no price a 0 price; an entry with none of the five grid fields has no grid
  connection at all (an internal node: its flows balance at every step).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from flex_pipelines.scheduling.fields import UnitContext, field_series, sum_components
from flex_pipelines.scheduling.flex_model import RelaxSettings, group_key
from flex_pipelines.scheduling.flex_values import parse_bool
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.problem import Commitment, Site

__all__ = ["GRID_FIELDS", "SITE_FIELDS", "parse_site"]

DEFAULT_SOC_BREACH_PRICE = 1000.0 * 1000  # 1000 CUR/kWh in CUR/MWh
DEFAULT_SITE_BREACH_PRICE = 10000.0 * 1000  # 10000 CUR/kW in CUR/MW
DEFAULT_DEVICE_BREACH_PRICE = 100.0 * 1000  # 100 CUR/kW in CUR/MW

#: the fields one commodity's context may have (top level or in ``commodities``)
SITE_FIELDS = frozenset(
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
        "commitments",
        "aggregate-consumption",
        "aggregate-production",
        "commodity",
    }
)
#: the five fields that say a commodity has a grid connection (FlexMeasures' smart defaults)
GRID_FIELDS = (
    "consumption-price",
    "production-price",
    "site-power-capacity",
    "site-consumption-capacity",
    "site-production-capacity",
)
_COMMITMENT_KEYS = {"name", "baseline", "up-price", "down-price", "sensors", "group", "commodity"}


def _price(name: str, value: Any, grid: TimeGrid, ctx: UnitContext, per: str) -> np.ndarray:
    return field_series(name, value, grid, f"CUR/{per}", ctx)


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


_ZERO_PRICE = ("zero price",)  # a price the smart defaults fill in (no currency of its own)


def _energy_price(name: str, value: Any, grid: TimeGrid, ctx: UnitContext) -> np.ndarray:
    if value is _ZERO_PRICE:
        return np.zeros(grid.n_steps)
    return _require_all(name, _price(name, value, grid, ctx, "MWh"), grid)


def _smart_defaults(fc: Mapping[str, Any], commodity: str) -> tuple[dict[str, Any], bool]:
    """FlexMeasures' defaults for a ``commodities`` entry; True when it is an internal node."""
    out = dict(fc)
    given = {k for k in GRID_FIELDS if fc.get(k) is not None}
    if not given:
        out["consumption-price"] = out["production-price"] = _ZERO_PRICE
        return out, True
    if given == {"site-power-capacity"}:
        out["consumption-price"] = out["production-price"] = _ZERO_PRICE
        return out, False
    for side in ("consumption", "production"):
        price, cap = f"{side}-price", f"site-{side}-capacity"
        if price not in given and cap not in given:
            out[cap] = "0 MW"  # no connection that way: soft, at the default breach price
        elif cap in given and price not in given:
            out[price] = _ZERO_PRICE
    return out, False


def parse_site(
    fc: Mapping[str, Any],
    grid: TimeGrid,
    ctx: UnitContext,
    *,
    commodity: str = "electricity",
    smart_defaults: bool = False,
) -> tuple[Site, RelaxSettings, np.ndarray | None]:
    """One commodity's context → (:class:`Site`, the device relax settings, site-power-capacity
    in MW or None)."""
    internal = False
    if smart_defaults:
        fc, internal = _smart_defaults(fc, commodity)
    n = grid.n_steps
    where = "" if commodity == "electricity" else f" (commodity {commodity!r})"
    if fc.get("consumption-price") is None:
        raise SchedulingError(
            f"consumption-price{where} missing from {grid.fmt(grid.start)}: a horizon without "
            "prices cannot be scheduled"
        )
    cp = _energy_price("consumption-price", fc["consumption-price"], grid, ctx)
    if fc.get("production-price") is None:
        pp = cp.copy()
    else:
        pp = _energy_price("production-price", fc["production-price"], grid, ctx)
    relax = parse_bool("relax-constraints", fc.get("relax-constraints"), True)
    relax_soc = parse_bool("relax-soc-constraints", fc.get("relax-soc-constraints"), relax)
    relax_site = parse_bool(
        "relax-site-capacity-constraints", fc.get("relax-site-capacity-constraints"), relax
    )
    relax_dev = parse_bool(
        "relax-capacity-constraints", fc.get("relax-capacity-constraints"), False
    )
    site = _limits(fc, grid, ctx, relax_site)
    spc = site.pop("_spc")

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
    if relax_dev and dev_c_bp is None and dev_p_bp is None:
        dev_c_bp = np.full(n, DEFAULT_DEVICE_BREACH_PRICE)
        dev_p_bp = np.full(n, DEFAULT_DEVICE_BREACH_PRICE)

    inflex = sum_components(
        "inflexible-consumption", fc.get("inflexible-consumption"), grid, "MW", ctx
    ) - sum_components("inflexible-production", fc.get("inflexible-production"), grid, "MW", ctx)
    sensors = fc.get("inflexible-device-sensors") or []
    if sensors and (fc.get("inflexible-consumption") or fc.get("inflexible-production")):
        raise SchedulingError(
            "inflexible-device-sensors (deprecated) cannot be mixed with inflexible-consumption "
            "or inflexible-production"
        )
    if sensors:
        ctx.notes.append(
            "deprecated: flex-context field 'inflexible-device-sensors'; list the sensors under "
            "inflexible-consumption or inflexible-production (the field name sets the sign)"
        )
    if not isinstance(sensors, list):
        raise SchedulingError(
            f"inflexible-device-sensors {sensors!r}: expected a list of sensor ids"
        )
    for sid in sensors:
        ref = sid if isinstance(sid, dict) else {"sensor": sid}
        inflex += np.nan_to_num(field_series("inflexible-device-sensors", ref, grid, "MW", ctx))
    commitments = [_commitment(c, grid, ctx, commodity) for c in (fc.get("commitments") or [])]
    out = Site(
        consumption_price=cp,
        production_price=pp,
        inflexible_mw=inflex,
        soc_minima_breach_price=soc_min_bp,
        soc_maxima_breach_price=soc_max_bp,
        commitments=commitments,
        currency=ctx.currency or "EUR",
        commodity=commodity,
        internal=internal,
        aggregate_power_sensor=_output(fc, "aggregate-power"),
        aggregate_consumption_sensor=_output(fc, "aggregate-consumption"),
        aggregate_production_sensor=_output(fc, "aggregate-production"),
        **site,
    )
    return out, RelaxSettings(soc_min_bp, soc_max_bp, dev_c_bp, dev_p_bp), spc


def _output(fc: Mapping[str, Any], key: str) -> int | None:
    value = fc.get(key)
    if value is None:
        return None
    sid = value.get("sensor") if isinstance(value, Mapping) else value
    if not isinstance(sid, int) or isinstance(sid, bool):
        raise SchedulingError(
            f"{key} {value!r}: expected a sensor reference such as {{'sensor': 9}}"
        )
    return sid


def _limits(
    fc: Mapping[str, Any], grid: TimeGrid, ctx: UnitContext, relax_site: bool
) -> dict[str, Any]:
    """Hard and soft site capacities, their breach prices, peaks, and which field set each."""
    n = grid.n_steps
    caps = {}
    for fname in ("site-power-capacity", "site-consumption-capacity", "site-production-capacity"):
        arr = field_series(fname, fc.get(fname), grid, "MW", ctx, combine="min")
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            i = int(bad[0])
            raise SchedulingError(
                f"{fname} {arr[i]:g} MW at {grid.fmt(grid.time_at_step(i))}: must not be negative"
            )
        caps[fname] = arr
    spc = caps["site-power-capacity"]
    hard = np.where(np.isnan(spc), np.inf, spc)
    out: dict[str, Any] = {"consumption_hard_mw": hard.copy(), "production_hard_mw": hard.copy()}
    hard_fields: dict[str, str] = {}
    for side in ("consumption", "production"):
        cap = caps[f"site-{side}-capacity"]
        price = _opt_price(
            f"site-{side}-breach-price", fc.get(f"site-{side}-breach-price"), grid, ctx, "MW"
        )
        if np.isnan(cap).all():
            continue
        if price is None and relax_site:
            price = np.full(n, DEFAULT_SITE_BREACH_PRICE)
        cap = np.where(np.isnan(cap), np.inf, cap)
        if price is not None:
            out[f"{side}_soft_mw"] = np.fmin(cap, hard)
            out[f"{side}_breach_price"] = price
        else:
            out[f"{side}_hard_mw"] = np.fmin(out[f"{side}_hard_mw"], cap)
            hard_fields[side] = f"site-{side}-capacity"
    hard_fields.setdefault("consumption", "site-power-capacity")
    hard_fields.setdefault("production", "site-power-capacity")
    out["hard_fields"] = hard_fields
    for side in ("consumption", "production"):
        price = _opt_price(
            f"site-peak-{side}-price", fc.get(f"site-peak-{side}-price"), grid, ctx, "MW"
        )
        if price is not None:
            peak = field_series(f"site-peak-{side}", fc.get(f"site-peak-{side}"), grid, "MW", ctx)
            out[f"peak_{side}_mw"] = np.nan_to_num(peak, nan=0.0)
            out[f"peak_{side}_price"] = price
    out["_spc"] = None if np.isnan(spc).all() else hard
    return out


def _flex_price(name: str, value: Any, grid: TimeGrid, ctx: UnitContext) -> np.ndarray:
    """A commitment price as CUR/MWh: a price per MWh as is; a price per MW is charged per MW
    per step (FlexMeasures' rule), i.e. divided by the step length in hours."""
    try:
        return _price(name, value, grid, ctx, "MWh")
    except SchedulingError as exc:
        if "cannot be read" not in str(exc):
            raise
        return _price(name, value, grid, ctx, "MW") / grid.dt_hours


def _commitment(c: Any, grid: TimeGrid, ctx: UnitContext, commodity: str) -> Commitment:
    if not isinstance(c, Mapping) or "name" not in c:
        raise SchedulingError(
            f"commitments entry {c!r}: needs name, baseline, up-price, down-price"
        )
    unknown = set(c) - _COMMITMENT_KEYS
    if unknown:
        raise SchedulingError(f"commitments entry {c['name']!r}: unknown key(s) {sorted(unknown)}")
    name = str(c["name"])
    if c.get("sensors") is not None and c.get("group") is not None:
        raise SchedulingError(
            f"commitments entry {name!r}: scope it by 'sensors' or by 'group', not both"
        )
    sensors = c.get("sensors")
    if sensors is not None and (
        not isinstance(sensors, list)
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in sensors)
    ):
        raise SchedulingError(
            f"commitments entry {name!r}: 'sensors' {sensors!r}: expected a list of power sensor ids"
        )
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
        commodity=str(c.get("commodity", commodity)),
        sensors=tuple(sensors) if sensors is not None else None,
        group=group_key(c["group"], f"commitment {name}") if c.get("group") is not None else None,
    )
