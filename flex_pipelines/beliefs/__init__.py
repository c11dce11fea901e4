"""Beliefs: the data model and the belief store (DuckDB and PostgreSQL behind one interface)."""

from __future__ import annotations

from pathlib import Path

from flex_pipelines.beliefs.model import (
    BELIEF_KEY,
    BELIEF_SCHEMA,
    Account,
    Asset,
    KnowledgeHorizon,
    SaveResult,
    Sensor,
    Source,
    User,
)
from flex_pipelines.beliefs.store import BeliefStore, Ingestion
from flex_pipelines.beliefs.urls import redact
from flex_pipelines.errors import FlexPipelinesError


def open_store(url: str | Path, *, init: bool = True, read_only: bool = False) -> BeliefStore:
    """Open a belief store from a URL or path.

    - ``path/to/file.duckdb``, ``duckdb:///relative.duckdb``, ``duckdb:////abs.duckdb`` or
      ``:memory:`` → DuckDB;
    - ``postgresql://user@host:port/db`` (or ``postgres://``) → PostgreSQL.
    ``init`` creates the schema when missing (idempotent).
    """
    text = str(url)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from flex_pipelines.beliefs.postgres_store import PostgresStore

        store: BeliefStore = PostgresStore(text)
    elif "://" in text and not text.startswith("duckdb://"):
        raise FlexPipelinesError(
            f"store URL {redact(text)!r} is neither a DuckDB path (duckdb:///file) nor "
            "postgresql://"
        )
    else:
        from flex_pipelines.beliefs.duckdb_store import DuckDBStore

        # like SQLAlchemy: duckdb:///relative/file, duckdb:////absolute/file
        path = text.removeprefix("duckdb:///").removeprefix("duckdb://")
        store = DuckDBStore(path or ":memory:", read_only=read_only)
    if init and not read_only:
        store.init_schema()
    return store


__all__ = [
    "BELIEF_KEY",
    "BELIEF_SCHEMA",
    "Account",
    "Asset",
    "BeliefStore",
    "Ingestion",
    "KnowledgeHorizon",
    "SaveResult",
    "Sensor",
    "Source",
    "User",
    "open_store",
    "redact",
]
