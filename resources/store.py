"""The belief store as a Dagster resource: opened per step, closed when the step ends.

DuckDB allows one writer process per file, so a step holds the file only while it runs; runs on
DuckDB use the in-process executor (the default job) and every asset that writes is in the
``belief_store`` pool. PostgreSQL serves concurrent production runs (celery workers).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource
from pydantic import Field

from flex_pipelines.beliefs import BeliefStore, open_store

DEFAULT_DB_URL = "var/flexpipe.duckdb"
STORE_POOL = "belief_store"


def default_db_url() -> str:
    """``FLEXPIPE_DB_URL``, else a DuckDB file under var/."""
    return os.environ.get("FLEXPIPE_DB_URL") or DEFAULT_DB_URL


def is_lock_error(exc: BaseException) -> bool:
    """A DuckDB file locked by another process."""
    from flex_pipelines.beliefs.duckdb_store import StoreLockedError

    return isinstance(exc, StoreLockedError)


def open_with_retry(url: str, wait_s: float) -> BeliefStore:
    """Open the store, retrying while a DuckDB file is locked by another process."""
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return open_store(url)
        except Exception as exc:
            if not is_lock_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


class BeliefStoreResource(ConfigurableResource):
    """Where beliefs live: a DuckDB file path / ``duckdb:///…`` or a ``postgresql://`` URL."""

    url: str = Field(default_factory=default_db_url, description="store URL (FLEXPIPE_DB_URL)")
    lock_wait_s: float = Field(default=60.0, description="wait this long for a locked DuckDB file")

    @contextmanager
    def open(self, lock_wait_s: float | None = None) -> Iterator[BeliefStore]:
        """The store for one step (created if missing, closed afterwards).

        A DuckDB file held by another process (a sensor tick, another run) is retried until
        ``lock_wait_s`` has passed.
        """
        store = open_with_retry(self.url, self.lock_wait_s if lock_wait_s is None else lock_wait_s)
        try:
            yield store
        finally:
            store.close()
