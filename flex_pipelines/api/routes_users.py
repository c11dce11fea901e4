"""Users and accounts: create, read, edit, deactivate, delete, password reset, token revocation.

FlexMeasures' rules: users of an account read its users; a user edits their own record (but not
their ``active`` flag or roles), account-admins edit their account's users, admins everyone.
The ``admin`` role is given on the CLI only; ``account-admin`` by admins. Accounts are created by
admins and edited by their users. Deleting users (account-admins, admins) and accounts (admins)
and revoking tokens are our additions: FlexMeasures leaves them to its CLI.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    check_account,
    current_principal,
    forget_cached_tokens,
    hash_password,
    revoke_tokens,
)
from flex_pipelines.api.credentials import (
    CredentialError,
    check_password_rules,
    random_password,
    valid_email,
)
from flex_pipelines.api.errors import ApiError, forbidden
from flex_pipelines.api.models import AccountIn, AccountPatch, Id, UserIn, UserPatch
from flex_pipelines.api.routes_assets import no_content
from flex_pipelines.api.serialize import account_json, user_json
from flex_pipelines.beliefs.model import User

router = APIRouter(prefix="/api/v3_0", tags=["users"])
Auth = Annotated[Principal, Depends(current_principal)]


def unprocessable(message: str) -> ApiError:
    return ApiError(422, "UNPROCESSABLE_ENTITY", message)


def check_read_user(p: Principal, user: User) -> None:
    """Users of the same account read each other; admins read everyone."""
    if not p.is_admin and user.account_id != p.account_id:
        raise forbidden(
            f"user {user.id} belongs to another account; user {p.user.email} may not read it"
        )  # noqa: E501


def check_update_user(p: Principal, user: User, what: str = "change") -> None:
    """The user themselves, account-admins of their account, admins."""
    if p.is_admin or p.user.id == user.id:
        return
    if user.account_id != p.account_id:
        raise forbidden(
            f"user {user.id} belongs to another account; user {p.user.email} may not {what} it"
        )  # noqa: E501
    if not p.is_account_admin:
        raise forbidden(
            f"user {p.user.email} needs the account-admin role to {what} user {user.id}"
        )  # noqa: E501


def check_roles_change(p: Principal, user: User, roles: list[str]) -> None:
    """FlexMeasures' can_modify_role: ``admin`` never over the API, ``account-admin`` by admins."""
    added, removed = set(roles) - set(user.roles), set(user.roles) - set(roles)
    for role in sorted(added | removed):
        verb = "add" if role in added else "remove"
        if role == "admin":
            raise forbidden(
                f"the admin role is given and taken on the CLI only; cannot {verb} it over the API"
            )  # noqa: E501
        if role == "account-admin" and not p.is_admin:
            raise forbidden(
                f"only admins may {verb} the account-admin role (user {p.user.email} may not)"
            )  # noqa: E501


def _hash(password: str) -> str:
    try:
        check_password_rules(password)
    except CredentialError as exc:
        raise unprocessable(str(exc)) from exc
    return hash_password(password)


def _email(email: str) -> str:
    try:
        return valid_email(email)
    except CredentialError as exc:
        raise unprocessable(str(exc)) from exc


@router.get("/users/{user_id}", summary="A user")
def get_user(request: Request, p: Auth, user_id: Id) -> dict[str, Any]:
    with api_state(request).db() as store:
        user = store.get_user(user_id)
    check_read_user(p, user)
    return user_json(user)


@router.post("/users", status_code=201, summary="Create a user (account-admins)")
def create_user(request: Request, p: Auth, body: UserIn) -> dict[str, Any]:
    email = _email(body.email)
    if not p.is_admin and body.account_id != p.account_id:
        raise forbidden(f"user {p.user.email} may not create users in account {body.account_id}")
    if not p.is_account_admin:
        raise forbidden(f"user {p.user.email} needs the account-admin role to create users")
    pw_hash = (
        _hash(body.password) if body.password is not None else hash_password(random_password())
    )  # noqa: E501
    with api_state(request).db() as store:
        store.get_account(body.account_id)
        user = store.add_user(body.account_id, email, pw_hash, [])
    return user_json(user)


