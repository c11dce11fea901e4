"""From flex-model entries and a flex-context to one :class:`SchedulingProblem`.

Each flex-model list entry is a storage device, a process (``process-type``), an inflexible
device (``inflexible-consumption`` / ``inflexible-production``) or a group: the entry that other
entries name in their ``group`` field (FlexMeasures' intermediate power constraints)::

    [{"sensor": 1, "power-capacity": "2 kW", "group": {"sensor": 5}},
     {"sensor": 2, "production-capacity": "2 kW", "consumption-capacity": "0 kW",
      "group": {"sensor": 5}},
     {"sensor": 5, "power-capacity": "2.5 kW"}]

A group entry is found by its ``sensor`` (``{"sensor": 5}``), by its ``asset`` when it names no
sensor (``{"asset": 3}``), or by its ``name`` (a string; our stateless problems have no sensors).
Its ``power-capacity`` is a hard limit on the members' summed power (inflexible members
included), its ``consumption-capacity`` / ``production-capacity`` are soft, breached at
FlexMeasures' default 10000 CUR/kW. Devices sharing a ``coupling`` name are the ports of one
converter. A device's ``commodity`` without a context of its own is an internal node (its flows
balance at every step, e.g. a heat network between a heat pump and a heat buffer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flex_pipelines.scheduling.fields import SensorResolver, UnitContext, field_series
from flex_pipelines.scheduling.flex_context import parse_flex_contexts
from flex_pipelines.scheduling.flex_model import (
    entry_kind,
    group_key,
    parse_fixed_load,
    parse_storage_flex_model,
    unwrap_entry,
)
from flex_pipelines.scheduling.flex_values import check_range, sensor_ref
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.scheduling.joint import parse_process_entry
from flex_pipelines.scheduling.problem import Coupling, Group, SchedulingProblem, Site
from flex_pipelines.scheduling.site_context import DEFAULT_SITE_BREACH_PRICE

__all__ = ["GROUP_FIELDS", "build_problem"]

TIE_BREAK_FRACTION = 1e-4
#: the fields a group entry may have
GROUP_FIELDS = frozenset(
    {
        "name",
        "sensor",
        "asset",
        "power-capacity",
        "consumption-capacity",
        "production-capacity",
        "consumption",
        "production",
        "commodity",
        "group",
    }
)


def _entry_keys(fm: Mapping[str, Any]) -> list[str]:
    """The group keys an entry answers to."""
    keys = []
    if isinstance(fm.get("sensor"), int):
        keys.append(f"sensor:{fm['sensor']}")
    elif isinstance(fm.get("asset"), int):
        keys.append(f"asset:{fm['asset']}")
    if isinstance(fm.get("name"), str):
        keys.append(f"name:{fm['name']}")
    return keys


def _referenced_groups(entries: list[Any], contexts: Mapping[str, Any]) -> set[str]:
    refs = {
        group_key(e["group"], str(e.get("name", "?")))
        for e in entries
        if isinstance(e, Mapping) and e.get("group") is not None
    }
    commitments = list(contexts.get("commitments") or [])
    for c in contexts.get("commodities") or []:
        commitments += list(c.get("commitments") or []) if isinstance(c, Mapping) else []
    for c in commitments:
        if isinstance(c, Mapping) and c.get("group") is not None:
            refs.add(group_key(c["group"], f"commitment {c.get('name')}"))
    return refs


def _group(fm: Mapping[str, Any], key: str, grid: TimeGrid, ctx: UnitContext) -> Group:
    """A group entry → the group's limits (MW per step)."""
    name = str(fm.get("name", key.split(":", 1)[1]))
    unknown = sorted(set(fm) - GROUP_FIELDS)
    if unknown:
        raise SchedulingError(
            f"group {name!r}: field {unknown[0]!r} is device-only; a group entry limits the "
            f"summed power of its members ({', '.join(sorted(GROUP_FIELDS))})"
        )
    if not any(
        fm.get(k) is not None
        for k in ("power-capacity", "consumption-capacity", "production-capacity")
    ):
        raise SchedulingError(
            f"group {name!r}: none of power-capacity, consumption-capacity, production-capacity "
            "is given; a group entry limits its members' summed power"
        )
    g = Group(
        key, name, power_sensor=fm.get("sensor") if isinstance(fm.get("sensor"), int) else None
    )
    g.parent = group_key(fm["group"], name) if fm.get("group") is not None else None
    g.commodity = str(fm.get("commodity", "electricity"))
    g.consumption_sensor = sensor_ref("consumption", fm.get("consumption"))
    g.production_sensor = sensor_ref("production", fm.get("production"))
    arrs = {}
    for fname in ("power-capacity", "consumption-capacity", "production-capacity"):
        arr = field_series(fname, fm.get(fname), grid, "MW", ctx, combine="min")
        check_range(fname, name, arr, grid, 0.0, np.inf, False, "MW", "must not be negative")
        arrs[fname] = arr
    hard = np.where(np.isnan(arrs["power-capacity"]), np.inf, arrs["power-capacity"])
    g.consumption_hard_mw, g.production_hard_mw = hard, hard.copy()
    for side in ("consumption", "production"):
        arr = arrs[f"{side}-capacity"]
        if not np.isnan(arr).all():
            setattr(g, f"{side}_soft_mw", np.fmin(np.where(np.isnan(arr), np.inf, arr), hard))
            g.breach_price = np.full(grid.n_steps, DEFAULT_SITE_BREACH_PRICE)
    return g


