"""The belief store as a Dagster resource: opened per step, closed when the step ends.

DuckDB allows one writer process per file, so a step holds the file only while it runs; runs on
DuckDB use the in-process executor (the default job) and every asset that writes is in the
``belief_store`` pool. PostgreSQL serves concurrent production runs (celery workers).

Another process may hold a DuckDB file for a while (an analyst's read-only session, the API, a
sensor tick): :meth:`BeliefStoreResource.open` retries with exponential back-off for
``lock_wait_s`` (``FLEXPIPE_LOCK_WAIT_S``, default 600 s) and logs how long it waited; when that
runs out the step fails and :data:`STORE_RETRY` runs it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dagster import Backoff, ConfigurableResource, RetryPolicy, get_dagster_logger
from pydantic import Field

from flex_pipelines.beliefs import BeliefStore, open_store
from flex_pipelines.settings import DEFAULTS, load_settings

DEFAULT_DB_URL = DEFAULTS["FLEXPIPE_DB_URL"]
STORE_POOL = "belief_store"
#: the retry policy of every step that opens the store (a lock held past ``lock_wait_s``, a
#: dropped database connection): two more attempts, 5 s and 10 s later
STORE_RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)
MAX_BACKOFF_S = 2.0


def default_db_url() -> str:
    """``FLEXPIPE_DB_URL``, else a DuckDB file under var/."""
    return load_settings().db_url


def default_lock_wait_s() -> int:
    """``FLEXPIPE_LOCK_WAIT_S``, else 600 s."""
    return load_settings().lock_wait_s


def is_lock_error(exc: BaseException) -> bool:
    """A DuckDB file locked by another process."""
    from flex_pipelines.beliefs.duckdb_store import StoreLockedError

    return isinstance(exc, StoreLockedError)


def open_with_retry(
    url: str, wait_s: float, on_wait: Callable[[str], None] | None = None
) -> BeliefStore:
    """Open the store, retrying with exponential back-off (50 ms doubling up to 2 s) while a
    DuckDB file is locked by another process, for at most ``wait_s`` seconds.

    ``on_wait`` is told once when the file is found locked and once when it opened after a wait.
    """
    t0 = time.monotonic()
    deadline = t0 + wait_s
    delay = 0.05
    waited = False
    while True:
        try:
            store = open_store(url)
        except Exception as exc:
            if not is_lock_error(exc) or time.monotonic() + delay > deadline:
                raise
            if not waited and on_wait is not None:
                on_wait(
                    f"belief store locked by another process; waiting up to {wait_s:.0f} s: {exc}"
                )
            waited = True
            time.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
            continue
        if waited and on_wait is not None:
            on_wait(f"belief store opened after waiting {time.monotonic() - t0:.1f} s for a lock")
        return store


class BeliefStoreResource(ConfigurableResource):
    """Where beliefs live: a DuckDB file path / ``duckdb:///…`` or a ``postgresql://`` URL."""

    url: str = Field(default_factory=default_db_url, description="store URL (FLEXPIPE_DB_URL)")
    lock_wait_s: int = Field(
        default_factory=default_lock_wait_s,
        description="wait this long for a DuckDB file another process holds (FLEXPIPE_LOCK_WAIT_S)",
    )

    @contextmanager
    def open(self, lock_wait_s: float | None = None) -> Iterator[BeliefStore]:
        """The store for one step (created if missing, closed afterwards).

        A DuckDB file held by another process (an analyst's session, a sensor tick, another
        run) is retried with back-off until ``lock_wait_s`` has passed; the wait is logged.
        """
        wait = self.lock_wait_s if lock_wait_s is None else lock_wait_s
        store = open_with_retry(self.url, wait, get_dagster_logger().warning)
        try:
            yield store
        finally:
            store.close()
