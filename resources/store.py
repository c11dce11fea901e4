"""The belief store as a Dagster resource: opened per step, closed when the step ends.

DuckDB allows one writer process per file, so a step holds the file only while it runs; runs on
DuckDB use the in-process executor (the default job) and every asset that writes is in the
``belief_store`` pool. PostgreSQL serves concurrent production runs (celery workers).
"""

from __future__ import annotations

import os
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


class BeliefStoreResource(ConfigurableResource):
    """Where beliefs live: a DuckDB file path / ``duckdb:///…`` or a ``postgresql://`` URL."""

    url: str = Field(default_factory=default_db_url, description="store URL (FLEXPIPE_DB_URL)")

    @contextmanager
    def open(self) -> Iterator[BeliefStore]:
        """The store for one step (created if missing, closed afterwards)."""
        store = open_store(self.url)
        try:
            yield store
        finally:
            store.close()