@router.patch("/users/{user_id}", summary="Change a user: email, active, roles, password")
def patch_user(request: Request, p: Auth, user_id: Id, body: UserPatch) -> dict[str, Any]:
    state = api_state(request)
    given = body.model_dump(exclude_unset=True, exclude_none=True)
    with state.db() as store:
        user = store.get_user(user_id)
    check_update_user(p, user)
    if p.user.id == user.id and not p.is_admin and ({"active", "flexmeasures_roles"} & set(given)):  # noqa: E501
        raise forbidden("users who edit themselves cannot change their active flag or roles")
    fields: dict[str, Any] = {}
    if "email" in given:
        fields["email"] = _email(given["email"])
    if "active" in given:
        fields["active"] = given["active"]
    if "flexmeasures_roles" in given:
        roles = [r for r in dict.fromkeys(given["flexmeasures_roles"]) if r != "user"]
        check_roles_change(p, user, roles)
        fields["roles"] = roles
    if "password" in given:
        if p.user.id != user.id and not p.is_admin:
            raise forbidden(
                f"only user {user.id} or an admin may set their password; use PATCH /users/{user.id}/password-reset"
            )  # noqa: E501
        fields["password_hash"] = _hash(given["password"])
    with state.db() as store:
        updated = store.update_user(user.id, **fields) if fields else user
        if not updated.active or "password_hash" in fields:
            revoke_tokens(store, user.id)
    if not updated.active or "password_hash" in fields:
        forget_cached_tokens(state, user.id)
    return user_json(updated)


@router.patch(
    "/users/{user_id}/password-reset", summary="Reset a password: a random one, tokens revoked"
)  # noqa: E501
def reset_password(request: Request, p: Auth, user_id: Id) -> dict[str, Any]:
    """FlexMeasures sets a random password, ends sessions and tokens and mails reset
    instructions; we send no mail: an admin sets a new password (``flexpipe edit user``)."""
    state = api_state(request)
    with state.db() as store:
        user = store.get_user(user_id)
    check_update_user(p, user, "reset the password of")
    pw_hash = hash_password(random_password())
    with state.db() as store:
        store.update_user(user.id, password_hash=pw_hash)
        n = revoke_tokens(store, user.id)
    forget_cached_tokens(state, user.id)
    return {
        "status": "PROCESSED",
        "message": f"Password of user {user.id} reset; {n} token(s) revoked. Set a new password with PATCH /api/v3_0/users/{user.id} (the user or an admin) or flexpipe edit user.",  # noqa: E501
    }


@router.delete("/users/{user_id}/tokens", summary="Revoke every token of a user (our addition)")
def delete_tokens(request: Request, p: Auth, user_id: Id) -> dict[str, Any]:
    state = api_state(request)
    with state.db() as store:
        user = store.get_user(user_id)
    check_update_user(p, user, "revoke the tokens of")
    with state.db() as store:
        n = revoke_tokens(store, user.id)
        store.record_audit(
            f"Revoked {n} token(s) of user {user.email} (id {user.id})",
            account_id=user.account_id,
            user_id=user.id,
        )
    forget_cached_tokens(state, user.id)
    return {"status": "PROCESSED", "message": f"{n} token(s) revoked.", "revoked": n}


@router.delete(
    "/users/{user_id}", status_code=204, summary="Delete a user (account-admins; our addition)"
)  # noqa: E501
def delete_user(request: Request, p: Auth, user_id: Id) -> Response:
    state = api_state(request)
    with state.db() as store:
        user = store.get_user(user_id)
    if p.user.id == user.id:
        raise forbidden("users may not delete themselves; ask an account-admin or admin")
    check_update_user(p, user, "delete")
    if "admin" in user.roles and not p.is_admin:
        raise forbidden(f"only admins may delete admin user {user.id}")
    with state.db() as store:
        revoke_tokens(store, user.id)
        store.delete_user(user.id)
    forget_cached_tokens(state, user.id)
    return no_content()


@router.post("/accounts", status_code=201, summary="Create an account (admins)")
def create_account(request: Request, p: Auth, body: AccountIn) -> dict[str, Any]:
    if not p.is_admin:
        raise forbidden(f"user {p.user.email} needs the admin role to create accounts")
    with api_state(request).db() as store:
        return account_json(store.add_account(body.name))


@router.patch("/accounts/{account_id}", summary="Change an account (its users)")
def patch_account(request: Request, p: Auth, account_id: Id, body: AccountPatch) -> dict[str, Any]:  # noqa: E501
    check_account(p, account_id)
    given = body.model_dump(exclude_unset=True, exclude_none=True)
    with api_state(request).db() as store:
        return account_json(store.update_account(account_id, **given))


@router.delete(
    "/accounts/{account_id}",
    status_code=204,
    summary="Delete an account with its users and assets (admins; our addition)",
)  # noqa: E501
def delete_account(request: Request, p: Auth, account_id: Id) -> Response:
    if not p.is_admin:
        raise forbidden(f"user {p.user.email} needs the admin role to delete accounts")
    if account_id == p.account_id:
        raise forbidden("admins may not delete their own account over the API")
    state = api_state(request)
    with state.db() as store:
        users = store.list_users(store.get_account(account_id).id)
        for u in users:
            revoke_tokens(store, u.id)
        store.delete_account(account_id)
    for u in users:
        forget_cached_tokens(state, u.id)
    return no_content()
