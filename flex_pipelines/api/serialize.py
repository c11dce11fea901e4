"""Sensors, assets, users and accounts as FlexMeasures' API shows them."""

from __future__ import annotations

import json
from typing import Any

from flex_pipelines.api.errors import bad_request
from flex_pipelines.api.tables import asset_type_id
from flex_pipelines.beliefs.model import Account, Asset, Sensor, User
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.time import format_duration


def sensor_json(s: Sensor) -> dict[str, Any]:
    """A sensor; ``attributes`` is a JSON string, as FlexMeasures sends it."""
    return {
        "id": s.id,
        "name": s.name,
        "unit": s.unit,
        "event_resolution": format_duration(s.event_resolution),
        "generic_asset_id": s.asset_id,
        "timezone": s.timezone,
        "entity_address": f"ea1.2026-01.flexpipelines:fm1.{s.id}",
        "attributes": json.dumps(s.attributes),
        "knowledge_horizon": s.knowledge_horizon.to_json(),
    }


def asset_json(store: BeliefStore, a: Asset) -> dict[str, Any]:
    """An asset; ``attributes`` is a JSON string, flex-model and flex-context are objects."""
    attrs = dict(a.attributes)
    sensors_to_show = attrs.pop("sensors_to_show", [])
    type_id = asset_type_id(store, a.type)
    return {
        "id": a.id,
        "name": a.name,
        "account_id": a.account_id,
        "latitude": a.latitude,
        "longitude": a.longitude,
        "generic_asset_type_id": type_id,
        "generic_asset_type": {"id": type_id, "name": a.type},
        "parent_asset_id": a.parent_id,
        "timezone": a.timezone,
        "attributes": json.dumps(attrs),
        "flex_context": a.flex_context,
        "flex_model": a.flex_model,
        "sensors_to_show": sensors_to_show,
    }


def user_json(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "username": u.email.split("@")[0],
        "account_id": u.account_id,
        "active": u.active,
        "flexmeasures_roles": list(u.roles),
    }


def account_json(a: Account) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "account_roles": [], "consultancy_account_id": None}


def json_field(name: str, value: Any, expect: type = dict) -> Any:
    """A field FlexMeasures clients send either as JSON text or as an object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise bad_request(f"field {name!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, expect):
        raise bad_request(
            f"field {name!r} must be a JSON {expect.__name__}, not {type(value).__name__}"
        )
    return value
