"""Assembles the ``flexpipe`` Typer app from the per-domain command modules, lazily.

A command line imports only the command modules behind its first word (``flexpipe schedule
solve`` never imports the belief store, polars or pint; ``flexpipe --help`` imports none), so a
3 ms solve does not cost seconds at the shell. ``app`` (for tests and ``CliRunner``) is the whole
app: reading it imports every module.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Any

import typer

from flex_pipelines.cli.common import console, err_console
from flex_pipelines.errors import FlexPipelinesError

_root = typer.Typer(
    name="flexpipe",
    help="FlexPipelines: beliefs, forecasts, schedules and reports for flexible energy assets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_db = typer.Typer(help="Create and inspect the belief store.", no_args_is_help=True)
_add = typer.Typer(
    help="Add accounts, assets, sensors, sources, beliefs, schedules…", no_args_is_help=True
)
_show = typer.Typer(help="Show what is stored.", no_args_is_help=True)
_delete = typer.Typer(help="Delete stored data (operators).", no_args_is_help=True)
_root.add_typer(_db, name="db")
_root.add_typer(_add, name="add")
_root.add_typer(_show, name="show")
_root.add_typer(_delete, name="delete")

# Each module defines ``register(app, db_app, add_app, show_app, delete_app)``.
COMMAND_MODULES = [
    "flex_pipelines.cli.store_cmds",
    "flex_pipelines.cli.schedule_cmds",
    "flex_pipelines.cli.process_cmds",
    "flex_pipelines.cli.forecast_cmds",
    "flex_pipelines.cli.report_cmds",
    "flex_pipelines.cli.api_cmds",
    "flex_pipelines.cli.pipeline_cmds",
    "flex_pipelines.cli.demo_cmds",
    "flex_pipelines.cli.admin_cmds",
    "flex_pipelines.cli.dbops_cmds",
    "flex_pipelines.cli.monitor_cmds",
    "flex_pipelines.cli.entity_cmds",
    "flex_pipelines.cli.backtest_cmds",
]

#: The top-level names under which each command module registers commands or groups. A command
#: line imports the modules listed under its first word; a module not listed here is imported
#: for every command line (correct, only slower). tests/unit/test_cli_lazy.py checks this map
#: against what the modules register.
COMMAND_NAMES: dict[str, tuple[str, ...]] = {
    "flex_pipelines.cli.store_cmds": ("db", "add", "show", "delete"),
    "flex_pipelines.cli.schedule_cmds": ("schedule", "add"),
    "flex_pipelines.cli.process_cmds": ("add",),
    "flex_pipelines.cli.forecast_cmds": ("add", "show"),
    "flex_pipelines.cli.report_cmds": ("add", "show", "db"),
    "flex_pipelines.cli.api_cmds": ("api", "add"),
    "flex_pipelines.cli.pipeline_cmds": ("pipeline",),
    "flex_pipelines.cli.demo_cmds": ("demo",),
    "flex_pipelines.cli.admin_cmds": ("edit", "delete", "show", "add"),
    "flex_pipelines.cli.dbops_cmds": ("db",),
    "flex_pipelines.cli.monitor_cmds": ("monitor",),
    "flex_pipelines.cli.entity_cmds": ("edit", "show", "delete"),
    "flex_pipelines.cli.backtest_cmds": ("backtest",),
}

#: What ``flexpipe --help`` says about the top-level names the modules add, in their order
#: (checked by the test); ``demo`` is a command, the others are groups
TOP_LEVEL_HELP = {
    "demo": "Build the demo site from bundled real data and run ingest → forecast → schedule "
    "→ report.",
    "schedule": "Stateless scheduling (no database).",
    "api": "The FlexMeasures-compatible HTTP API.",
    "pipeline": "Run the Dagster pipeline (ingest → forecast → schedule → report).",
    "edit": "Change accounts and users.",
    "monitor": "Checks that exit 1 (and can alert a webhook) when the pipeline or data are stale.",
    "backtest": "Replay a site day by day at its viewpoint and settle every schedule at realised "
    "values.",
}
TOP_LEVEL_COMMANDS = {"demo", "backtest"}

#: Packages of the optional extras (``pip install 'flex-pipelines[api]'``) → the extra's name
OPTIONAL_PACKAGES = {
    "fastapi": "api",
    "uvicorn": "api",
    "starlette": "api",
    "bcrypt": "api",
    "email_validator": "api",
    "celery": "celery",
    "dagster_celery": "celery",
    "redis": "celery",
}

_registered: set[str] = set()


def _register(modules: Iterable[str]) -> None:
    """Import and register command modules (each once), in the order given."""
    for name in modules:
        if name in _registered:
            continue
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a domain whose commands are not written yet
            if exc.name != name:
                raise
            _registered.add(name)
            continue
        _registered.add(name)
        mod.register(_root, _db, _add, _show, _delete)


def load_commands(word: str | None = None) -> None:
    """Register the command modules a command line starting with ``word`` needs.

    Parameters
    ----------
    word : str, optional
        The first word of the command line (``schedule``, ``add``…). None, or a word no module
        is listed under, registers every module.
    """
    if word is None or not any(word in names for names in COMMAND_NAMES.values()):
        _register(COMMAND_MODULES)
        return
    _register(m for m in COMMAND_MODULES if word in COMMAND_NAMES.get(m, (word,)))


def _first_word(argv: list[str]) -> str | None:
    """The command word of a command line (the root has only ``--help``-like options)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _help_stubs() -> list[tuple[list[Any], Any]]:
    """Placeholders that list the lazy top-level names in ``flexpipe --help``; returns each
    with the list it was added to."""
    stubs: list[tuple[list[Any], Any]] = []
    for name, text in TOP_LEVEL_HELP.items():
        if name in TOP_LEVEL_COMMANDS:
            _root.command(name, help=text)(lambda: None)
            stubs.append((_root.registered_commands, _root.registered_commands[-1]))
        else:
            _root.add_typer(typer.Typer(help=text), name=name)
            stubs.append((_root.registered_groups, _root.registered_groups[-1]))
    return stubs


def _missing_extra(exc: ModuleNotFoundError) -> str | None:
    top = (exc.name or "").split(".")[0]
    extra = OPTIONAL_PACKAGES.get(top)
    if extra is None:
        return None
    return (
        f"this command needs the optional '{extra}' extra ({top} is not installed): "
        f"pip install 'flex-pipelines[{extra}]'"
    )


def main() -> None:
    """The ``flexpipe`` console script."""
    from rich.markup import escape

    argv = sys.argv[1:]
    word = _first_word(argv)
    completing = any(k.endswith("_COMPLETE") for k in os.environ)  # shell completion: all
    stubs: list[tuple[list[Any], Any]] = []
    try:
        if word is None and not completing:
            _register(m for m in COMMAND_MODULES if m not in COMMAND_NAMES)
            stubs = _help_stubs()
        else:
            load_commands(None if completing else word)
        _root()
    except FlexPipelinesError as exc:
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}")
        sys.exit(2)
    except ModuleNotFoundError as exc:
        message = _missing_extra(exc)
        if message is None:
            raise
        err_console.print(f"[bold red]Error:[/] {escape(message)}")
        sys.exit(2)
    finally:
        for where, stub in stubs:
            where.remove(stub)


def __getattr__(name: str) -> Any:
    """``app`` and its groups, with every command module registered."""
    groups = {"app": _root, "db_app": _db, "add_app": _add, "show_app": _show}
    groups["delete_app"] = _delete
    if name in groups:
        load_commands()
        return groups[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "console", "load_commands", "main"]  # noqa: F822 - app comes from __getattr__
