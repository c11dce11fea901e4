"""What a site is made of, for KPIs and the site timeline: its power, device, PV, load and
price sensors, each with the factor that brings its values to MW (consumption positive) or to
currency/MWh.

A site is the site model's (:mod:`flex_pipelines.sites`: the nearest asset with a flex-context
above a device; the same site the scheduler schedules). From it:

- **devices**: the site's devices. A process device
  (its baseline runs at ``power`` for ``duration`` from its INFLEXIBLE start: the first
  allowed start in each local day, given its time restrictions); otherwise it is a storage
  device (baseline: not there at all), whose
  ``soc-max`` gives the capacity for equivalent full cycles;
- **PV**: power sensors of assets of type ``solar``/``pv``/``PV`` among the site's members, production
  positive (as FlexMeasures' PV sensors) unless the sensor's attribute
  ``consumption_is_positive`` is true;
- **inflexible loads**: the flex-context's ``inflexible-device-sensors`` (minus PV sensors) and
  ``inflexible-consumption`` sensor references; ``inflexible-production`` sensor references
  count as PV;
- **prices**: flex-context ``consumption-price`` and ``production-price`` (sensor reference or
  fixed price; production defaults to consumption);
- device and load sensors are consumption positive unless their attribute
  ``consumption_is_positive`` is false.

``asset.attributes["kpis"]`` may override or add: ``{"site-power": {"sensor": id}`` (a measured
net site power; then devices only shape the baseline), ``"pv": [ids]``, ``"loads": [ids]``,
``"consumption-price"``, ``"production-price"``, ``"battery-capacity": "450 kWh"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flex_pipelines.beliefs.model import Asset, Sensor
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.reporting.base import ReportError
from flex_pipelines.scheduling.fields import UnitContext, field_scalar
from flex_pipelines.scheduling.process_model import parse_process_flex_model
from flex_pipelines.scheduling.references import json_references
from flex_pipelines.sites import AssetTree
from flex_pipelines.time import format_duration
from flex_pipelines.units import (
    UnitError,
    convert,
    is_energy_unit,
    is_power_unit,
    parse_quantity,
)

__all__ = [
    "Catalog",
    "Component",
    "ProcessBaseline",
    "SiteSpec",
    "site_spec",
    "site_specs",
    "find_sites",
]


@dataclass(frozen=True)
class Component:
    """One sensor's part in a site: ``value * factor`` is MW (or currency/MWh for prices)."""

    sensor_id: int
    role: str  # site, device, load, pv, cprice, pprice, cycles
    factor: float
    resolution: timedelta


@dataclass(frozen=True)
class ProcessBaseline:
    """A process device, to be put back at its INFLEXIBLE start in the baseline."""

    power_mw: float
    duration: timedelta
    flex_model: dict[str, Any]  # the stored process flex-model (without "sensor")
    unit: str  # the power sensor's unit (for bare-number powers)
    resolution: timedelta  # the power sensor's resolution


@dataclass
class SiteSpec:
    """Everything the KPI and timeline SQL need about one site."""

    site_id: int
    name: str
    timezone: str
    components: list[Component] = field(default_factory=list)
    fixed_consumption_price: float | None = None  # currency/MWh
    fixed_production_price: float | None = None
    currency: str = "EUR"
    processes: list[ProcessBaseline] = field(default_factory=list)

    @property
    def power_components(self) -> list[Component]:
        return [c for c in self.components if c.role in ("site", "device", "load", "pv")]

    @property
    def resolution(self) -> timedelta:
        """The finest power resolution: the KPI event grid of this site."""
        res = [c.resolution for c in self.power_components if c.resolution > timedelta(0)]
        if not res:
            raise ReportError(f"site {self.site_id} ({self.name}) has no power sensors for KPIs")
        return min(res)


class Catalog:
    """Assets and sensors read once (two queries), for resolving many sites quickly: the site
    model's :class:`~flex_pipelines.sites.AssetTree`."""

    def __init__(self, store: BeliefStore) -> None:
        self.store = store
        self.tree = AssetTree.load(store)

    def sensor(self, sensor_id: int) -> Sensor:
        return self.tree.sensors.get(sensor_id) or self.store.get_sensor(sensor_id)


def _power_factor(sensor: Sensor, consumption_positive_default: bool, what: str) -> float:
    if is_power_unit(sensor.unit):
        f = float(convert(1.0, sensor.unit, "MW"))
    elif is_energy_unit(sensor.unit) and sensor.event_resolution > timedelta(0):
        f = float(convert(1.0, sensor.unit, "MW", resolution=sensor.event_resolution))
    else:
        raise ReportError(
            f"{what} sensor {sensor.id} ({sensor.name}) has unit {sensor.unit!r}; KPIs need "
            f"power (kW, MW) or energy per event (kWh)"
        )
    cp = sensor.attributes.get("consumption_is_positive", consumption_positive_default)
    return f if cp else -f


def _price(
    cat: Catalog, spec: Any, field_name: str, site: Asset
) -> tuple[Component | None, float | None, str]:
    """A price as a sensor component or a fixed value (currency/MWh), and its currency."""
    role = "cprice" if field_name == "consumption-price" else "pprice"
    if isinstance(spec, Mapping) and "sensor" in spec:
        sensor = cat.sensor(int(spec["sensor"]))
        unit = sensor.unit
        cur = unit.split("/", 1)[0].strip()
        try:
            f = float(convert(1.0, unit, f"{cur}/MWh"))
        except UnitError as exc:
            raise ReportError(
                f"site {site.id} {field_name} sensor {sensor.id} has unit {unit!r}, not a price "
                f"per energy such as 'EUR/MWh'"
            ) from exc
        return Component(sensor.id, role, f, sensor.event_resolution), None, cur
    try:
        q = parse_quantity(spec)
        cur = q.unit.split("/", 1)[0].strip()
        return None, float(convert(q.magnitude, q.unit, f"{cur}/MWh")), cur
    except (UnitError, TypeError) as exc:
        raise ReportError(
            f"site {site.id} {field_name} = {spec!r} is neither a sensor reference nor a price "
            f"such as '80 EUR/MWh'"
        ) from exc


