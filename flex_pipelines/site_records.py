"""The records of the site model: devices, sites and scheduling scopes (read by
:class:`~flex_pipelines.sites.AssetTree`, which walks the asset tree; see :mod:`flex_pipelines.sites`
for what a site is)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flex_pipelines.beliefs.model import Asset
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.process_model import is_process_flex_model

__all__ = ["PV_TYPES", "Device", "Scope", "Site", "SiteError", "device_flex_models"]

#: asset types whose power sensor is PV production (reporting's KPIs)
PV_TYPES = frozenset({"solar", "pv", "PV", "photovoltaic"})


class SiteError(FlexPipelinesError):
    """An asset or sensor is not what a request needs (no device, not below the asset, …)."""


def device_flex_models(asset: Asset, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The device flex-models stored on an asset: its ``flex_model`` when it names a
    ``"sensor"``, or each entry of a list of such flex-models, with the sensor id canonical.

    An entry whose ``"sensor"`` is no sensor id
    (:func:`~flex_pipelines.scheduling.references.sensor_id_of`) is left out and described in
    ``problems``: a request that covers the asset is refused with it, the pipeline skips it.
    """
    from flex_pipelines.scheduling.grid import SchedulingError
    from flex_pipelines.scheduling.references import sensor_id_of

    fm: Any = asset.flex_model or {}
    out = []
    for x in fm if isinstance(fm, list) else [fm]:
        if not isinstance(x, Mapping) or x.get("sensor") is None:
            continue
        try:
            out.append({**x, "sensor": sensor_id_of(x["sensor"], "flex-model sensor")})
        except SchedulingError as exc:
            if problems is not None:
                problems.append(f"asset {asset.id} ({asset.name}): {exc}")
    return out


@dataclass(frozen=True)
class Device:
    """One schedulable device: its asset and its stored flex-model (which names its power sensor)."""

    asset: Asset
    flex_model: dict[str, Any]

    @property
    def id(self) -> int:
        """The device's asset id."""
        return self.asset.id

    @property
    def name(self) -> str:
        return str(self.flex_model.get("name") or self.asset.name)

    @property
    def power_sensor_id(self) -> int:
        """Where the device's power schedule is saved (canonical: see :func:`device_flex_models`)."""
        return int(self.flex_model["sensor"])

    @property
    def kind(self) -> str:
        """``process`` when the flex-model has a ``process-type``, else ``storage``."""
        return "process" if is_process_flex_model(self.flex_model) else "storage"

    @property
    def state_of_charge_sensor_id(self) -> int | None:
        """The sensor its planned state of charge is saved on (storage devices), if any."""
        from flex_pipelines.scheduling.references import json_references

        refs = list(
            json_references(
                self.flex_model.get("state-of-charge"), "state-of-charge", bare_ids=True
            )
        )
        return refs[0].sensor_id if refs else None


@dataclass(frozen=True)
class Site:
    """An asset with a flex-context and the devices it schedules together behind one connection."""

    asset: Asset
    devices: tuple[Device, ...]
    flex_context: dict[str, Any]  # merged down the ancestry, nearest wins
    ancestry: tuple[Asset, ...]  # the site asset first, then its ancestors
    members: tuple[Asset, ...] = ()  # the site asset and the assets below it of no nearer site
    forecast_ids: tuple[int, ...] = ()  # sensors of its members with a forecast config

    @property
    def id(self) -> int:
        return self.asset.id

    @property
    def name(self) -> str:
        return self.asset.name

    @property
    def timezone(self) -> str:
        """The site's time zone (its asset's)."""
        return self.asset.timezone

    def scope(self) -> Scope:
        """What scheduling this site covers: all its devices under its merged flex-context
        (the same as ``AssetTree.scopes(asset_id=site.id)`` for this site, without reloading)."""
        from flex_pipelines.scheduling.references import canonical_flex

        fms, fc = canonical_flex(
            [{**d.flex_model, "name": d.name} for d in self.devices], self.flex_context
        )
        return Scope(self, tuple(fms), fc)

    def devices_of_kind(self, kind: str) -> list[Device]:
        """Its ``storage`` or ``process`` devices."""
        return [d for d in self.devices if d.kind == kind]

    def power_sensor_ids(self) -> list[int]:
        """The power sensors of the site's devices (where their schedules are saved)."""
        return [d.power_sensor_id for d in self.devices]

    def input_sensor_ids(self) -> set[int]:
        """Sensors whose new beliefs change this site's schedule: every sensor its merged
        flex-context and its devices' flex-models read (prices, loads, capacities, SoC
        measurements), and its forecast sensors."""
        from flex_pipelines.scheduling.references import flex_references

        refs = flex_references([d.flex_model for d in self.devices], self.flex_context)
        ids = {r.sensor_id for r in refs if r.role == "read"}
        ids |= {d.state_of_charge_sensor_id for d in self.devices} - {None}  # type: ignore[arg-type]
        return ids | set(self.forecast_ids)


@dataclass(frozen=True)
class Scope:
    """What one scheduling request covers at one site: the devices' flex-models (stored, then
    the request's fields on top; each with its ``"sensor"`` and ``"name"``) and the merged
    flex-context (the request's, then the site's ancestry; nearest wins)."""

    site: Site | None  # None: a bare power sensor on no site (request flex-model only)
    flex_models: tuple[dict[str, Any], ...]
    flex_context: dict[str, Any]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The ``storage`` or ``process`` flex-models."""
        want = kind == "process"
        return [f for f in self.flex_models if is_process_flex_model(f) == want]

    def references(self) -> list[Any]:
        """Every sensor the scope reads or writes (:func:`~flex_pipelines.scheduling.references.flex_references`)."""
        from flex_pipelines.scheduling.references import flex_references

        return flex_references(self.flex_models, self.flex_context)