def build_problem(
    grid: TimeGrid,
    flex_models: Sequence[Mapping[str, Any]],
    flex_context: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    resolver: SensorResolver | None = None,
    soc_units: Mapping[int, str] | None = None,
) -> SchedulingProblem:
    """Parse and validate; returns the arrays the problem description is built from.

    ``soc_units``: power sensor id → the unit bare SoC numbers of that device are in
    (FlexMeasures reads them in the power sensor's unit with "h"; MWh without a sensor).
    """
    if not flex_models:
        raise SchedulingError("flex-model: give at least one device")
    ctx = UnitContext(resolver=resolver)
    fc = parse_flex_contexts(flex_context, grid, ctx)
    sites = {s.commodity: s for s in fc.sites}
    entries = [unwrap_entry(fm, ctx.notes) for fm in flex_models]
    raw_fc = flex_context if isinstance(flex_context, Mapping) else {"commodities": flex_context}
    referenced = _referenced_groups(entries, raw_fc)
    p = SchedulingProblem(grid=grid, devices=[], site=fc.sites[0], other_sites=fc.sites[1:])
    names: set[str] = set()
    groups: dict[str, Group] = {}

    def unique(name: str) -> None:
        if name in names:
            raise SchedulingError(f"flex-model name {name!r} is used twice")
        names.add(name)

    for i, fm in enumerate(entries):
        default = f"device {i + 1}"
        if not isinstance(fm, Mapping):
            raise SchedulingError(f"flex-model {fm!r}: expected an object with fields")
        keys = [k for k in _entry_keys(fm) if k in referenced]
        kind = entry_kind(fm)
        if keys and kind == "storage":
            g = _group(fm, keys[0], grid, ctx)
            for k in keys:
                groups[k] = g
            continue
        if kind == "process":
            pd = parse_process_entry(fm, grid, default_name=default, notes=ctx.notes)
            unique(pd.name)
            p.processes.append(pd)
        elif kind == "inflexible":
            load = parse_fixed_load(fm, grid, ctx, default)
            unique(load.name)
            p.fixed_loads.append(load)
        else:
            commodity = str(fm.get("commodity", "electricity"))
            relax = fc.relax.get(commodity, fc.relax["electricity"])
            spc = fc.site_power_capacity.get(commodity)
            dev = parse_storage_flex_model(
                fm,
                grid,
                ctx,
                relax,
                site_power_capacity_mw=spc,
                default_name=default,
                default_soc_unit=(soc_units or {}).get(fm.get("sensor"), "MWh"),
            )
            unique(dev.name)
            p.devices.append(dev)
    for commodity in [d.commodity for d in p.devices] + [f.commodity for f in p.fixed_loads]:
        if commodity not in sites:  # no context: an internal node
            zero = np.zeros(grid.n_steps)
            inf = np.full(grid.n_steps, np.inf)
            sites[commodity] = Site(
                zero,
                zero.copy(),
                zero.copy(),
                inf,
                inf.copy(),
                currency=p.site.currency,
                commodity=commodity,
                internal=True,
            )
            p.other_sites.append(sites[commodity])
    for load in p.fixed_loads:
        sites[load.commodity].inflexible_mw = sites[load.commodity].inflexible_mw + load.power_mw
    _links(p, groups)
    _scopes(p)
    prices = np.concatenate(
        [np.concatenate([s.consumption_price, s.production_price]) for s in p.sites]
    )
    spread = float(np.max(prices) - np.min(prices)) or max(float(np.max(np.abs(prices))), 1.0)
    p.tie_break_weight = TIE_BREAK_FRACTION * spread / grid.n_steps
    p.notes = list(dict.fromkeys(ctx.notes))
    return p


