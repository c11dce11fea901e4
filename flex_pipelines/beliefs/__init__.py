"""Beliefs: the data model and the belief store (DuckDB and PostgreSQL behind one interface).

The model and store classes are imported on first use (PEP 562), so that importing
:func:`redact` or :func:`open_store`'s module does not import polars: the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flex_pipelines.beliefs.urls import redact
from flex_pipelines.errors import FlexPipelinesError

if TYPE_CHECKING:
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

_LAZY = {
    "BELIEF_KEY": "flex_pipelines.beliefs.model",
    "BELIEF_SCHEMA": "flex_pipelines.beliefs.model",
    "Account": "flex_pipelines.beliefs.model",
    "Asset": "flex_pipelines.beliefs.model",
    "KnowledgeHorizon": "flex_pipelines.beliefs.model",
    "SaveResult": "flex_pipelines.beliefs.model",
    "Sensor": "flex_pipelines.beliefs.model",
    "Source": "flex_pipelines.beliefs.model",
    "User": "flex_pipelines.beliefs.model",
    "BeliefStore": "flex_pipelines.beliefs.store",
    "Ingestion": "flex_pipelines.beliefs.store",
}


def __getattr__(name: str) -> Any:
    """The model and store names, imported when first used."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(
    url: str | Path, *, init: bool = True, read_only: bool = False, lock_wait_s: float = 0.0
) -> BeliefStore:
    """Open a belief store from a URL or path.

    - ``path/to/file.duckdb``, ``duckdb:///relative.duckdb``, ``duckdb:////abs.duckdb`` or
      ``:memory:`` → DuckDB;
    - ``postgresql://user@host:port/db`` (or ``postgres://``) → PostgreSQL.

    Parameters
    ----------
    url : str | Path
        The store's URL or DuckDB file path.
    init : bool
        Create the schema when missing (idempotent).
    read_only : bool
        Open a DuckDB file read-only (no schema changes): several readers may share a file.
    lock_wait_s : float
        Seconds to wait, retrying with back-off, while another process holds the DuckDB file;
        0 refuses at once (:class:`~flex_pipelines.beliefs.duckdb_store.StoreLockedError`).

    Returns
    -------
    BeliefStore
        The open store; close it (or use it as a context manager).
    """
    if lock_wait_s > 0:
        return _open_waiting(url, init, read_only, lock_wait_s)
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

        store = DuckDBStore(duckdb_path(text) or ":memory:", read_only=read_only)
    if init and not read_only:
        store.init_schema()
    return store


def duckdb_path(url: str | Path) -> str | None:
    """The file of a DuckDB store URL, as SQLAlchemy reads them.

    Parameters
    ----------
    url : str | Path
        ``duckdb:///relative``, ``duckdb:////absolute``, a path, ``:memory:`` or another URL.

    Returns
    -------
    str | None
        The file path, ``""`` for an in-memory store, None for a PostgreSQL URL.
    """
    text = str(url)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return None
    path = text.removeprefix("duckdb:///").removeprefix("duckdb://")
    return "" if path == ":memory:" else path


def _open_waiting(url: str | Path, init: bool, read_only: bool, wait_s: float) -> BeliefStore:
    """:func:`open_store`, retried (50 ms doubling up to 1 s) while the DuckDB file is locked."""
    import time

    from flex_pipelines.beliefs.duckdb_store import StoreLockedError

    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return open_store(url, init=init, read_only=read_only)
        except StoreLockedError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreLockedError(f"{exc} (waited {wait_s:g} s)") from exc
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)


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
    "duckdb_path",
    "open_store",
    "redact",
]
