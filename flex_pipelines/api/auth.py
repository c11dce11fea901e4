"""Passwords (bcrypt), expiring tokens, the current user, and who may read or write what.

Roles: ``admin`` (everything, every account), ``account-admin`` (creates, changes and deletes
assets and sensors of their account), plain users (read their account's assets and sensors,
post data, trigger jobs). Public assets (no account, e.g. a market's price sensor) are readable
by everyone and writable by admins only. FlexMeasures clients send the token in the
``Authorization`` header without ``Bearer``; both forms are accepted.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import bcrypt
from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from flex_pipelines.api.errors import ApiError, forbidden, unauthorized
from flex_pipelines.api.state import ApiState
from flex_pipelines.beliefs.audit import AuditActor, claim_actor
from flex_pipelines.beliefs.model import Asset, Sensor, User
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError, NotFoundError
from flex_pipelines.service.access import Caller, can_read, can_write, refusal

ROLES = ("admin", "account-admin", "user")
_MAX_PASSWORD_BYTES = 72  # bcrypt's limit
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=12))

token_header = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    description="An auth token from POST /api/requestAuthToken (with or without 'Bearer ').",
)


class PasswordError(FlexPipelinesError):
    """A password that cannot be hashed (empty or longer than bcrypt's 72 bytes)."""


def hash_password(password: str, rounds: int = 12) -> str:
    """A bcrypt hash of a password (72 bytes at most)."""
    raw = password.encode()
    if not raw:
        raise PasswordError("password is empty")
    if len(raw) > _MAX_PASSWORD_BYTES:
        raise PasswordError(f"password is {len(raw)} bytes long; bcrypt allows 72 at most")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=rounds)).decode()


def check_password(password: str, password_hash: str) -> bool:
    raw = password.encode()
    if not password_hash or not raw or len(raw) > _MAX_PASSWORD_BYTES:
        bcrypt.checkpw(b"x", _DUMMY_HASH)  # same time as a real check
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode())
    except ValueError:
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(store: BeliefStore, user_id: int, ttl_s: float) -> tuple[str, datetime]:
    """A new random token for a user, valid ``ttl_s`` seconds; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = datetime.fromtimestamp(now.timestamp() + ttl_s, tz=UTC)
    store.execute("DELETE FROM api_tokens WHERE expires_at < ?", [now])  # expired ones go
    store.execute(
        "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        [_token_hash(token), int(user_id), now, expires],
    )
    return token, expires


def get_user(store: BeliefStore, user_id: int) -> User:
    rows = store.query(
        "SELECT id, account_id, email, roles, active FROM users WHERE id = ?", [int(user_id)]
    )
    if rows.is_empty():
        raise NotFoundError(f"unknown user id {user_id}")
    r = rows.row(0)
    return User(int(r[0]), int(r[1]), r[2], tuple(x for x in r[3].split(",") if x), bool(r[4]))


def user_for_token(store: BeliefStore, token: str) -> tuple[User, float] | None:
    """The active user holding an unexpired token, with the expiry as a UNIX time."""
    rows = store.query(
        "SELECT user_id, expires_at FROM api_tokens WHERE token_hash = ?", [_token_hash(token)]
    )
    if rows.is_empty():
        return None
    user_id, expires = rows.row(0)
    if expires.timestamp() <= time.time():
        return None
    try:
        user = get_user(store, int(user_id))
    except NotFoundError:
        return None
    return (user, expires.timestamp()) if user.active else None


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request."""

    user: User

    @property
    def account_id(self) -> int:
        return self.user.account_id

    @property
    def is_admin(self) -> bool:
        return "admin" in self.user.roles

    @property
    def is_account_admin(self) -> bool:
        return "account-admin" in self.user.roles or self.is_admin

    @property
    def caller(self) -> Caller:
        """The service's view of this user (account and roles)."""
        return caller_of(self.user)


def caller_of(user: User) -> Caller:
    """A user as the service's :class:`~flex_pipelines.service.access.Caller`."""
    return Caller(user.account_id, frozenset(user.roles), f"user {user.email}")


def api_state(request: Request) -> ApiState:
    return request.app.state.api


