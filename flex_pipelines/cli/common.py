"""Shared CLI plumbing: consoles, the --db / --format options, output in table, CSV, JSON."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table

from flex_pipelines.beliefs.urls import redact
from flex_pipelines.errors import FlexPipelinesError


class RedactingStream(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` (looked up at each write, so captures still work) with
    store passwords redacted: whatever a command prints through the consoles — a store URL in
    a message, a summary or an error — never shows a password (:func:`redact`)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def stream(self) -> TextIO:
        """The current stream of that name."""
        return getattr(sys, self._name)

    def write(self, text: str) -> int:
        """Write ``text`` without passwords; returns the length of ``text``."""
        self.stream.write(redact(text) if "@" in text or "password" in text.lower() else text)
        return len(text)

    def flush(self) -> None:
        """Flush the current stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether the current stream is a terminal (rich decides on colours with it)."""
        return self.stream.isatty()

    def fileno(self) -> int:
        """The current stream's file descriptor."""
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The current stream's encoding."""
        return getattr(self.stream, "encoding", None) or "utf-8"


# Piped or captured output (logs, CI, tests) gets 120 columns instead of rich's 80, so tables
# of beliefs and KPIs stay readable; a terminal keeps its own width.
# (emoji=False: no ``:name:`` codes in our output, and rich then never loads its emoji table)
console = Console(
    file=RedactingStream("stdout"), width=None if sys.stdout.isatty() else 120, emoji=False
)
err_console = Console(
    file=RedactingStream("stderr"), width=None if sys.stderr.isatty() else 120, emoji=False
)


class CLIError(FlexPipelinesError):
    """An error to print without a traceback (exit code 2)."""


DEFAULT_DB = Path(os.environ.get("FLEXPIPE_DATA_DIR", "var")) / "flexpipe.duckdb"

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="FLEXPIPE_DB_URL",
        help="Belief store: a DuckDB file path, duckdb:///path, or a postgresql:// URL.",
        show_default=True,
    ),
]
WaitOption = Annotated[
    str | None,
    typer.Option(
        "--wait",
        help="Wait this long (e.g. 30s, 2min) while another process holds the DuckDB file.",
    ),
]
FormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help="Output format: table, json or csv."),
]


def open_db(db: str, *, read_only: bool = False, wait: str | None = None) -> Any:
    """The store; readers open an existing DuckDB file read-only (several may share it), and
    ``wait`` (``--wait 30s``) waits out another process's lock on it."""
    from flex_pipelines.beliefs import duckdb_path, open_store
    from flex_pipelines.time import parse_timedelta

    wait_s = parse_timedelta(wait).total_seconds() if wait else 0.0
    path = duckdb_path(db)
    ro = read_only and bool(path) and Path(path).is_file()
    return open_store(db, read_only=ro, lock_wait_s=wait_s)


def default_db() -> str:
    return str(DEFAULT_DB)


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, timedelta):
        from flex_pipelines.time import format_duration

        return format_duration(v)
    if isinstance(v, float) and v != v:  # NaN
        return None
    return v


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_jsonable, indent=2)


def emit_records(records: Sequence[dict[str, Any]], fmt: str, title: str | None = None) -> None:
    """Print a list of dicts as a rich table, JSON or CSV."""
    if fmt == "json":
        typer.echo(dumps(list(records)))
        return
    cols: list[str] = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    if fmt == "csv":
        import csv
        import sys

        w = csv.DictWriter(sys.stdout, fieldnames=cols)
        w.writeheader()
        for r in records:
            w.writerow({k: _jsonable(r.get(k)) for k in cols})
        return
    if fmt != "table":
        raise CLIError(f"--format {fmt!r} is not one of table, json, csv")
    table = Table(title=title, show_lines=False)
    for c in cols:
        table.add_column(c)
    for r in records:
        table.add_row(*[_cell(r.get(c)) for c in cols])
    console.print(table)


def require_format(fmt: str, allowed: Sequence[str] = ("table", "json")) -> None:
    """Exit with status 2 and a message naming the value when ``--format`` is not allowed."""
    if fmt not in allowed:
        typer.echo(f"Error: --format {fmt!r} is not one of {', '.join(allowed)}", err=True)
        raise typer.Exit(2)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=_jsonable)
    return str(_jsonable(v))


def schedule_group(add_app: typer.Typer) -> typer.Typer:
    """The ``add schedule`` sub-app: the one already registered on ``add_app``, or a new one.

    ``for-storage`` (schedule_cmds) and ``for-process`` (process_cmds) both hang under it, so
    whichever module registers first creates it and the other reuses it.
    """
    for group in add_app.registered_groups:
        inst = group.typer_instance
        name = group.name if isinstance(group.name, str) else None
        if name is None and inst is not None and isinstance(inst.info.name, str):
            name = inst.info.name
        if name == "schedule" and inst is not None:
            return inst
    sub = typer.Typer(
        name="schedule",
        help="Compute schedules for flexible devices and save them as beliefs.",
        no_args_is_help=True,
    )
    add_app.add_typer(sub, name="schedule")
    return sub
