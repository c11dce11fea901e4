"""Who changes the store: the audit log's records, its actor, and annotations.

Every change to accounts, users, assets, sensors (and with them flex-models, flex-contexts,
report and forecast configuration) is recorded by the store itself, in the same transaction,
with the *actor* of the current context: :func:`acting_as` sets one (the CLI names the local
operator; the API names the user of the request), and without one the change is recorded as
:data:`LOCAL_ACTOR` (the pipeline and library code act for the store's owner).

The API runs request handlers on worker threads whose context is a copy of the request's, so
it opens a :class:`ActorSlot` per request (:func:`open_request_slot`) that the authentication
step fills in (:func:`claim_actor`): the copy shares the slot, so the handler sees the user.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ANNOTATION_TYPES",
    "LOCAL_ACTOR",
    "ActorSlot",
    "Annotation",
    "AuditActor",
    "AuditEvent",
    "acting_as",
    "claim_actor",
    "current_actor",
    "open_request_slot",
]

#: FlexMeasures' annotation types
ANNOTATION_TYPES = ("alert", "holiday", "label", "feedback", "warning", "error")


@dataclass(frozen=True)
class AuditActor:
    """Who made a change: a user (id and e-mail) or a local operator (no user id)."""

    user_id: int | None
    name: str


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


#: changes made without an actor: the pipeline and library code, for the store's owner
LOCAL_ACTOR = AuditActor(None, "local admin")


def cli_actor() -> AuditActor:
    """The operator running the CLI (named by the OS user)."""
    return AuditActor(None, f"local admin (CLI, os user {_os_user()})")


@dataclass
class ActorSlot:
    """A request's actor, filled in once the request is authenticated."""

    actor: AuditActor | None = None


_actor: ContextVar[AuditActor | ActorSlot | None] = ContextVar("audit_actor", default=None)


def current_actor() -> AuditActor:
    """The actor changes in this context are recorded under."""
    value = _actor.get()
    if isinstance(value, ActorSlot):
        value = value.actor
    return value or LOCAL_ACTOR


@contextmanager
def acting_as(actor: AuditActor) -> Iterator[None]:
    """Record the changes made inside under ``actor``."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def open_request_slot() -> tuple[ActorSlot, Token]:
    """A fresh slot for one request (reset the returned token when the request is done)."""
    slot = ActorSlot()
    return slot, _actor.set(slot)


def close_request_slot(token: Token) -> None:
    _actor.reset(token)


def claim_actor(actor: AuditActor) -> None:
    """Name the actor of the current request; no effect outside a request's slot."""
    value = _actor.get()
    if isinstance(value, ActorSlot):
        value.actor = actor


@dataclass(frozen=True)
class AuditEvent:
    """One recorded change (FlexMeasures' AuditLog, plus the sensor and structured details)."""

    id: int
    event_datetime: datetime
    event: str
    active_user_id: int | None
    active_user_name: str
    affected_account_id: int | None = None
    affected_user_id: int | None = None
    affected_asset_id: int | None = None
    affected_sensor_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_datetime": self.event_datetime.isoformat(),
            "event": self.event,
            "active_user_id": self.active_user_id,
            "active_user_name": self.active_user_name,
            "affected_account_id": self.affected_account_id,
            "affected_user_id": self.affected_user_id,
            "affected_asset_id": self.affected_asset_id,
            "affected_sensor_id": self.affected_sensor_id,
            "details": self.details,
        }


@dataclass(frozen=True)
class Annotation:
    """A labelled period (holiday, outage, price alert…) on an account, an asset or a sensor."""

    id: int
    content: str
    start: datetime
    end: datetime
    type: str = "label"
    belief_time: datetime | None = None
    source_id: int | None = None
    account_id: int | None = None
    asset_id: int | None = None
    sensor_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content": self.content,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "type": self.type,
            "belief_time": None if self.belief_time is None else self.belief_time.isoformat(),
            "source_id": self.source_id,
            "account_id": self.account_id,
            "asset_id": self.asset_id,
            "sensor_id": self.sensor_id,
        }