def site_specs(store: BeliefStore, asset_ids: list[int]) -> list[SiteSpec]:
    """Resolve many sites with one read of the asset and sensor tables."""
    cat = Catalog(store)
    return [site_spec(store, i, cat) for i in asset_ids]


def site_spec(store: BeliefStore, asset_id: int, catalog: Catalog | None = None) -> SiteSpec:
    """Resolve a site's KPI components from the asset tree (see module docstring)."""
    cat = catalog or Catalog(store)
    the_site = cat.tree.site(asset_id)
    site = the_site.asset
    ctx = the_site.flex_context
    over = dict(site.attributes.get("kpis") or {})
    spec = SiteSpec(site.id, site.name, site.timezone)
    for dev in the_site.devices:
        asset, fm = dev.asset, dev.flex_model
        sensor = cat.sensor(dev.power_sensor_id)
        f = _power_factor(sensor, True, f"device {asset.name!r}")
        spec.components.append(Component(sensor.id, "device", f, sensor.event_resolution))
        if dev.kind == "process":
            try:  # the process scheduler's own parser
                parsed = parse_process_flex_model(
                    {k: v for k, v in fm.items() if k not in ("sensor", "name")},
                    timezone=the_site.timezone,
                    default_power_unit=sensor.unit if is_power_unit(sensor.unit) else None,
                )
            except FlexPipelinesError as exc:
                raise ReportError(f"process {asset.name!r} flex-model: {exc}") from exc
            power, dur = parsed.power_mw, parsed.duration
            spec.processes.append(
                ProcessBaseline(
                    power,
                    dur,
                    {k: v for k, v in fm.items() if k != "sensor"},
                    sensor.unit,
                    sensor.event_resolution,
                )
            )
        else:
            cap = over.get("battery-capacity") or fm.get("soc-max")
            if cap is not None:  # the scheduler's field parser (units, "kWh" or a number)
                cap_mwh = field_scalar("soc-max", cap, "MWh", UnitContext(), default_unit="MWh")
                if cap_mwh > 0:
                    spec.components.append(
                        Component(sensor.id, "cycles", f / (2 * cap_mwh), sensor.event_resolution)
                    )
    pv_ids = [int(i) for i in over.get("pv", [])] + _refs(ctx.get("inflexible-production"))
    pv_ids += cat.tree.pv_sensor_ids(the_site)
    for sid in dict.fromkeys(pv_ids):
        s = cat.sensor(sid)
        spec.components.append(
            Component(sid, "pv", -_power_factor(s, False, "PV"), s.event_resolution)
        )
    loads = [int(i) for i in over.get("loads", ctx.get("inflexible-device-sensors", []) or [])]
    loads += _refs(ctx.get("inflexible-consumption"))
    for sid in dict.fromkeys(i for i in loads if i not in pv_ids):
        s = cat.sensor(sid)
        spec.components.append(
            Component(sid, "load", _power_factor(s, True, "load"), s.event_resolution)
        )
    if over.get("site-power") is not None:
        s = cat.sensor(int(over["site-power"]["sensor"]))
        spec.components.append(
            Component(s.id, "site", _power_factor(s, True, "site power"), s.event_resolution)
        )
    cp = over.get("consumption-price", ctx.get("consumption-price"))
    if cp is None:
        raise ReportError(
            f"site {site.id} ({site.name}) has no 'consumption-price' in its flex-context (or "
            f"attributes['kpis']); KPIs need a price"
        )
    comp, fixed, cur = _price(cat, cp, "consumption-price", site)
    spec.currency = cur
    if comp:
        spec.components.append(comp)
    spec.fixed_consumption_price = fixed
    pp = over.get("production-price", ctx.get("production-price"))
    if pp is not None:
        comp, fixed, pcur = _price(cat, pp, "production-price", site)
        if pcur != cur:
            raise ReportError(
                f"site {site.id} prices in different currencies: consumption-price in {cur}, "
                f"production-price in {pcur}"
            )
        if comp:
            spec.components.append(comp)
        spec.fixed_production_price = fixed
    _check_resolutions(spec)
    return spec


def _refs(value: Any) -> list[int]:
    """Sensor ids in a flex-context field: ``{"sensor": 3}`` or a list of them (else none)."""
    return [r.sensor_id for r in json_references(value, "")]


def _check_resolutions(spec: SiteSpec) -> None:
    base = spec.resolution
    for c in spec.components:
        if c.resolution <= timedelta(0) or c.resolution.total_seconds() % base.total_seconds():
            raise ReportError(
                f"site {spec.site_id} ({spec.name}): sensor {c.sensor_id} ({c.role}) has "
                f"resolution {format_duration(c.resolution)}, not a multiple of the site's finest "
                f"power resolution {format_duration(base)}; KPIs refuse to resample it"
            )


def find_sites(store: BeliefStore) -> list[int]:
    """Ids of sites: the site model's (:meth:`flex_pipelines.sites.AssetTree.sites`)."""
    return [s.id for s in AssetTree.load(store).sites()]
