"""DuckDB backend: one file, zero set-up, columnar scans for tens of millions of beliefs.

DuckDB allows one writing process per file; the store holds its connection until ``close()``.
Beliefs have no index: they are kept in insertion order and DuckDB's per-row-group min/max
(zone maps) prune scans by sensor and time; idempotency is an anti-join on the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from flex_pipelines.beliefs.schema import DUCKDB_TYPES, ddl
from flex_pipelines.beliefs.sql_store import SQLBeliefStore
from flex_pipelines.errors import FlexPipelinesError


class StoreLockedError(FlexPipelinesError):
    """The DuckDB file is open for writing in another process."""


class DuckDBStore(SQLBeliefStore):
    dialect = "duckdb"

    def __init__(self, path: str | Path, *, read_only: bool = False, threads: int | None = None):
        super().__init__()
        self.path = str(path)
        self.url = (
            f"duckdb:///{Path(self.path).resolve()}"
            if self.path != ":memory:"
            else "duckdb:///:memory:"
        )
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreLockedError(
                f"cannot open DuckDB file {self.path}: {exc}. Another process holds it; "
                "DuckDB allows one writer per file (use PostgreSQL for concurrent use)"
            ) from exc
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET checkpoint_threshold = '256MB'")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        self._depth = 0

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None  # type: ignore[assignment]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._con.execute("ROLLBACK")
            raise
        self._depth = 0
        self._con.execute("COMMIT")

    def _run(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        cur = self._con.execute(sql, list(params) if params else None)
        try:
            return cur.fetchall()
        except duckdb.InvalidInputException:
            return []

    def _fetch_frame(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        return self._con.sql(sql, params=list(params) if params else None).pl()

    def _stage(self, frame: pl.DataFrame) -> None:
        self._con.register("_incoming", frame.to_arrow())

    def _unstage(self) -> None:
        self._con.unregister("_incoming")

    def _ddl(self) -> list[str]:
        return ddl(DUCKDB_TYPES)