def _links(p: SchedulingProblem, groups: dict[str, Group]) -> None:
    """Groups (members, inflexible members; nested groups count their members' members) and
    couplings (ports) from the devices' fields."""
    entries: list[Group] = []
    for g in groups.values():
        if not any(g is e for e in entries):
            entries.append(g)

    def chain(key: str | None, who: str) -> list[Group]:
        out: list[Group] = []
        while key is not None:
            g = groups.get(key)
            if g is None:
                raise SchedulingError(
                    f"{who}: group {key.split(':', 1)[1]!r} has no flex-model entry (give one "
                    "with its power-capacity, consumption-capacity or production-capacity)"
                )
            if any(g is o for o in out):
                raise SchedulingError(f"group {g.name!r} contains itself")
            out.append(g)
            key, who = g.parent, f"group {g.name!r}"
        return out

    for i, d in enumerate(p.devices):
        for g in chain(d.group, f"device {d.name!r}"):
            if g.commodity != d.commodity:
                raise SchedulingError(
                    f"group {g.name!r}: device {d.name!r} is {d.commodity}, the group "
                    f"{g.commodity}; a group sums the power of one commodity"
                )
            g.members.append(i)
    for load in p.fixed_loads:
        for g in chain(load.group, f"inflexible device {load.name!r}"):
            g.fixed_mw = load.power_mw if g.fixed_mw is None else g.fixed_mw + load.power_mw
    for g in entries:
        if g.power_sensor is None and g.key.startswith("sensor:"):
            g.power_sensor = int(g.key.split(":", 1)[1])
    p.groups = entries
    couplings: dict[str, Coupling] = {}
    for i, d in enumerate(p.devices):
        if d.coupling is not None:
            couplings.setdefault(d.coupling, Coupling(d.coupling)).members.append(
                (i, d.coupling_coefficient)
            )
    for c in couplings.values():
        if len(c.members) < 2:
            raise SchedulingError(
                f"coupling {c.name!r}: only device {p.devices[c.members[0][0]].name!r} names it; "
                "a converter's ports share the coupling name (at least two)"
            )
    p.couplings = list(couplings.values())


def _scopes(p: SchedulingProblem) -> None:
    """Resolve commitments scoped to ``sensors`` or a ``group`` to device positions."""
    by_sensor = {d.power_sensor: i for i, d in enumerate(p.devices) if d.power_sensor is not None}
    loads = {f.sensor: f for f in p.fixed_loads if f.sensor is not None}
    groups = {g.key: g for g in p.groups}
    for site in p.sites:
        for c in site.commitments:
            if c.sensors is not None:
                members, fixed = [], np.zeros(p.n_steps)
                for s in c.sensors:
                    if s in by_sensor:
                        members.append(by_sensor[s])
                    elif s in loads:
                        fixed = fixed + loads[s].power_mw
                    else:
                        raise SchedulingError(
                            f"commitments entry {c.name!r}: sensor {s} is not the power sensor "
                            "of a device in the flex-model"
                        )
                c.members, c.fixed_mw = members, fixed
            elif c.group is not None:
                g = groups.get(c.group)
                if g is None:
                    raise SchedulingError(
                        f"commitments entry {c.name!r}: no device belongs to group "
                        f"{c.group.split(':', 1)[1]!r}"
                    )
                fixed = g.fixed_mw if g.fixed_mw is not None else np.zeros(p.n_steps)
                c.members, c.fixed_mw = list(g.members), fixed
