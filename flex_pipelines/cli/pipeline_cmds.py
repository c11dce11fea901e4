"""``flexpipe pipeline run``: materialise the Dagster pipeline in-process for a window of days."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from flex_pipelines.cli.common import CLIError, DbOption, FormatOption, console, default_db, dumps

pipeline_app = typer.Typer(
    help="Run the Dagster pipeline (ingest → forecast → schedule → report).", no_args_is_help=True
)


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise CLIError(f"{field} {text!r} is not a date (YYYY-MM-DD)") from exc


@pipeline_app.command("run")
def run(
    start: Annotated[str, typer.Option("--start", help="First local day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last local day, inclusive (YYYY-MM-DD).")],
    db: DbOption = default_db(),
    inbox: Annotated[
        str | None,
        typer.Option("--inbox", envvar="FLEXPIPE_INBOX", help="Inbox folder of CSV files."),
    ] = None,  # fmt: skip
    asset: Annotated[
        list[str] | None, typer.Option("--asset", help="Only these assets (repeat).")
    ] = None,  # fmt: skip
    replay: Annotated[
        bool,
        typer.Option(
            "--replay", help="Schedule with inputs as known at each day's start (backtest)."
        ),
    ] = False,  # fmt: skip
    fmt: FormatOption = "table",
) -> None:
    """Materialise the partitioned assets for the days START..END in one in-process run."""
    from flex_pipelines.pipeline import run_pipeline

    summary = run_pipeline(
        db, _day(start, "--start"), _day(end, "--end"), progress=fmt == "table",
        inbox=inbox, assets=asset or None, replay=replay,
    )  # fmt: skip
    if fmt == "json":
        typer.echo(dumps(summary.to_record()))
    else:
        table = Table(title=f"pipeline {summary.start} … {summary.end} ({summary.seconds:.1f} s)")
        for col in ("asset", "rows", "details"):
            table.add_column(col)
        for name, meta in summary.assets.items():
            details = ", ".join(f"{k}={meta[k]}" for k in ("files", "failed_files", "sites", "site_days", "cost_eur", "solve_s", "n_skipped", "reports") if k in meta)  # fmt: skip
            table.add_row(name, str(meta.get("row_count", "")), details)
        for name, reason in summary.skipped.items():
            table.add_row(name, "-", f"[yellow]skipped: {reason}[/]")
        console.print(table)
        failed = [k for k, ok in summary.checks.items() if not ok]
        console.print(f"checks: {len(summary.checks) - len(failed)} passed" + (f", [red]failed: {', '.join(failed)}[/]" if failed else ""))  # fmt: skip
    if not summary.success:
        raise CLIError(f"pipeline run {summary.run_id} failed: {summary.error}")


def register(app: typer.Typer, db_app: typer.Typer, add_app: typer.Typer, show_app: typer.Typer, delete_app: typer.Typer) -> None:  # fmt: skip
    """Add ``flexpipe pipeline …``."""
    app.add_typer(pipeline_app, name="pipeline")
