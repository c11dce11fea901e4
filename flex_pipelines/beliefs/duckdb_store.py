"""DuckDB backend: one file, zero set-up, columnar scans for tens of millions of beliefs.

DuckDB allows one writing process, or several reading ones, per file; the store holds its
connection until ``close()``. Opening tells a lock held by another process
(:class:`StoreLockedError`, which :func:`~flex_pipelines.beliefs.open_store` can wait out) from a
damaged or foreign file (:class:`StoreDamagedError`, also when a damaged block is first read).
Beliefs have no index: they are kept in insertion order and DuckDB's per-row-group min/max
(zone maps) prune scans by sensor and time; idempotency is an anti-join on the key.
"""

from __future__ import annotations

import re
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
    """The DuckDB file is held by another process (DuckDB's file lock)."""


class StoreDamagedError(FlexPipelinesError):
    """The file is damaged (truncated, corrupted) or is not a DuckDB database at all."""


_LOCKED = "Could not set lock on file"
#: DuckDB's words for a file that is not (or no longer) a readable database
_DAMAGED = (
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "Corrupt database file",
    "does not match stored checksum",
    "database file was truncated",
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error says the file is damaged or not a database.

    Parameters
    ----------
    exc : BaseException
        An error raised by DuckDB.

    Returns
    -------
    bool
        True for truncated, corrupted or foreign files; False for anything else.
    """
    return isinstance(exc, duckdb.Error) and any(m in str(exc) for m in _DAMAGED)


def damaged_error(path: str, exc: BaseException) -> StoreDamagedError:
    """The error for a damaged file.

    Parameters
    ----------
    path : str
        The DuckDB file.
    exc : BaseException
        What DuckDB raised.

    Returns
    -------
    StoreDamagedError
        Its message names the file and the first line of DuckDB's finding.
    """
    return StoreDamagedError(
        f"DuckDB file {path} is damaged or not a DuckDB store ({_first_line(exc)}); restore it "
        "from a backup, or give another file"
    )


def _open_error(path: str, exc: duckdb.Error, read_only: bool) -> FlexPipelinesError:
    """Tell a real lock conflict from a damaged file and from anything else."""
    text = str(exc)
    if _LOCKED in text:
        m = re.search(r"held in (\S+) \(PID (\d+)\)", text)
        who = f" (process {m.group(2)}, {Path(m.group(1)).name})" if m else ""
        mode = "reading" if read_only else "writing"
        return StoreLockedError(
            f"DuckDB file {path} is in use by another process{who}; DuckDB allows one writer "
            f"or several readers per file, so it cannot be opened for {mode} now. Retry when "
            "that process is done, wait for it (--wait 30s), or use PostgreSQL for concurrent use"
        )
    if is_damage(exc):
        return damaged_error(path, exc)
    return FlexPipelinesError(f"cannot open DuckDB file {path}: {_first_line(exc)}")


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
        self.read_only = read_only
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise _open_error(self.path, exc, read_only) from exc
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
        try:
            cur = self._con.execute(sql, list(params) if params else None)
            try:
                return cur.fetchall()
            except duckdb.InvalidInputException:
                return []
        except duckdb.Error as exc:
            if is_damage(exc):  # a damaged block is found when it is read
                raise damaged_error(self.path, exc) from exc
            raise

    def _fetch_frame(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        try:
            return self._con.sql(sql, params=list(params) if params else None).pl()
        except duckdb.Error as exc:
            if is_damage(exc):
                raise damaged_error(self.path, exc) from exc
            raise

    def _stage(self, frame: pl.DataFrame) -> None:
        self._con.register("_incoming", frame.to_arrow())

    def _unstage(self) -> None:
        self._con.unregister("_incoming")

    def _ddl(self) -> list[str]:
        return ddl(DUCKDB_TYPES)
