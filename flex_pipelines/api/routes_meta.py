"""Versions, auth tokens, health, users and accounts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    authenticate,
    check_account,
    current_principal,
)
from flex_pipelines.api.models import AuthRequest, Id
from flex_pipelines.api.serialize import account_json, user_json
from flex_pipelines.api.state import FLEXMEASURES_COMPAT_VERSION, FLEXPIPELINES_VERSION

router = APIRouter()
Auth = Annotated[Principal, Depends(current_principal)]


@router.get("/api/", tags=["meta"], summary="API versions and the server version")
def versions() -> dict[str, Any]:
    return {
        "message": "For these API versions, endpoints are available. See /api/docs.",
        "status": 200,
        "versions": ["v3_0"],
        "flexmeasures_version": FLEXMEASURES_COMPAT_VERSION,
        "flexpipelines_version": FLEXPIPELINES_VERSION,
    }


@router.post(
    "/api/requestAuthToken", tags=["auth"], summary="Exchange email and password for a token"
)
def request_auth_token(body: AuthRequest, request: Request) -> dict[str, Any]:
    client = request.client.host if request.client else "?"
    return authenticate(api_state(request), client, body.email, body.password)


@router.get("/api/ops/ping", tags=["meta"], summary="Liveness")
def ping() -> dict[str, Any]:
    return {"message": "ok", "status": 200}


@router.get("/api/v3_0/health/ready", tags=["meta"], summary="Readiness: the store answers")
def ready(request: Request) -> dict[str, Any]:
    state = api_state(request)
    with state.db() as store:
        store.query("SELECT 1 AS ok")
    jobs = state.jobs
    writer = state.writer
    return {
        "database_status": True,
        "worker_status": bool(jobs and jobs._thread),
        "belief_saves": writer.n_saves if writer else 0,
        "requests_saved_in_groups": writer.n_grouped if writer else 0,
    }


@router.get("/api/v3_0/users", tags=["users"], summary="Users of an account (default: yours)")
def users(
    request: Request, p: Auth, account_id: Annotated[Id | None, Query()] = None
) -> list[dict[str, Any]]:
    acc = p.account_id if account_id is None else account_id
    check_account(p, acc)
    with api_state(request).db() as store:
        return [user_json(u) for u in store.list_users(acc)]


@router.get("/api/v3_0/accounts/{account_id}", tags=["users"], summary="An account")
def account(request: Request, p: Auth, account_id: Id) -> dict[str, Any]:
    check_account(p, account_id)
    with api_state(request).db() as store:
        return account_json(store.get_account(account_id))


@router.get("/api/v3_0/accounts", tags=["users"], summary="Accounts you may see")
def accounts(request: Request, p: Auth) -> list[dict[str, Any]]:
    with api_state(request).db() as store:
        if p.is_admin:
            return [account_json(a) for a in store.list_accounts()]
        return [account_json(store.get_account(p.account_id))]
