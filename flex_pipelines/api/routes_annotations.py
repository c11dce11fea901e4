"""Annotations: POST on accounts, assets and sensors; GET an asset's chart annotations.

FlexMeasures' "create-children" permission: an account's annotations — its account-admins;
an asset's or a sensor's — the users of its account (public ones: admins). The same content,
period, type and source on the same entity is stored once: 201 when new, 200 when it exists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    check_read_asset,
    check_write_sensor_data,
    current_principal,
)
from flex_pipelines.api.errors import bad_request, forbidden
from flex_pipelines.api.models import AnnotationIn, Id
from flex_pipelines.api.sensor_data import aware
from flex_pipelines.beliefs.audit import Annotation
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.sites import AssetTree

router = APIRouter(prefix="/api/v3_0", tags=["annotations"])
Auth = Annotated[Principal, Depends(current_principal)]
Time = Annotated[str | None, Query(max_length=64)]


def annotation_json(a: Annotation) -> dict[str, Any]:
    """FlexMeasures' AnnotationSchema (``source`` is the source id, ``prior`` the belief time)."""
    return {
        "id": a.id,
        "content": a.content,
        "start": a.start.isoformat(),
        "end": a.end.isoformat(),
        "type": a.type,
        "prior": None if a.belief_time is None else a.belief_time.isoformat(),
        "source": a.source_id,
        "account_id": a.account_id,
        "asset_id": a.asset_id,
        "sensor_id": a.sensor_id,
    }


def _store_annotation(
    request: Request, p: Principal, store: BeliefStore, body: AnnotationIn, **link: int
) -> JSONResponse:
    start, end = aware("start", body.start), aware("end", body.end)
    if end <= start:
        raise bad_request(f"end {body.end} is not after start {body.start}")
    prior = aware("prior", body.prior) if body.prior else datetime.now(UTC)
    source = store.get_or_create_source(p.user.email, "user")
    found, new = store.add_annotation(
        body.content, start, end, type=body.type, belief_time=prior, source_id=source.id, **link
    )
    return JSONResponse(annotation_json(found), status_code=201 if new else 200)


@router.post(
    "/accounts/{account_id}/annotations",
    status_code=201,
    summary="Annotate an account (account-admins)",
)  # noqa: E501
def annotate_account(request: Request, p: Auth, account_id: Id, body: AnnotationIn) -> JSONResponse:
    if not p.is_admin:
        if account_id != p.account_id:
            raise forbidden(f"account {account_id} is not the account of user {p.user.email}")
        if not p.is_account_admin:
            raise forbidden(
                f"user {p.user.email} needs the account-admin role to annotate account {account_id}"
            )  # noqa: E501
    with api_state(request).db() as store:
        store.get_account(account_id)
        return _store_annotation(request, p, store, body, account_id=account_id)


@router.post("/assets/{asset_id}/annotations", status_code=201, summary="Annotate an asset")
def annotate_asset(request: Request, p: Auth, asset_id: Id, body: AnnotationIn) -> JSONResponse:
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        if not p.is_admin and (asset.account_id is None or asset.account_id != p.account_id):
            whose = "is public" if asset.account_id is None else "belongs to another account"
            raise forbidden(f"asset {asset.id} {whose}; user {p.user.email} may not annotate it")
        return _store_annotation(request, p, store, body, asset_id=asset_id)


@router.post("/sensors/{sensor_id}/annotations", status_code=201, summary="Annotate a sensor")
def annotate_sensor(request: Request, p: Auth, sensor_id: Id, body: AnnotationIn) -> JSONResponse:
    with api_state(request).db() as store:
        sensor = store.get_sensor(sensor_id)
        check_write_sensor_data(p, store, sensor)
        return _store_annotation(request, p, store, body, sensor_id=sensor_id)


@router.get(
    "/assets/{asset_id}/chart_annotations",
    summary="Annotations of an asset, its sensors and account",
)  # noqa: E501
def chart_annotations(
    request: Request,
    p: Auth,
    asset_id: Id,
    event_starts_after: Time = None,
    event_ends_before: Time = None,
) -> list[dict[str, Any]]:
    """Annotations on the asset, the assets below it, their sensors and the asset's account
    that overlap the window (FlexMeasures' chart_annotations, as records)."""
    start = aware("event_starts_after", event_starts_after) if event_starts_after else None
    end = aware("event_ends_before", event_ends_before) if event_ends_before else None
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        check_read_asset(p, asset)
        tree = AssetTree.load(store)
        asset_ids = [a.id for a in tree.subtree(asset.id)]
        sensor_ids = [s.id for a in asset_ids for s in store.list_sensors(asset_id=a)]
        found = store.list_annotations(
            account_id=asset.account_id,
            asset_ids=asset_ids,
            sensor_ids=sensor_ids,
            start=start,
            end=end,
        )
    return [annotation_json(a) for a in found]
