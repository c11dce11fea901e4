"""Assets: types, list, get, create, patch, delete (FlexMeasures' /api/v3_0/assets)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    check_read_asset,
    check_write_asset,
    current_principal,
)
from flex_pipelines.api.errors import bad_request, forbidden
from flex_pipelines.api.models import AssetIn, AssetPatch, Id
from flex_pipelines.api.serialize import asset_json, json_field
from flex_pipelines.api.tables import asset_type_name, asset_types
from flex_pipelines.beliefs.model import Asset
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.service.access import AccessDenied
from flex_pipelines.service.config import authorize_asset_config
from flex_pipelines.sites import AssetTree

router = APIRouter(prefix="/api/v3_0", tags=["assets"])
Auth = Annotated[Principal, Depends(current_principal)]


def no_content() -> Response:
    """204 with a JSON content type (the FlexMeasures client checks it even on 204)."""
    return Response(status_code=204, media_type="application/json")


@router.get("/assets/types", summary="Asset types")
def get_asset_types(request: Request, p: Auth) -> list[dict[str, Any]]:
    with api_state(request).db() as store:
        return asset_types(store)


def _type_name(store: BeliefStore, type_id: int | None, name: str | None) -> str:
    if name:
        return name
    if type_id is None:
        raise bad_request("give generic_asset_type_id (see GET /api/v3_0/assets/types)")
    found = asset_type_name(store, type_id)
    if found is None:
        raise bad_request(
            f"generic_asset_type_id {type_id} is unknown (see GET /api/v3_0/assets/types)"
        )
    return found


def _subtree(store: BeliefStore, root: int, depth: int | None) -> list[Asset]:
    """The asset and those below it, ``depth`` levels at most (the site model's tree walk)."""
    return list(AssetTree.load(store).subtree(root, depth))


@router.get("/assets", summary="Assets you may read")
def list_assets(
    request: Request,
    p: Auth,
    account_id: Annotated[Id | None, Query()] = None,
    all_accessible: bool = False,
    include_public: bool = False,
    root: Annotated[Id | None, Query()] = None,
    depth: Annotated[int | None, Query(ge=0, le=100)] = None,
    sort_by: Literal["id", "name"] = "id",
    sort_dir: Literal["asc", "desc"] = "asc",
    fields: Annotated[str | None, Query(max_length=500)] = None,
) -> list[dict[str, Any]]:
    with api_state(request).db() as store:
        if root is not None:
            check_read_asset(p, store.get_asset(root))
            found = _subtree(store, root, depth)
        elif account_id is not None:
            if not p.is_admin and account_id != p.account_id:
                raise forbidden(f"account {account_id} is not the account of user {p.user.email}")
            found = store.list_assets(account_id=account_id)
        elif all_accessible and p.is_admin:
            found = store.list_assets()
        else:
            found = store.list_assets(account_id=p.account_id)
        if include_public and root is None:
            found += [a for a in store.list_assets() if a.account_id is None]
        seen: set[int] = set()
        unique = [a for a in found if not (a.id in seen or seen.add(a.id))]  # type: ignore[func-returns-value]
        for a in unique:
            check_read_asset(p, a)
        unique.sort(key=lambda a: a.id if sort_by == "id" else a.name, reverse=sort_dir == "desc")  # type: ignore[return-value]
        out = [asset_json(store, a) for a in unique]
    if fields:
        keep = set(fields.split("|")) | {"id"}
        out = [{k: v for k, v in a.items() if k in keep} for a in out]
    return out


@router.get("/assets/{asset_id}", summary="An asset")
def get_asset(request: Request, p: Auth, asset_id: Id) -> dict[str, Any]:
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        check_read_asset(p, asset)
        return asset_json(store, asset)


@router.post("/assets", status_code=201, summary="Create an asset (account-admins)")
def create_asset(request: Request, p: Auth, body: AssetIn) -> dict[str, Any]:
    account_id = body.account_id if "account_id" in body.model_fields_set else p.account_id
    if account_id is None and not p.is_admin:
        raise forbidden("only admins may create public assets (account_id null)")
    if account_id is not None and account_id != p.account_id and not p.is_admin:
        raise forbidden(f"user {p.user.email} may not create assets in account {account_id}")
    if not p.is_account_admin:
        raise forbidden(f"user {p.user.email} needs the account-admin role to create assets")
    attributes = json_field("attributes", body.attributes) if body.attributes is not None else {}
    if body.sensors_to_show is not None:
        attributes["sensors_to_show"] = json_field("sensors_to_show", body.sensors_to_show, list)
    with api_state(request).db() as store:
        type_name = _type_name(store, body.generic_asset_type_id, body.generic_asset_type)
        if account_id is not None:
            store.get_account(account_id)
        if body.parent_asset_id is not None:
            parent = store.get_asset(body.parent_asset_id)
            check_write_asset(p, parent, "add children to")
            if parent.account_id != account_id:
                raise bad_request(
                    f"parent asset {parent.id} belongs to another account than {account_id}"
                )
        fm = json_field("flex_model", body.flex_model) if body.flex_model is not None else None
        fc = (
            json_field("flex_context", body.flex_context) if body.flex_context is not None else None
        )
        _authorize_config(p, store, fm, fc, attributes)
        asset = store.add_asset(
            body.name,
            type_name,
            account_id,
            body.parent_asset_id,
            latitude=body.latitude,
            longitude=body.longitude,
            timezone=body.timezone or "UTC",
            flex_model=fm,
            flex_context=fc,
            attributes=attributes,
        )
        return asset_json(store, asset)


def _authorize_config(p: Principal, store: BeliefStore, fm: Any, fc: Any, attributes: Any) -> None:
    """A stored configuration may name only sensors the user may use (403 otherwise)."""
    try:
        authorize_asset_config(
            p.caller, store, flex_model=fm, flex_context=fc, attributes=attributes
        )
    except AccessDenied as exc:
        raise forbidden(str(exc)) from exc


@router.patch("/assets/{asset_id}", summary="Change an asset (account-admins)")
def patch_asset(request: Request, p: Auth, asset_id: Id, body: AssetPatch) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        check_write_asset(p, asset)
        fields: dict[str, Any] = {}
        if given.get("name") is not None:
            fields["name"] = given["name"]
        for k in ("latitude", "longitude"):  # null clears them
            if k in given:
                fields[k] = given[k]
        if given.get("timezone"):
            from flex_pipelines.time import get_zone

            get_zone(given["timezone"])
            fields["timezone"] = given["timezone"]
        if given.get("generic_asset_type_id") is not None:
            fields["type"] = _type_name(store, given["generic_asset_type_id"], None)
        for k in ("flex_model", "flex_context"):
            if given.get(k) is not None:
                fields[k] = json_field(k, given[k])
        attrs = dict(asset.attributes)
        if given.get("attributes") is not None:
            attrs = {
                **json_field("attributes", given["attributes"]),
                **{k: v for k, v in asset.attributes.items() if k == "sensors_to_show"},
            }
        for k in ("sensors_to_show", "sensors_to_show_as_kpis"):
            if given.get(k) is not None:
                attrs[k] = json_field(k, given[k], list)
        if attrs != asset.attributes:
            fields["attributes"] = attrs
        if given.get("parent_asset_id") is not None:
            parent = store.get_asset(given["parent_asset_id"])
            check_write_asset(p, parent, "add children to")
            if parent.account_id != asset.account_id:
                raise bad_request(
                    f"parent asset {parent.id} belongs to another account than asset {asset.id}"
                )
            fields["parent_id"] = parent.id
        _authorize_config(
            p, store, fields.get("flex_model"), fields.get("flex_context"), fields.get("attributes")
        )
        with store.transaction():
            updated = store.update_asset(asset_id, **fields) if fields else asset
        return asset_json(store, updated)


@router.delete(
    "/assets/{asset_id}", status_code=204, summary="Delete an asset with its sensors and data"
)
def delete_asset(request: Request, p: Auth, asset_id: Id) -> Response:
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        check_write_asset(p, asset, "delete")
        store.delete_asset(asset_id)
    return no_content()
