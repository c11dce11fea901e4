"""Audit logs of accounts, users and assets (FlexMeasures' ``…/auditlog`` endpoints).

Who may read them (FlexMeasures' AuditLog ACLs): an account's log — its account-admins and
admins; a user's log — the user, account-admins of their account, admins; an asset's log —
whoever may read the asset (sensor changes are on their asset's log).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from flex_pipelines.api.auth import Principal, api_state, check_read_asset, current_principal
from flex_pipelines.api.errors import forbidden
from flex_pipelines.api.models import Id
from flex_pipelines.api.routes_users import check_update_user
from flex_pipelines.beliefs.audit import AuditEvent

router = APIRouter(prefix="/api/v3_0", tags=["audit"])
Auth = Annotated[Principal, Depends(current_principal)]
MAX_EVENTS = 100_000
PerPage = Annotated[int | None, Query(ge=1, le=1000)]


def _brief(e: AuditEvent) -> dict[str, Any]:
    return {
        "event": e.event,
        "event_datetime": e.event_datetime.isoformat(),
        "active_user_name": e.active_user_name,
        "active_user_id": e.active_user_id,
    }


def _page(
    events: list[AuditEvent],
    page: int | None,
    per_page: int | None,
    search: str | None,
    sort_dir: str | None,
) -> dict[str, Any]:
    """FlexMeasures' paginated answer: ``data``, ``num-records``, ``filtered-records``."""
    total = len(events)
    if search:
        terms = [t.lower() for t in search.split() if t]
        events = [
            e
            for e in events
            if any(t in e.event.lower() or t in e.active_user_name.lower() for t in terms)
        ]
    if sort_dir == "asc":
        events = list(reversed(events))  # the store answers newest first
    size = per_page or 10
    start = ((page or 1) - 1) * size
    return {
        "data": [_brief(e) for e in events[start : start + size]],
        "num-records": total,
        "filtered-records": len(events),
    }


@router.get(
    "/accounts/{account_id}/auditlog", summary="What changed in an account (account-admins)"
)  # noqa: E501
def account_auditlog(request: Request, p: Auth, account_id: Id) -> list[dict[str, Any]]:
    if not p.is_admin:
        if account_id != p.account_id:
            raise forbidden(f"account {account_id} is not the account of user {p.user.email}")
        if not p.is_account_admin:
            raise forbidden(
                f"user {p.user.email} needs the account-admin role to read the audit log of account {account_id}"
            )  # noqa: E501
    with api_state(request).db() as store:
        store.get_account(account_id)
        return [
            _brief(e)
            | {"affected_user_id": e.affected_user_id, "affected_asset_id": e.affected_asset_id}  # noqa: E501
            for e in store.audit_log(account_id=account_id, limit=MAX_EVENTS)
        ]


@router.get("/users/{user_id}/auditlog", summary="What changed about a user")
def user_auditlog(
    request: Request,
    p: Auth,
    user_id: Id,
    page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    per_page: PerPage = None,
    per_page_dash: Annotated[int | None, Query(alias="per-page", ge=1, le=1000)] = None,
    filter: Annotated[str | None, Query(max_length=200)] = None,
    sort_by: Annotated[Literal["event_datetime"] | None, Query(alias="sort-by")] = None,
    sort_dir: Annotated[Literal["asc", "desc"] | None, Query(alias="sort-dir")] = None,
) -> dict[str, Any]:
    with api_state(request).db() as store:
        user = store.get_user(user_id)
        check_update_user(p, user, "read the audit log of")
        events = store.audit_log(user_id=user.id, limit=MAX_EVENTS)
    return _page(events, page, per_page_dash or per_page, filter, sort_dir)


@router.get("/assets/{asset_id}/auditlog", summary="What changed about an asset and its sensors")
def asset_auditlog(
    request: Request,
    p: Auth,
    asset_id: Id,
    page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    per_page: PerPage = None,
    per_page_dash: Annotated[int | None, Query(alias="per-page", ge=1, le=1000)] = None,
    filter: Annotated[str | None, Query(max_length=200)] = None,
    sort_by: Annotated[Literal["event_datetime"] | None, Query(alias="sort-by")] = None,
    sort_dir: Annotated[Literal["asc", "desc"] | None, Query(alias="sort-dir")] = None,
) -> dict[str, Any]:
    with api_state(request).db() as store:
        check_read_asset(p, store.get_asset(asset_id))
        events = store.audit_log(asset_id=asset_id, limit=MAX_EVENTS)
    return _page(events, page, per_page_dash or per_page, filter, sort_dir)
