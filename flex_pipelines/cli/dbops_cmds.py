"""``flexpipe db dump FILE`` and ``flexpipe db restore FILE`` for both backends (issue 17).

DuckDB dumps are DuckDB files made under the store's lock; PostgreSQL dumps are pg_dump's
custom format of the URL's schema, restored into the target URL's schema (see
:mod:`flex_pipelines.beliefs.backup`). A restore refuses a store that holds data unless
``--force``. URLs are printed without their passwords.
"""

from __future__ import annotations

from pathlib import Path

import typer

from flex_pipelines.beliefs import redact
from flex_pipelines.beliefs.backup import BackupReport, dump_store, restore_store
from flex_pipelines.cli.common import (
    DbOption,
    FormatOption,
    WaitOption,
    console,
    default_db,
    dumps,
    emit_records,
    require_format,
)
from flex_pipelines.time import parse_timedelta

DB_DEFAULT = default_db()


def _wait_s(wait: str | None) -> float:
    return parse_timedelta(wait).total_seconds() if wait else 0.0


def _show(report: BackupReport, fmt: str, headline: str) -> None:
    if fmt == "json":
        typer.echo(dumps({**report.to_json(), "message": headline}))
        return
    console.print(headline)
    emit_records([{"table": t, "rows": n} for t, n in report.tables.items()], fmt, "rows")


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    @db_app.command("dump")
    def db_dump(
        file: Path = typer.Argument(..., dir_okay=False, help="The dump file to write."),
        force: bool = typer.Option(False, "--force", help="Replace FILE when it exists."),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Dump the whole store to FILE: a DuckDB file for a DuckDB store, pg_dump's custom
        format of the URL's schema for PostgreSQL."""
        require_format(fmt)
        report = dump_store(db, file, overwrite=force, lock_wait_s=_wait_s(wait))
        total = sum(report.tables.values())
        _show(
            report,
            fmt,
            f"Dumped {redact(db)} to {file} ({total} rows in {len(report.tables)} tables).",
        )

    @db_app.command("restore")
    def db_restore(
        file: Path = typer.Argument(..., dir_okay=False, help="A dump made by `db dump`."),
        force: bool = typer.Option(
            False, "--force", help="Replace the content of a store that holds data."
        ),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Restore FILE into the store (an empty one, unless --force): a DuckDB dump into a
        DuckDB file, a PostgreSQL dump into the URL's schema (any schema name)."""
        require_format(fmt)
        report = restore_store(db, file, force=force, lock_wait_s=_wait_s(wait))
        total = sum(report.tables.values())
        _show(
            report,
            fmt,
            f"Restored {file} into {redact(db)} ({total} rows in {len(report.tables)} tables).",
        )
