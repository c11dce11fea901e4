"""Dumping a whole belief store to one file and restoring it (``flexpipe db dump|restore``).

- **DuckDB**: the dump is itself a DuckDB file, written by ``COPY FROM DATABASE`` (every table,
  view and sequence, sequences at their current values) while the dump holds the store's
  writer lock, so no other process writes meanwhile; ``flexpipe show … --db dump.duckdb`` can
  read it as it is. Restoring attaches it read-only and replaces the target's tables, views
  and sequences in one transaction. A dump restores with the DuckDB version that wrote it or a
  newer one (DuckDB reads older storage versions).
- **PostgreSQL**: ``pg_dump --format=custom`` of the URL's schema (``?schema=…``, else
  ``public``), restored into the target URL's schema, also when that is named differently:
  :mod:`flex_pipelines.beliefs.pg_backup`.

Either way the file is written next to its final name and renamed when complete (a failed dump
leaves no partial file), and a restore refuses a target store that holds data unless forced;
forced, the old content is replaced in the same transaction that loads the new one, so a failed
restore leaves the target as it was.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from flex_pipelines.beliefs import duckdb_path, open_store, redact
from flex_pipelines.beliefs.schema import DUCKDB_TYPES, ddl
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError

__all__ = [
    "BackupReport",
    "RestoreRefused",
    "dump_kind",
    "dump_store",
    "restore_store",
    "store_tables",
    "table_counts",
]

#: DuckDB files carry this at byte 8; pg_dump's custom format starts with PGDMP
_DUCKDB_MAGIC = b"DUCK"
_PG_MAGIC = b"PGDMP"
_ALIAS = "flexpipe_backup_file"  # the dump file's name while attached to the store


class RestoreRefused(FlexPipelinesError):
    """The target store holds data and the restore was not forced."""


@dataclass(frozen=True)
class BackupReport:
    """What a dump or restore did: the backend, the file and the rows of every table."""

    backend: str  # "duckdb" or "postgresql"
    path: str
    tables: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"backend": self.backend, "file": self.path, "tables": self.tables}


def core_tables() -> list[str]:
    """The belief store's own tables (those :mod:`~flex_pipelines.beliefs.schema` creates)."""
    names = (re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", s) for s in ddl(DUCKDB_TYPES))
    return [m.group(1) for m in names if m]


def store_tables(store: BeliefStore) -> list[str]:
    """Every base table of the store (its own, the API's, the forecasters'…), sorted.

    Parameters
    ----------
    store : BeliefStore
        An open store; PostgreSQL lists the tables of the URL's schema.

    Returns
    -------
    list[str]
        Table names.
    """
    if store.dialect == "duckdb":
        sql = (
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
        )
    else:
        sql = (
            "SELECT table_name::text AS table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        )
    return [str(n) for n in store.query(sql)["table_name"].to_list()]


def table_counts(store: BeliefStore) -> dict[str, int]:
    """The number of rows of every base table of the store (:func:`store_tables`)."""
    return {
        t: int(store.query(f'SELECT count(*) AS n FROM "{t}"')["n"][0]) for t in store_tables(store)
    }


def refuse_unless_empty(store: BeliefStore, force: bool, where: str) -> None:
    """Raise :class:`RestoreRefused` when one of the store's own tables holds rows (tables
    of other modules may hold seeds, e.g. the API's asset types, and are replaced too)."""
    if force:
        return
    counts = table_counts(store)
    full = {t: n for t, n in counts.items() if n and t in core_tables()}
    if full:
        rows = ", ".join(f"{t} ({n})" for t, n in sorted(full.items()))
        raise RestoreRefused(
            f"{where} is not empty: it holds rows in {rows}; restore into an empty store, or "
            "give --force to replace everything in it"
        )


def dump_kind(path: str | Path) -> str | None:
    """``"duckdb"`` or ``"postgresql"`` for a dump file (by its first bytes), else None."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(_PG_MAGIC):
        return "postgresql"
    if head[8:12] == _DUCKDB_MAGIC:
        return "duckdb"
    return None


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def remove_files(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _is_store_file(url: str) -> Path | None:
    """The DuckDB file of ``url`` (None for PostgreSQL); refuses in-memory stores."""
    path = duckdb_path(url)
    if path is None:
        return None
    if not path:
        raise FlexPipelinesError("an in-memory DuckDB store cannot be dumped or restored")
    return Path(path)


def dump_store(
    url: str, path: str | Path, *, overwrite: bool = False, lock_wait_s: float = 0.0
) -> BackupReport:
    """Dump the whole store at ``url`` to the file ``path``.

    Parameters
    ----------
    url : str
        The store: a DuckDB file (which must exist) or a ``postgresql://`` URL.
    path : str | Path
        The dump file; an existing one is refused unless ``overwrite``.
    overwrite : bool
        Replace an existing file (only once the new dump is complete).
    lock_wait_s : float
        Seconds to wait while another process holds the DuckDB file.

    Returns
    -------
    BackupReport
        The rows of every table as dumped.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FlexPipelinesError(f"{target} exists: give another file, or --force to replace it")
    if target.is_dir():
        raise FlexPipelinesError(f"{target} is a directory, not a dump file")
    if not target.parent.is_dir():
        raise FlexPipelinesError(f"directory {target.parent} does not exist")
    db_file = _is_store_file(url)
    if db_file is not None:
        if not db_file.is_file():
            raise FlexPipelinesError(f"no DuckDB store at {db_file}")
        if db_file.resolve() == target.resolve():
            raise FlexPipelinesError(f"{target} is the store itself: dump to another file")
    with open_store(url, init=False, lock_wait_s=lock_wait_s) as store:
        if "beliefs" not in store_tables(store):
            raise FlexPipelinesError(f"{redact(url)} holds no belief store (no beliefs table)")
        if store.dialect == "duckdb":
            tables = _dump_duckdb(store, target)
        else:
            from flex_pipelines.beliefs.pg_backup import dump_postgres

            tables = dump_postgres(store, target)
    return BackupReport(store.dialect, str(target), tables)


def _dump_duckdb(store: BeliefStore, target: Path) -> dict[str, int]:
    tmp = partial_path(target)
    wal = tmp.with_name(tmp.name + ".wal")
    remove_files(tmp, wal)
    try:
        tables = table_counts(store)  # under the writer lock: what COPY FROM DATABASE copies
        (db,) = store.query("SELECT current_database() AS db")["db"].to_list()
        store.execute(f"ATTACH {_sql_text(str(tmp))} AS {_ALIAS}")
        try:
            store.execute(f'COPY FROM DATABASE "{db}" TO {_ALIAS}')
        finally:
            store.execute(f"DETACH {_ALIAS}")
        os.replace(tmp, target)
    finally:
        remove_files(tmp, wal)
    return tables


def restore_store(
    url: str, path: str | Path, *, force: bool = False, lock_wait_s: float = 0.0
) -> BackupReport:
    """Restore a dump made by :func:`dump_store` into the store at ``url``.

    Parameters
    ----------
    url : str
        The target store, of the dump's backend (created when it does not exist).
    path : str | Path
        The dump file.
    force : bool
        Replace a store that holds data (in the restoring transaction).
    lock_wait_s : float
        Seconds to wait while another process holds the DuckDB file.

    Returns
    -------
    BackupReport
        The rows of every table of the restored store.

    Raises
    ------
    RestoreRefused
        The target holds data and ``force`` is False.
    """
    source = Path(path)
    if not source.is_file():
        raise FlexPipelinesError(f"no dump file {source}")
    kind = dump_kind(source)
    db_file = _is_store_file(url)
    backend = "duckdb" if db_file is not None else "postgresql"
    if kind is None:
        raise FlexPipelinesError(
            f"{source} is neither a DuckDB dump nor a pg_dump custom-format archive"
        )
    if kind != backend:
        raise FlexPipelinesError(
            f"{source} is a {kind} dump; restore it into a "
            f"{'postgresql:// URL' if kind == 'postgresql' else 'DuckDB file'}, not into "
            f"{redact(url)}"
        )
    if db_file is not None and db_file.is_file() and db_file.resolve() == source.resolve():
        raise FlexPipelinesError(f"{source} is the target store itself")
    with open_store(url, init=False, lock_wait_s=lock_wait_s) as store:
        refuse_unless_empty(store, force, redact(url))
        if store.dialect == "duckdb":
            _restore_duckdb(store, source)
            return BackupReport(backend, str(source), table_counts(store))
        from flex_pipelines.beliefs.pg_backup import restore_postgres

        restore_postgres(store, source)
    with open_store(url) as store:  # views and tables a newer version adds
        return BackupReport(backend, str(source), table_counts(store))


def _restore_duckdb(store: BeliefStore, source: Path) -> None:
    store.execute(f"ATTACH {_sql_text(str(source))} AS {_ALIAS} (READ_ONLY)")
    try:
        found = store.query(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name = 'main'",
            [_ALIAS],
        )["table_name"].to_list()
        if "beliefs" not in found:
            raise FlexPipelinesError(f"{source} is a DuckDB file but not a belief store dump")
        (db,) = store.query("SELECT current_database() AS db")["db"].to_list()
        with store.transaction():
            _drop_duckdb_objects(store, db)
            store.execute(f'COPY FROM DATABASE {_ALIAS} TO "{db}"')
            store.init_schema()  # views and tables a newer version adds
    finally:
        store.execute(f"DETACH {_ALIAS}")


def _drop_duckdb_objects(store: BeliefStore, db: str) -> None:
    """Drop the views, tables and sequences of the store: views first (they use tables),
    tables that reference others before those (foreign keys), sequences last (defaults)."""
    where = "WHERE database_name = ? AND schema_name = 'main' AND NOT temporary"
    views = store.query(f"SELECT view_name AS n FROM duckdb_views() {where} AND NOT internal", [db])
    tables = store.query(f"SELECT table_name AS n FROM duckdb_tables() {where}", [db])
    sequences = store.query(f"SELECT sequence_name AS n FROM duckdb_sequences() {where}", [db])
    refs = store.query(
        "SELECT table_name AS t, referenced_table AS r FROM duckdb_constraints() "
        "WHERE database_name = ? AND constraint_type = 'FOREIGN KEY'",
        [db],
    ).rows()
    for name in views["n"].to_list():
        store.execute(f'DROP VIEW "{db}".main."{name}"')
    left = set(tables["n"].to_list())
    while left:
        referenced = {r for t, r in refs if t in left and r != t}
        free = sorted(left - referenced) or sorted(left)  # a cycle: let DuckDB say so
        for name in free:
            store.execute(f'DROP TABLE "{db}".main."{name}"')
        left -= set(free)
    for name in sequences["n"].to_list():
        store.execute(f'DROP SEQUENCE "{db}".main."{name}"')
