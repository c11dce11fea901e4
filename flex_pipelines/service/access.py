"""Who may read and write which sensors: the one access rule every door goes through.

- a sensor belongs to the account of its asset; a sensor of an asset without an account (or of
  no asset) is **public**: readable by all, writable by admins only;
- users of the owning account may read its sensors and write data to them (post beliefs,
  trigger schedules, forecasts and reports that save on them);
- admins (role ``admin``) may read and write everything; the CLI acts as :data:`LOCAL_ADMIN`
  (whoever can open the store file or URL owns it).

Refusals raise :class:`AccessDenied` naming the field, the sensor id and the caller, never the
sensor's values, unit or name (they belong to another account).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flex_pipelines.beliefs.model import Asset, Sensor
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.references import SensorReference

if TYPE_CHECKING:
    from flex_pipelines.sites import AssetTree

__all__ = ["AccessDenied", "Caller", "LOCAL_ADMIN", "authorize", "can_read", "can_write"]


class AccessDenied(FlexPipelinesError):
    """The caller may not read or write a sensor a request names (HTTP 403)."""


@dataclass(frozen=True)
class Caller:
    """Who asks: an account (None for the local admin) and roles (``admin``, ``account-admin``)."""

    account_id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str = "anonymous"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


#: the CLI and the pipeline: whoever can open the store owns it
LOCAL_ADMIN = Caller(None, frozenset({"admin"}), "local admin")


def _owner(
    store: BeliefStore, sensor: Sensor, assets: Mapping[int, Asset] | None = None
) -> int | None:
    if sensor.asset_id is None:
        return None
    if assets is not None and sensor.asset_id in assets:
        return assets[sensor.asset_id].account_id
    return store.get_asset(sensor.asset_id).account_id


def can_read(
    caller: Caller, store: BeliefStore, sensor: Sensor, assets: Mapping[int, Asset] | None = None
) -> bool:
    """Whether ``caller`` may read the sensor's beliefs (``assets``: already loaded ones)."""
    if caller.is_admin:
        return True
    owner = _owner(store, sensor, assets)
    return owner is None or owner == caller.account_id


def can_write(
    caller: Caller, store: BeliefStore, sensor: Sensor, assets: Mapping[int, Asset] | None = None
) -> bool:
    """Whether ``caller`` may save beliefs on the sensor (``assets``: already loaded ones)."""
    if caller.is_admin:
        return True
    owner = _owner(store, sensor, assets)
    return owner is not None and owner == caller.account_id


def refusal(caller: Caller, store: BeliefStore, sensor: Sensor, role: str, where: str = "") -> str:
    """The message for a refused read or write (names no value, unit or name of the sensor)."""
    owner = _owner(store, sensor)
    whose = (
        "is public; only admins may write to it" if owner is None else "belongs to another account"
    )
    verb = "read" if role == "read" else "write to"
    prefix = f"{where} names sensor" if where else "sensor"
    if owner is None:
        return f"{prefix} {sensor.id}, which {whose}"
    return f"{prefix} {sensor.id}, which {whose}; {caller.name} may not {verb} it"


def authorize(
    caller: Caller,
    store: BeliefStore,
    refs: Iterable[SensorReference],
    *,
    tree: AssetTree | None = None,
) -> None:
    """Check every referenced sensor (read or write) before anything runs.

    ``tree`` (the site model's, already loaded) answers sensor and asset look-ups without a
    query each (a batch of thousands of sites).

    Raises
    ------
    AccessDenied
        At the first sensor the caller may not use, naming the field and sensor id.
    flex_pipelines.errors.NotFoundError
        For a sensor that does not exist (the store's error).
    """

    def sensor_of(sid: int) -> Sensor:
        if tree is not None and sid in tree.sensors:
            return tree.sensors[sid]
        return store.get_sensor(sid)

    assets = tree.assets if tree is not None else None
    for r in refs:
        sensor = sensor_of(r.sensor_id)  # unknown sensors are an error for admins too
        allowed = can_write if r.role == "write" else can_read
        if not allowed(caller, store, sensor, assets):
            raise AccessDenied(refusal(caller, store, sensor, r.role, r.field))