def current_principal(
    request: Request, authorization: str | None = Security(token_header)
) -> Principal:
    """Resolve the token (cached briefly in memory) and apply the user's rate limit."""
    if not authorization:
        raise unauthorized()
    token = authorization.removeprefix("Bearer ").strip()
    state = api_state(request)
    now = time.time()
    cached = state.token_cache.get(token)
    if cached is not None and cached[1] > now:
        user = cached[0]
    else:
        with state.db() as store:
            found = user_for_token(store, token)
        if found is None:
            state.token_cache.pop(token, None)
            raise unauthorized(
                "Token is unknown or expired; request a new one at /api/requestAuthToken"
            )
        user, expires = found
        if len(state.token_cache) > 10_000:
            state.token_cache.clear()
        state.token_cache[token] = (user, min(expires, now + state.settings.token_cache_s))
    wait = state.limiter.take(("user", user.id))  # type: ignore[attr-defined]
    if wait:
        raise ApiError(
            429,
            "TOO_MANY_REQUESTS",
            f"rate limit of {state.settings.rate_per_s:g} requests/s for user {user.email} exceeded; retry in {wait:.1f} s",  # type: ignore[attr-defined]
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    claim_actor(AuditActor(user.id, user.email))  # type: ignore[attr-defined]
    return Principal(user)  # type: ignore[arg-type]


# --- login throttling and token revocation ----------------------------------------------
class LoginThrottle:
    """Failed logins per account e-mail: ``burst`` failures, then one more every ``refill_s``.

    Only failures spend the budget, so a user who logs in correctly is never locked out by
    their own successes; someone guessing one account's password from many addresses (or
    everyone behind one proxy) is slowed per account, not per address.
    """

    def __init__(self, burst: float = 10.0, refill_s: float = 60.0) -> None:
        self.burst = burst
        self.refill_s = refill_s
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        spent, last = self._state.get(key, (0.0, now))
        return max(0.0, spent - (now - last) / self.refill_s)

    def wait(self, key: str) -> float:
        """Seconds until a login for ``key`` may be tried (0.0: now)."""
        now = time.monotonic()
        with self._lock:
            spent = self._level(key, now)
        return 0.0 if spent + 1.0 <= self.burst else (spent + 1.0 - self.burst) * self.refill_s

    def failed(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._state) > 100_000:
                self._state.clear()
            self._state[key] = (self._level(key, now) + 1.0, now)


def login_throttle(state: ApiState) -> LoginThrottle:
    """The API process's per-e-mail throttle (created on first use)."""
    found = getattr(state, "email_throttle", None)
    if found is None:
        found = LoginThrottle()
        state.email_throttle = found  # type: ignore[attr-defined]
    return found


def _too_many(message: str, wait: float) -> ApiError:
    retry = {"Retry-After": str(max(1, round(wait)))}
    return ApiError(429, "TOO_MANY_REQUESTS", message, headers=retry)


def authenticate(state: ApiState, client: str, email: str, password: str) -> dict[str, object]:
    """A token for a correct e-mail and password; throttled per address and per account."""
    wait = state.login_limiter.take(("login", client))
    if wait:
        raise _too_many(f"too many login attempts from {client}; retry in {wait:.0f} s", wait)
    key = email.strip().lower()
    throttle = login_throttle(state)
    wait = throttle.wait(key)
    if wait:
        raise _too_many(f"too many failed logins for this account; retry in {wait:.0f} s", wait)
    with state.db() as store:
        try:
            user, pw_hash = store.get_user_auth(email)  # type: ignore[attr-defined]
        except NotFoundError:
            user, pw_hash = None, ""
    ok = check_password(password, pw_hash)  # bcrypt outside the store lock
    if user is None or not ok or not user.active:
        throttle.failed(key)
        why = "invalid email or password"
        raise ApiError(401, "UNAUTHORIZED", why, errors=[why])
    with state.db() as store:
        token, expires = issue_token(store, user.id, state.settings.token_ttl.total_seconds())
    return {"auth_token": token, "user_id": user.id, "expires_at": expires.isoformat()}


def revoke_tokens(store: BeliefStore, user_id: int) -> int:
    """Delete every token of a user; returns how many there were."""
    n = store.query("SELECT count(*) AS n FROM api_tokens WHERE user_id = ?", [int(user_id)])
    store.execute("DELETE FROM api_tokens WHERE user_id = ?", [int(user_id)])
    return int(n["n"][0])


def forget_cached_tokens(state: ApiState, user_id: int) -> None:
    """Drop a user's tokens from this process's cache (revocation takes effect at once)."""
    for token, (user, _) in list(state.token_cache.items()):
        if getattr(user, "id", None) == user_id:
            state.token_cache.pop(token, None)


# --- policy ------------------------------------------------------------------------------
def _owner_label(account_id: int | None) -> str:
    return "a public asset" if account_id is None else f"account {account_id}"


def check_read_asset(p: Principal, asset: Asset) -> None:
    if p.is_admin or asset.account_id is None or asset.account_id == p.account_id:
        return
    raise forbidden(
        f"asset {asset.id} belongs to another account; user {p.user.email} may not read it"
    )


def check_write_asset(p: Principal, asset: Asset, what: str = "change") -> None:
    """Structure changes (asset, sensor create/patch/delete): account-admins of the account."""
    if p.is_admin:
        return
    if asset.account_id is None:
        raise forbidden(f"asset {asset.id} is public; only admins may {what} it")
    if asset.account_id != p.account_id:
        raise forbidden(
            f"asset {asset.id} belongs to another account; user {p.user.email} may not {what} it"
        )
    if not p.is_account_admin:
        raise forbidden(
            f"user {p.user.email} needs the account-admin role to {what} asset {asset.id}"
        )


def sensor_asset(store: BeliefStore, sensor: Sensor) -> Asset | None:
    return None if sensor.asset_id is None else store.get_asset(sensor.asset_id)


def check_read_sensor(p: Principal, store: BeliefStore, sensor: Sensor) -> None:
    """Reading a sensor's data: the service's rule (:func:`flex_pipelines.service.access.can_read`)."""
    if not can_read(p.caller, store, sensor):
        raise forbidden(refusal(p.caller, store, sensor, "read"))


def check_write_sensor_data(p: Principal, store: BeliefStore, sensor: Sensor) -> None:
    """Posting data and triggering jobs: any user of the owning account; public: admins."""
    if not can_write(p.caller, store, sensor):
        raise forbidden(refusal(p.caller, store, sensor, "write"))


def check_account(p: Principal, account_id: int) -> None:
    if not p.is_admin and account_id != p.account_id:
        raise forbidden(f"account {account_id} is not the account of user {p.user.email}")
