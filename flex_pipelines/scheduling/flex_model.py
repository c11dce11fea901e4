"""Parsing a storage flex-model (FlexMeasures' field names) into a :class:`Device`.

Meanings follow FlexMeasures 1.0 (see docs/extending-the-scheduler.md for the summary):
``soc-min``/``soc-max`` are hard bounds (``soc-max`` defaults to the highest target);
``soc-minima``/``soc-maxima`` are soft when a breach price exists (by default, through
``relax-constraints``); ``soc-targets`` are soft when both SoC breach prices exist, else hard;
``roundtrip-efficiency`` overrides charging/discharging efficiency with its square root each;
``storage-efficiency`` is a loss per step of the problem's resolution; ``power-capacity`` is a
symmetric hard bound that the directional capacities cannot exceed, and within which they are
breached when the flex-context gives a device breach price.

Besides a storage device, a flex-model list entry can be (:func:`entry_kind`):

- an *inflexible device*: one ``inflexible-consumption`` or ``inflexible-production`` reference
  (the field name sets the sign) and nothing schedulable; it counts in its commodity's balance,
  its ``group`` and the commitments scoped to it (:func:`parse_fixed_load`);
- a *group*: the entry other entries name in their ``group`` field (by its ``sensor``, its
  ``asset`` or its ``name``); its capacities limit the group's summed power (see
  :mod:`~flex_pipelines.scheduling.assembly`);
- a *process*: it has a ``process-type`` (:mod:`~flex_pipelines.scheduling.joint`).

The deprecated ``sensor-flex-model`` nesting (``{"sensor": 1, "sensor-flex-model": {...}}``)
is unwrapped with a deprecation note in the run record (:func:`unwrap_entry`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from flex_pipelines.scheduling.extensions import DEVICE_FIELDS
from flex_pipelines.scheduling.fields import UnitContext, field_series, sum_components
from flex_pipelines.scheduling.flex_soc import parse_efficiencies, parse_stock
from flex_pipelines.scheduling.flex_values import check_range, first_bad, parse_bool, sensor_ref
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.operation_modes import parse_operation_modes
from flex_pipelines.scheduling.problem import Device, FixedLoad

__all__ = [
    "FLEX_MODEL_FIELDS",
    "FLEX_MODEL_OUTPUT_FIELDS",
    "RelaxSettings",
    "entry_kind",
    "group_key",
    "parse_fixed_load",
    "parse_storage_flex_model",
    "unwrap_entry",
]

FLEX_MODEL_FIELDS = frozenset(
    {
        "name",
        "sensor",
        "asset",
        "soc-at-start",
        "soc-min",
        "soc-max",
        "soc-minima",
        "soc-maxima",
        "soc-targets",
        "soc-unit",
        "roundtrip-efficiency",
        "charging-efficiency",
        "discharging-efficiency",
        "storage-efficiency",
        "power-capacity",
        "consumption-capacity",
        "production-capacity",
        "soc-usage",
        "soc-gain",
        "prefer-charging-sooner",
        "prefer-curtailing-later",
        "operation-modes",
        "state-of-charge",
        "consumption",
        "production",
        "commodity",
        "coupling",
        "coupling-coefficient",
        "group",
        "inflexible-consumption",
        "inflexible-production",
    }
)
#: flex-model fields naming sensors the scheduler writes (the rest it reads); a ``group``
#: given as ``{"sensor": id}`` gets the group's summed power
FLEX_MODEL_OUTPUT_FIELDS = ("sensor", "state-of-charge", "consumption", "production", "group")
_INFLEXIBLE = ("inflexible-consumption", "inflexible-production")
_FIXED_LOAD_FIELDS = frozenset({"name", "sensor", "asset", "commodity", "group", *_INFLEXIBLE})


@dataclass(frozen=True)
class RelaxSettings:
    """Which constraints are soft, from the flex-context (prices in CUR per MWh or MW)."""

    soc_minima_breach_price: float | None = None
    soc_maxima_breach_price: float | None = None
    consumption_breach_price: np.ndarray | None = None
    production_breach_price: np.ndarray | None = None


def unwrap_entry(fm: Any, notes: list[str]) -> Any:
    """A flex-model entry with the deprecated ``sensor-flex-model`` nesting flattened."""
    if not isinstance(fm, Mapping) or "sensor-flex-model" not in fm:
        return fm
    inner = fm["sensor-flex-model"]
    if not isinstance(inner, Mapping):
        raise SchedulingError(f"sensor-flex-model {inner!r}: expected an object with fields")
    outer = {k: v for k, v in fm.items() if k != "sensor-flex-model"}
    both = sorted(set(outer) & set(inner))
    if both:
        raise SchedulingError(
            f"sensor-flex-model: field {both[0]!r} is given both inside and next to it"
        )
    notes.append(
        "deprecated: flex-model field 'sensor-flex-model' (FlexMeasures' old nesting); give its "
        "fields next to 'sensor'"
    )
    return {**outer, **inner}


def entry_kind(fm: Mapping[str, Any]) -> str:
    """``process``, ``inflexible`` or ``storage`` (groups are found by reference, see
    :mod:`~flex_pipelines.scheduling.assembly`)."""
    if "process-type" in fm:
        return "process"
    if any(k in fm for k in _INFLEXIBLE):
        return "inflexible"
    return "storage"


def group_key(value: Any, device: str) -> str:
    """The key of a ``group`` reference: ``{"sensor": id}``, ``{"asset": id}`` or a name."""
    if isinstance(value, str) and value.strip():
        return f"name:{value.strip()}"
    if isinstance(value, Mapping) and len(value) == 1:
        ((kind, ref),) = value.items()
        if kind in ("sensor", "asset") and isinstance(ref, int) and not isinstance(ref, bool):
            return f"{kind}:{ref}"
    raise SchedulingError(
        f"group {value!r} (device {device!r}): expected {{'sensor': id}}, {{'asset': id}} or the "
        "name of a flex-model entry"
    )


def _commodity(fm: Mapping[str, Any], name: str) -> str:
    value = fm.get("commodity", "electricity")
    if not isinstance(value, str) or not value.strip():
        raise SchedulingError(f"commodity {value!r} (device {name!r}): expected a name")
    return value.strip()


def parse_fixed_load(
    fm: Mapping[str, Any], grid: TimeGrid, ctx: UnitContext, default_name: str
) -> FixedLoad:
    """An inflexible device entry → its power (MW, consumption positive)."""
    name = str(fm.get("name", default_name))
    unknown = sorted(set(fm) - _FIXED_LOAD_FIELDS)
    if unknown:
        raise SchedulingError(
            f"flex-model of inflexible device {name!r}: field {unknown[0]!r} does not apply to "
            "an inflexible device (it carries inflexible-consumption or inflexible-production)"
        )
    given = [k for k in _INFLEXIBLE if fm.get(k) is not None]
    if len(given) != 1:
        raise SchedulingError(
            f"flex-model of inflexible device {name!r}: give one of inflexible-consumption and "
            "inflexible-production"
        )
    sign = 1.0 if given[0] == "inflexible-consumption" else -1.0
    power = sign * sum_components(given[0], fm[given[0]], grid, "MW", ctx)
    group = group_key(fm["group"], name) if fm.get("group") is not None else None
    sensor = fm.get("sensor") if isinstance(fm.get("sensor"), int) else None
    return FixedLoad(name, power, _commodity(fm, name), group, sensor)


def parse_storage_flex_model(
    fm: Mapping[str, Any],
    grid: TimeGrid,
    ctx: UnitContext,
    relax: RelaxSettings,
    *,
    site_power_capacity_mw: np.ndarray | None = None,
    default_name: str = "device",
    default_soc_unit: str = "MWh",
) -> Device:
    """One device's flex-model → :class:`Device` (MW, MWh, fractions), validated; bare SoC
    numbers are in ``default_soc_unit`` unless the flex-model says ``soc-unit``."""
    if not isinstance(fm, Mapping):
        raise SchedulingError(f"flex-model {fm!r}: expected an object with fields")
    name = str(fm.get("name", default_name))
    known = FLEX_MODEL_FIELDS | set(DEVICE_FIELDS)
    unknown = sorted(set(fm) - known)
    if unknown:
        raise SchedulingError(
            f"flex-model of device {name!r}: unknown field {unknown[0]!r} "
            f"(value {fm[unknown[0]]!r}); known fields: {', '.join(sorted(known))}"
        )
    if "soc-unit" in fm:
        ctx.notes.append(
            f"deprecated: flex-model field 'soc-unit' (device {name!r}); give units with the "
            "values instead (e.g. '450 kWh')"
        )
    st = parse_stock(fm, grid, ctx, name, default_soc_unit)
    eff = parse_efficiencies(fm, grid, ctx, name)
    cc, prc, c_hard, p_hard, c_soft, p_soft = _capacities(
        fm, grid, ctx, name, relax, site_power_capacity_mw
    )
    delta = sum_components("soc-gain", fm.get("soc-gain"), grid, "MW", ctx) - sum_components(
        "soc-usage", fm.get("soc-usage"), grid, "MW", ctx
    )
    soft_min = relax.soc_minima_breach_price is not None
    soft_max = relax.soc_maxima_breach_price is not None
    coupling, coefficient = _coupling(fm, name, cc, prc)
    return Device(
        name=name,
        has_stock=st.has_stock,
        soc_at_start_mwh=st.soc_start,
        soc_min_mwh=st.soc_min if st.has_stock else -math.inf,
        soc_max_mwh=st.soc_max if st.has_stock else math.inf,
        consumption_capacity_mw=cc,
        production_capacity_mw=prc,
        charging_efficiency=eff.charging,
        discharging_efficiency=eff.discharging,
        storage_efficiency=eff.storage,
        stock_delta_mw=delta,
        soc_minima_mwh=st.minima,
        soc_maxima_mwh=st.maxima,
        soc_targets_mwh=st.targets,
        soc_targets_soft=soft_min and soft_max,
        soc_minima_soft=soft_min,
        soc_maxima_soft=soft_max,
        consumption_breach_price=relax.consumption_breach_price if c_soft else None,
        production_breach_price=relax.production_breach_price if p_soft else None,
        prefer_charging_sooner=parse_bool(
            "prefer-charging-sooner", fm.get("prefer-charging-sooner"), True
        ),
        prefer_curtailing_later=parse_bool(
            "prefer-curtailing-later", fm.get("prefer-curtailing-later"), True
        ),
        operation_modes=parse_operation_modes(fm.get("operation-modes"), name, ctx),
        power_sensor=sensor_ref("sensor", fm.get("sensor")),
        state_of_charge_sensor=sensor_ref("state-of-charge", fm.get("state-of-charge")),
        consumption_sensor=sensor_ref("consumption", fm.get("consumption")),
        production_sensor=sensor_ref("production", fm.get("production")),
        soc_unit=st.label,
        extensions={
            k: DEVICE_FIELDS[k].parse(fm[k], grid, ctx, name)
            for k in DEVICE_FIELDS
            if fm.get(k) is not None
        },
        consumption_hard_mw=c_hard,
        production_hard_mw=p_hard,
        commodity=_commodity(fm, name),
        coupling=coupling,
        coupling_coefficient=coefficient,
        group=group_key(fm["group"], name) if fm.get("group") is not None else None,
    )


def _capacities(
    fm: Mapping[str, Any],
    grid: TimeGrid,
    ctx: UnitContext,
    name: str,
    relax: RelaxSettings,
    site_power_capacity_mw: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, bool]:
    """Consumption and production capacity (MW per step), the hard limits they are breached
    within, and whether each is soft.

    ``power-capacity`` is the hard symmetric limit; missing, it defaults to the site's
    ``site-power-capacity`` when neither directional capacity is given (and then, if only one
    directional capacity is given, the other is 0). A directional capacity is soft when the
    flex-context prices its breach (``consumption-breach-price`` …) and it is not zero
    throughout; it is then breached within ``power-capacity`` (missing: the device's largest
    directional capacity in the window, then ``site-power-capacity``), never beyond it.
    """
    n = grid.n_steps
    pc = field_series("power-capacity", fm.get("power-capacity"), grid, "MW", ctx, combine="min")
    cc = field_series(
        "consumption-capacity", fm.get("consumption-capacity"), grid, "MW", ctx, combine="min"
    )
    prc = field_series(
        "production-capacity", fm.get("production-capacity"), grid, "MW", ctx, combine="min"
    )
    for fname, arr in (
        ("power-capacity", pc),
        ("consumption-capacity", cc),
        ("production-capacity", prc),
    ):
        check_range(fname, name, arr, grid, 0.0, np.inf, False, "MW", "must not be negative")
    given_c = fm.get("consumption-capacity") is not None
    given_p = fm.get("production-capacity") is not None
    if fm.get("power-capacity") is None:
        if given_c and not given_p:
            prc = np.zeros(n)
        elif given_p and not given_c:
            cc = np.zeros(n)
        elif not (given_c or given_p):
            if site_power_capacity_mw is None or not np.isfinite(site_power_capacity_mw).all():
                raise SchedulingError(
                    f"power-capacity missing (device {name!r}): give power-capacity, "
                    "consumption-capacity/production-capacity or a site-power-capacity"
                )
            pc = site_power_capacity_mw.copy()
    pc = np.where(np.isnan(pc), np.inf, pc)
    cc = np.fmin(np.where(np.isnan(cc), np.inf, cc), pc)
    prc = np.fmin(np.where(np.isnan(prc), np.inf, prc), pc)
    for fname, arr in (("consumption-capacity", cc), ("production-capacity", prc)):
        i = first_bad(arr, ~np.isfinite(arr))
        if i is not None:
            raise SchedulingError(
                f"{fname} (device {name!r}) has no value at {grid.fmt(grid.time_at_step(i))}: "
                "give power-capacity for the whole horizon"
            )
    c_soft = relax.consumption_breach_price is not None and bool((cc > 0).any())
    p_soft = relax.production_breach_price is not None and bool((prc > 0).any())
    hard = pc
    if (c_soft or p_soft) and not np.isfinite(pc).all():
        rating = max(float(cc.max(initial=0.0)), float(prc.max(initial=0.0)))
        if rating <= 0 and site_power_capacity_mw is not None:
            hard = np.where(np.isfinite(pc), pc, site_power_capacity_mw)
        else:
            hard = np.where(np.isfinite(pc), pc, rating)
    return cc, prc, hard if c_soft else cc, hard if p_soft else prc, c_soft, p_soft


def _coupling(
    fm: Mapping[str, Any], name: str, cc: np.ndarray, prc: np.ndarray
) -> tuple[str | None, float]:
    """``coupling`` (a group name shared by a converter's ports) and ``coupling-coefficient``
    (a positive magnitude, default 1) → the name and the signed coefficient: positive for an
    input port (``production-capacity`` 0: it consumes), negative for an output port
    (``consumption-capacity`` 0: it produces)."""
    if fm.get("coupling") is None:
        if fm.get("coupling-coefficient") is not None:
            raise SchedulingError(
                f"coupling-coefficient (device {name!r}) needs a coupling (the converter's name)"
            )
        return None, 1.0
    group = fm["coupling"]
    if not isinstance(group, str) or not group.strip():
        raise SchedulingError(f"coupling {group!r} (device {name!r}): expected a name")
    coef = fm.get("coupling-coefficient", 1.0)
    try:
        coef = float(coef)
    except (TypeError, ValueError) as exc:
        raise SchedulingError(
            f"coupling-coefficient {fm.get('coupling-coefficient')!r} (device {name!r}): "
            "expected a positive number"
        ) from exc
    if not coef > 0:
        raise SchedulingError(
            f"coupling-coefficient {coef:g} (device {name!r}): must be positive (the direction "
            "follows from the device's capacities)"
        )
    consumes, produces = bool((cc > 0).any()), bool((prc > 0).any())
    if consumes and not produces:
        return group.strip(), coef
    if produces and not consumes:
        return group.strip(), -coef
    raise SchedulingError(
        f"coupling {group!r} (device {name!r}): a coupled port flows one way; give "
        "production-capacity 0 (an input, e.g. a heat pump's electricity) or consumption-capacity "
        "0 (an output, e.g. its heat)"
    )
