"""The one site model: what a site is, which devices it has, and the flex-context it runs under.

Every door (the pipeline, the API, the CLI, reporting and the SQL views) asks this module, so
"site" means one thing everywhere:

- a **device** is an asset whose ``flex_model`` names a power ``"sensor"`` (an asset may hold a
  list of such flex-models: one device each). It is a **process** when its flex-model has a
  ``process-type`` (:func:`~flex_pipelines.scheduling.process_model.is_process_flex_model`),
  otherwise a **storage** device (battery, EV, heat pump buffer);
- the **site** of a device is its nearest ancestor-or-self with a flex-context (the root of its
  tree when none has one). A campus (flex-context) → building (flex-context) → battery tree
  has the building as the battery's site; the campus's flex-context is inherited;
- a site's **flex-context** is merged down its ancestry, nearest wins
  (:func:`~flex_pipelines.scheduling.flex_context.merge_flex_contexts`);
- a site's **members** are the assets below it that belong to no nearer site (its PV, loads,
  meters); a site without devices is an asset with a flex-context and no device below it
  whose ancestors have none (a PV-only site still has KPIs).

The asset tree is read once (:class:`AssetTree`: two queries) and walked only here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flex_pipelines.beliefs.model import Asset, Sensor
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import NotFoundError
from flex_pipelines.scheduling.flex_context import merge_flex_contexts
from flex_pipelines.site_records import (
    PV_TYPES,
    Device,
    Scope,
    Site,
    SiteError,
    device_flex_models,
)

__all__ = ["AssetTree", "Device", "Scope", "Site", "SiteError", "device_flex_models"]


class AssetTree:
    """The asset tree (and sensors) read once; the only place that walks it.

    Parameters
    ----------
    assets, sensors
        Every asset and sensor of the store (or of the part of it to look at).
    """

    def __init__(self, assets: Iterable[Asset], sensors: Iterable[Sensor] = ()) -> None:
        self.assets: dict[int, Asset] = {a.id: a for a in assets}
        self.sensors: dict[int, Sensor] = {s.id: s for s in sensors}
        self._children: dict[int, list[Asset]] = {}
        for a in sorted(self.assets.values(), key=lambda a: a.id):
            if a.parent_id is not None:
                self._children.setdefault(a.parent_id, []).append(a)
        self._sites: dict[int, Site] | None = None

    @classmethod
    def load(cls, store: BeliefStore) -> AssetTree:
        """Read every asset and sensor of ``store`` (two queries)."""
        return cls(store.list_assets(), store.list_sensors())

    # --- the walk -------------------------------------------------------------------------
    def asset(self, asset_id: int) -> Asset:
        try:
            return self.assets[asset_id]
        except KeyError:
            raise NotFoundError(f"unknown asset id {asset_id}") from None

    def sensor(self, sensor_id: int) -> Sensor:
        try:
            return self.sensors[sensor_id]
        except KeyError:
            raise NotFoundError(f"unknown sensor id {sensor_id}") from None

    def children(self, asset_id: int) -> list[Asset]:
        return self._children.get(asset_id, [])

    def ancestry(self, asset_id: int) -> list[Asset]:
        """The asset and its ancestors, nearest first."""
        out: list[Asset] = []
        seen: set[int] = set()
        cur: int | None = asset_id
        while cur is not None and cur in self.assets and cur not in seen:
            seen.add(cur)
            out.append(self.assets[cur])
            cur = self.assets[cur].parent_id
        return out

    def subtree(self, asset_id: int, depth: int | None = None) -> Iterator[Asset]:
        """The asset and every asset below it (depth first, by id); ``depth`` levels at most."""
        todo = [(self.asset(asset_id), 0)]
        while todo:
            a, level = todo.pop()
            yield a
            if depth is None or level < depth:
                todo.extend((c, level + 1) for c in reversed(self.children(a.id)))

    def is_below(self, asset_id: int, ancestor_id: int) -> bool:
        """Whether ``asset_id`` is ``ancestor_id`` or below it."""
        return any(a.id == ancestor_id for a in self.ancestry(asset_id))

    def merged_flex_context(
        self, asset_id: int, request: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The flex-context an asset runs under: ``request``'s fields, then the asset's, its
        parent's, … (nearest wins)."""
        chain = [request or {}] + [a.flex_context for a in self.ancestry(asset_id)]
        return merge_flex_contexts(chain)

    def site_asset_of(self, asset_id: int) -> Asset:
        """The nearest ancestor-or-self with a flex-context (the root when none has one)."""
        chain = self.ancestry(asset_id)
        return next((a for a in chain if a.flex_context), chain[-1])

    # --- devices and sites ------------------------------------------------------------------
    def devices_below(self, asset_id: int) -> list[Device]:
        """Every device at or below an asset."""
        return [Device(a, fm) for a in self.subtree(asset_id) for fm in device_flex_models(a)]

    def device_for_sensor(self, sensor_id: int) -> Device | None:
        """The device whose flex-model names ``sensor_id`` as its power sensor, if any."""
        sensor = self.sensor(sensor_id)
        candidates = [self.assets[sensor.asset_id]] if sensor.asset_id in self.assets else []
        candidates += [a for a in self.assets.values() if a.id != sensor.asset_id]
        for a in candidates:
            for fm in device_flex_models(a):
                if int(fm["sensor"]) == sensor_id:
                    return Device(a, fm)
        return None

    def sites(self) -> list[Site]:
        """Every site, by id (see the module docstring)."""
        if self._sites is None:
            self._sites = self._build_sites()
        return list(self._sites.values())

    def site(self, site_id: int) -> Site:
        """The site whose asset is ``site_id``."""
        self.sites()
        assert self._sites is not None
        if site_id not in self._sites:
            a = self.asset(site_id)
            raise SiteError(
                f"asset {a.id} ({a.name}) is not a site: it has no device below it and no "
                f"flex-context, or a nearer asset with a flex-context is the site of its devices"
            )
        return self._sites[site_id]

    def site_of(self, asset_id: int) -> Site:
        """The site an asset belongs to."""
        return self.site(self.site_asset_of(asset_id).id)

    def sites_for(self, asset_id: int) -> list[tuple[Site, list[Device]]]:
        """What scheduling an asset means: per site, the devices at or below the asset.

        A device asset gives its own site with that device; a site gives all its devices; an
        asset above sites gives each site below it with its devices.
        """
        by_site: dict[int, list[Device]] = {}
        for d in self.devices_below(asset_id):
            by_site.setdefault(self.site_asset_of(d.asset.id).id, []).append(d)
        return [(self.site(sid), devs) for sid, devs in sorted(by_site.items())]

    def scopes(
        self,
        *,
        asset_id: int | None = None,
        sensor_id: int | None = None,
        flex_model: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        flex_context: Mapping[str, Any] | None = None,
    ) -> list[Scope]:
        """What a request to schedule an asset or a power sensor covers, per site.

        - a **sensor**: its device (stored flex-model, request fields on top) under its site's
          flex-context; a sensor on no device is scheduled from the request's flex-model alone;
        - an **asset**: every device at or below it, grouped by site (:meth:`sites_for`); a
          list ``flex_model`` overrides devices by their ``"sensor"`` (each must be a sensor of
          the asset or an asset below it) and may add devices.
        """
        from flex_pipelines.scheduling.references import canonical_flex

        if isinstance(flex_model, Mapping):
            (fm_req,), fc_req = canonical_flex([flex_model], flex_context)
        else:
            fm_list, fc_req = canonical_flex(list(flex_model or []), flex_context)
            fm_req = fm_list if flex_model is not None else None  # type: ignore[assignment]
        out = []
        for sc in self._scopes(asset_id, sensor_id, fm_req, fc_req):
            fms, fc = canonical_flex(sc.flex_models, sc.flex_context)
            out.append(Scope(sc.site, tuple(fms), fc))
        return out

    def _scopes(
        self,
        asset_id: int | None,
        sensor_id: int | None,
        flex_model: Mapping[str, Any] | list[Mapping[str, Any]] | None,
        flex_context: Mapping[str, Any] | None,
    ) -> list[Scope]:
        if (asset_id is None) == (sensor_id is None):
            raise SiteError("schedule: give exactly one of a power sensor id and an asset id")
        if sensor_id is not None:
            if isinstance(flex_model, list):
                raise SiteError("the flex-model of a sensor schedule is one object, not a list")
            sensor = self.sensor(sensor_id)
            if sensor.asset_id in self.assets:
                problems = []
                device_flex_models(self.assets[sensor.asset_id], problems)
                if problems:
                    raise SiteError("; ".join(problems))
            dev = self.device_for_sensor(sensor_id)
            fm = {**(dev.flex_model if dev else {}), **(flex_model or {}), "sensor": sensor_id}
            home = dev.asset.id if dev else sensor.asset_id
            if home is None:
                return [Scope(None, (fm,), dict(flex_context or {}))]
            site = self._site_or_none(self.site_asset_of(home).id)
            return [Scope(site, (fm,), self.merged_flex_context(home, flex_context))]
        asset = self.asset(int(asset_id))  # type: ignore[arg-type]
        problems: list[str] = []
        for a in self.subtree(asset.id):
            device_flex_models(a, problems)
        if problems:
            raise SiteError("; ".join(problems))
        given = [flex_model] if isinstance(flex_model, Mapping) else list(flex_model or [])
        by_site: dict[int, dict[int, dict[str, Any]]] = {}
        for site, devs in self.sites_for(asset.id):
            by_site[site.id] = {d.power_sensor_id: {**d.flex_model, "name": d.name} for d in devs}
        for entry in given:
            sid = entry.get("sensor")
            if sid is None:
                raise SiteError(
                    f'flex-model entry {dict(entry)!r}: each device needs its power "sensor" id'
                )
            sensor = self.sensor(sid)
            if sensor.asset_id is None or not self.is_below(sensor.asset_id, asset.id):
                raise SiteError(
                    f"sensor {sid} is not a sensor of asset {asset.id} or of an asset below it"
                )
            dev = self.device_for_sensor(sid)
            home = dev.asset.id if dev else sensor.asset_id
            fms = by_site.setdefault(self.site_asset_of(home).id, {})
            base = fms.get(sid) or (
                {**dev.flex_model, "name": dev.name} if dev else {"name": sensor.name}
            )
            fms[sid] = {**base, **entry}
        if not by_site:
            raise SiteError(
                f"asset {asset.id} ({asset.name}) has no device to schedule: no flex-model names a "
                f'power sensor ("sensor": id) at or below it'
            )
        return [
            Scope(
                self._site_or_none(sid),
                tuple(fms.values()),
                self.merged_flex_context(sid, flex_context),
            )
            for sid, fms in sorted(by_site.items())
        ]

    def _site_or_none(self, site_id: int) -> Site | None:
        self.sites()
        assert self._sites is not None
        return self._sites.get(site_id)

    def _build_sites(self) -> dict[int, Site]:
        devices: dict[int, list[Device]] = {}
        for a in self.assets.values():
            for fm in device_flex_models(a):
                devices.setdefault(self.site_asset_of(a.id).id, []).append(Device(a, fm))
        ids = set(devices)
        for a in self.assets.values():  # device-less sites (PV only, loads only)
            top = a.flex_context and not any(x.flex_context for x in self.ancestry(a.id)[1:])
            if top and not any(device_flex_models(x) for x in self.subtree(a.id)):
                ids.add(a.id)
        owner = {a.id: self.site_asset_of(a.id).id for a in self.assets.values()}
        members: dict[int, list[Asset]] = {}
        for a in self.assets.values():
            members.setdefault(owner[a.id], []).append(a)
        forecast: dict[int, list[int]] = {}
        for s in sorted(self.sensors.values(), key=lambda s: s.id):
            if s.asset_id in owner and isinstance(s.attributes.get("forecast"), dict):
                forecast.setdefault(owner[s.asset_id], []).append(s.id)
        out: dict[int, Site] = {}
        for sid in sorted(ids):
            asset = self.assets[sid]
            out[sid] = Site(
                asset=asset,
                devices=tuple(
                    sorted(devices.get(sid, []), key=lambda d: (d.id, d.power_sensor_id))
                ),
                flex_context=self.merged_flex_context(sid),
                ancestry=tuple(self.ancestry(sid)),
                members=tuple(sorted(members.get(sid, []), key=lambda a: a.id)),
                forecast_ids=tuple(forecast.get(sid, [])),
            )
        return out

    def pv_sensor_ids(self, site: Site) -> list[int]:
        """The first power sensor of each PV asset (type solar/pv) among a site's members."""
        from flex_pipelines.units import is_power_unit

        out = []
        for a in site.members:
            if a.type in PV_TYPES:
                mine = [s for s in self.sensors.values() if s.asset_id == a.id]
                out += [s.id for s in sorted(mine, key=lambda s: s.id) if is_power_unit(s.unit)][:1]
        return out
