"""The belief store interface: one API, two backends (DuckDB and PostgreSQL).

Open a store with :func:`open_store` from a URL (a DuckDB file path, ``duckdb:///path`` or a
``postgresql://`` URL). Everything goes in and comes out as polars frames with the columns of
:data:`~flex_pipelines.beliefs.model.BELIEF_SCHEMA`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.audit import Annotation, AuditEvent
from flex_pipelines.beliefs.model import (
    Account,
    Asset,
    KnowledgeHorizon,
    SaveResult,
    Sensor,
    Source,
    User,
)


@dataclass(frozen=True)
class Ingestion:
    """One save that added beliefs: the watermark sensors and schedulers read."""

    id: int
    sensor_id: int
    n_new: int
    first_event_start: datetime
    last_event_end: datetime
    created_at: datetime
    source_types: tuple[str, ...] = ()  # types of the sources of the new beliefs, sorted


class BeliefStore(ABC):
    """The contract both backends fulfil (see ``tests/unit/test_store_contract.py``)."""

    url: str
    dialect: str  # "duckdb" or "postgresql"

    # --- lifecycle -----------------------------------------------------------------------
    @abstractmethod
    def init_schema(self) -> None:
        """Create tables and views if missing (idempotent)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> BeliefStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside happen together or not at all."""

    # --- generic entities ----------------------------------------------------------------
    @abstractmethod
    def add_account(self, name: str) -> Account: ...

    @abstractmethod
    def get_account(self, id_or_name: int | str) -> Account: ...

    @abstractmethod
    def list_accounts(self) -> list[Account]: ...

    @abstractmethod
    def add_user(
        self, account_id: int, email: str, password_hash: str = "", roles: Sequence[str] = ()
    ) -> User: ...

    @abstractmethod
    def list_users(self, account_id: int | None = None) -> list[User]: ...

    @abstractmethod
    def add_asset(
        self,
        name: str,
        type: str,
        account_id: int | None,
        parent_id: int | None = None,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        timezone: str = "UTC",
        flex_model: dict[str, Any] | None = None,
        flex_context: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Asset: ...

    @abstractmethod
    def get_asset(self, asset_id: int) -> Asset: ...

    @abstractmethod
    def list_assets(
        self, account_id: int | None = None, parent_id: int | None = None
    ) -> list[Asset]: ...

    @abstractmethod
    def update_asset(self, asset_id: int, **fields: Any) -> Asset:
        """Change name, type, parent_id, flex_model, flex_context, attributes…"""

    @abstractmethod
    def delete_asset(self, asset_id: int) -> None:
        """Delete an asset with its sensors and their beliefs (children too)."""

    @abstractmethod
    def add_sensor(
        self,
        name: str,
        unit: str,
        event_resolution: timedelta,
        *,
        timezone: str = "UTC",
        asset_id: int | None = None,
        knowledge_horizon: KnowledgeHorizon | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Sensor: ...

    @abstractmethod
    def get_sensor(self, sensor_id: int) -> Sensor: ...

    @abstractmethod
    def list_sensors(self, asset_id: int | None = None) -> list[Sensor]: ...

    @abstractmethod
    def update_sensor(self, sensor_id: int, **fields: Any) -> Sensor: ...

    @abstractmethod
    def delete_sensor(self, sensor_id: int) -> None: ...

    @abstractmethod
    def get_or_create_source(
        self, name: str, type: str = "user", model: str | None = None, version: str | None = None
    ) -> Source: ...

    @abstractmethod
    def get_source(self, id_or_name: int | str) -> Source: ...

    @abstractmethod
    def list_sources(self, types: Sequence[str] | None = None) -> list[Source]: ...

    # --- beliefs -------------------------------------------------------------------------
    @abstractmethod
    def save_beliefs(
        self, beliefs: pl.DataFrame, *, overwrite: bool = False, changed_only: bool = True
    ) -> SaveResult:
        """Save a belief frame atomically (all or nothing) and idempotently.

        Parameters
        ----------
        beliefs : pl.DataFrame
            Beliefs with the columns of ``BELIEF_SCHEMA`` (``cumulative_probability`` defaults
            to 0.5).
        overwrite : bool
            A belief whose key (sensor, event start, belief time, source, probability) is stored
            with a different value is an error naming the sensor, event and belief time;
            ``overwrite=True`` replaces the stored value instead.
        changed_only : bool
            Like FlexMeasures' ``save_changed_beliefs_only`` (its default too): a belief that
            repeats the value of its source's most recent belief about the same event (same
            sensor, event start and cumulative probability; the latest belief time before its
            own, stored or earlier in the frame) is not stored again. Ex-ante beliefs (made
            before the knowledge time) and ex-post beliefs are compared separately, so the first
            measurement is stored even when it equals the last forecast; a probabilistic belief
            is stored whole when any of its probabilities changed. ``False`` stores every
            belief: for forecasters, whose beliefs at each horizon are scored and read by
            horizon (FlexMeasures' forecasters save that way too). Re-saving stored beliefs
            changes nothing either way.

        Returns
        -------
        SaveResult
            ``n_new`` beliefs stored; ``n_existing`` = the rest (already stored, or unchanged).
            Only new beliefs advance the ingestion watermark (one ingestion per sensor); a save
            that stores nothing logs no ingestion and returns ``ingestion_id=None``.
        """

    @abstractmethod
    def search_beliefs(
        self,
        sensor_ids: int | Sequence[int],
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        as_of: datetime | None = None,
        source_ids: Sequence[int] | None = None,
        source_types: Sequence[str] | None = None,
        exclude_source_types: Sequence[str] | None = None,
        horizon_min: timedelta | None = None,
        horizon_max: timedelta | None = None,
        most_recent: bool = False,
        one_per_event: bool = False,
        resolution: timedelta | None = None,
    ) -> pl.DataFrame:
        """Beliefs about events starting in [start, end).

        - ``as_of``: only beliefs with ``belief_time <= as_of`` (what was known then);
        - ``most_recent``: per event, source and probability, only the latest belief;
        - ``one_per_event``: one deterministic value per event (implies ``most_recent``): the
          latest belief over all sources; at equal belief times data (measurements, published
          prices) comes before schedules and reports, and those before forecasts; then the
          median (or the probability closest to 0.5); then the later ingestion (a correction
          saved later wins); then the higher source id;
        - ``resolution``: resample to a coarser resolution (means for power, price and other
          intensive units; sums for energy); needs ``one_per_event``.
        """

    @abstractmethod
    def delete_beliefs(
        self,
        sensor_ids: int | Sequence[int],
        start: datetime | None = None,
        end: datetime | None = None,
        source_ids: Sequence[int] | None = None,
    ) -> int:
        """Delete beliefs; returns how many were deleted."""

    @abstractmethod
    def count_beliefs(self, sensor_ids: int | Sequence[int] | None = None) -> int: ...

    @abstractmethod
    def ingestion_watermark(self) -> int:
        """The id of the latest ingestion (0 when none)."""

    @abstractmethod
    def ingestions_since(self, watermark: int, limit: int = 10_000) -> list[Ingestion]:
        """Ingestions after a watermark, oldest first (for sensors with a cursor)."""

    # --- SQL for analysts and reporters ---------------------------------------------------
    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run read-only SQL and return a frame (``?`` placeholders on both backends)."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement (DDL, views) inside the current transaction if one is open."""

    # --- administration, audit log, annotations (flex_pipelines.beliefs.sql_admin) -----------
    @abstractmethod
    def get_user(self, id_or_email: int | str) -> User: ...

    @abstractmethod
    def update_account(self, account_id: int, **fields: Any) -> Account:
        """Change an account's name (recorded in the audit log)."""

    @abstractmethod
    def delete_account(self, account_id: int) -> dict[str, int]:
        """Delete an account with its users, assets, sensors, beliefs and annotations."""

    @abstractmethod
    def update_user(self, user_id: int, **fields: Any) -> User:
        """Change email, roles, active or password_hash (recorded; the hash never shown)."""

    @abstractmethod
    def delete_user(self, user_id: int) -> None: ...

    @abstractmethod
    def record_audit(
        self,
        event: str,
        *,
        account_id: int | None = None,
        user_id: int | None = None,
        asset_id: int | None = None,
        sensor_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record a change under the current actor (``flex_pipelines.beliefs.audit``).

        The entity methods (add/update/delete of accounts, users, assets and sensors) record
        their changes themselves.
        """

    @abstractmethod
    def audit_log(
        self,
        *,
        account_id: int | None = None,
        user_id: int | None = None,
        asset_id: int | None = None,
        sensor_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Recorded changes, newest first, filtered by what they affected."""

    @abstractmethod
    def add_annotation(
        self,
        content: str,
        start: datetime,
        end: datetime,
        *,
        type: str = "label",
        belief_time: datetime | None = None,
        source_id: int | None = None,
        account_id: int | None = None,
        asset_id: int | None = None,
        sensor_id: int | None = None,
    ) -> tuple[Annotation, bool]:
        """Annotate one account, asset or sensor; returns the annotation and whether it is new."""

    @abstractmethod
    def get_annotation(self, annotation_id: int) -> Annotation: ...

    @abstractmethod
    def list_annotations(
        self,
        *,
        account_id: int | None = None,
        asset_ids: Sequence[int] | None = None,
        sensor_ids: Sequence[int] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
    ) -> list[Annotation]: ...

    @abstractmethod
    def delete_annotation(self, annotation_id: int) -> None: ...
