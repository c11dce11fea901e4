"""Assembles the ``flexpipe`` Typer app from the per-domain command modules."""

from __future__ import annotations

import importlib
import sys

import typer

from flex_pipelines.cli.common import console, err_console
from flex_pipelines.errors import FlexPipelinesError

app = typer.Typer(
    name="flexpipe",
    help="FlexPipelines: beliefs, forecasts, schedules and reports for flexible energy assets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create and inspect the belief store.", no_args_is_help=True)
add_app = typer.Typer(
    help="Add accounts, assets, sensors, sources, beliefs, schedules…", no_args_is_help=True
)
show_app = typer.Typer(help="Show what is stored.", no_args_is_help=True)
delete_app = typer.Typer(help="Delete stored data (operators).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(add_app, name="add")
app.add_typer(show_app, name="show")
app.add_typer(delete_app, name="delete")

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
]

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a domain whose commands are not written yet
        if exc.name != _name:
            raise
        continue
    _mod.register(app, db_app, add_app, show_app, delete_app)


def main() -> None:
    from flex_pipelines.beliefs.audit import acting_as, cli_actor

    try:
        with acting_as(cli_actor()):  # changes made on the CLI are recorded under its user
            app()
    except FlexPipelinesError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}")
        sys.exit(2)


__all__ = ["app", "main", "console"]
