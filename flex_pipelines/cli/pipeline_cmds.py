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
    ] = None,
    asset: Annotated[
        list[str] | None, typer.Option("--asset", help="Only these assets (repeat).")
    ] = None,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay", help="Schedule with inputs as known at each day's start (backtest)."
        ),
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """Materialise the partitioned assets for the days START..END in one in-process run."""
    from flex_pipelines.pipeline import run_pipeline

    summary = run_pipeline(
        db,
        _day(start, "--start"),
        _day(end, "--end"),
        progress=fmt == "table",
        inbox=inbox,
        assets=asset or None,
        replay=replay,
    )
    if fmt == "json":
        typer.echo(dumps(summary.to_record()))
    else:
        table = Table(title=f"pipeline {summary.start} … {summary.end} ({summary.seconds:.1f} s)")
        for col in ("asset", "rows", "details"):
            table.add_column(col)
        for name, meta in summary.assets.items():
            details = ", ".join(
                f"{k}={meta[k]}"
                for k in (
                    "files",
                    "failed_files",
                    "sites",
                    "site_days",
                    "cost_eur",
                    "solve_s",
                    "n_skipped",
                    "reports",
                )
                if k in meta
            )
            table.add_row(name, str(meta.get("row_count", "")), details)
        for name, reason in summary.skipped.items():
            table.add_row(name, "-", f"[yellow]skipped: {reason}[/]")
        console.print(table)
        failed = [k for k, ok in summary.checks.items() if not ok]
        console.print(
            f"checks: {len(summary.checks) - len(failed)} passed"
            + (f", [red]failed: {', '.join(failed)}[/]" if failed else "")
        )
    if not summary.success:
        raise CLIError(f"pipeline run {summary.run_id} failed: {summary.error}")


def backfill_ranges(targets: dict[str, dict[int, int]]) -> list[tuple[date, date, list[int]]]:
    """Consecutive days of ``targets`` (day → site → ingestion) as (first, last, sites) runs:
    one run per stretch of consecutive days, with every site any of its days needs."""
    out: list[tuple[date, date, list[int]]] = []
    for day in sorted(date.fromisoformat(d) for d in targets):
        sites = set(targets[day.isoformat()])
        if out and (day - out[-1][1]).days == 1:
            first, _, prev = out[-1]
            out[-1] = (first, day, sorted(set(prev) | sites))
        else:
            out.append((day, day, sorted(sites)))
    return out


def _split_at_today(
    runs: list[tuple[date, date, list[int]]],
) -> list[tuple[date, date, list[int], bool]]:
    """Past days are re-planned whole (the history an operator asked for); today and later
    only from the current quarter hour (``intraday``)."""
    from datetime import UTC, datetime, timedelta

    from flex_pipelines.pipeline.reoptimise import local_today
    from flex_pipelines.settings import load_settings

    today = local_today(datetime.now(UTC), load_settings().timezone)
    out = []
    for a, b, s in runs:
        if a < today:
            out.append((a, min(b, today - timedelta(days=1)), s, False))
        if b >= today:
            out.append((max(a, today), b, s, True))
    return out


@pipeline_app.command("reoptimise")
def reoptimise(
    since_ingestion: Annotated[
        int | None,
        typer.Option(
            "--since-ingestion",
            help="Re-optimise the site-days of every ingestion after this id (0: all history).",
        ),
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="First local day.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last local day, inclusive.")] = None,
    site: Annotated[
        list[int] | None, typer.Option("--site", help="Only these sites (repeat).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show the runs.")] = False,
    db: DbOption = default_db(),
    fmt: FormatOption = "table",
) -> None:
    """Backfill what the re-optimisation sensor does not replay: the history before its start.

    With --since-ingestion, the days and sites whose inputs changed after that ingestion and
    that no later schedule saw (as the sensor maps them, without its window); with
    --start/--end, those days. Runs schedules and reports in-process, one run per stretch of
    consecutive days: past days whole, today only from the current quarter hour on."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.pipeline import list_sites, reopt_targets, run_pipeline
    from flex_pipelines.pipeline.reoptimise import scheduled_after
    from flex_pipelines.settings import load_settings

    if (since_ingestion is None) == (start is None and end is None):
        raise CLIError("give --since-ingestion, or --start and --end")
    if since_ingestion is not None:
        tz = load_settings().timezone
        with open_store(db) as s:
            ingestions, last = [], since_ingestion
            while batch := s.ingestions_since(last):
                ingestions += batch
                last = batch[-1].id
            sites = list_sites(s)
        targets = reopt_targets(sites, ingestions, tz)
        seen = scheduled_after(sites, ingestions, tz)
        targets = {
            d: todo
            for d, per in targets.items()
            if (todo := {k: i for k, i in per.items() if seen.get(d, {}).get(k, 0) <= i})
        }
        runs = backfill_ranges(targets)
    else:
        if start is None or end is None:
            raise CLIError("give both --start and --end")
        runs = [(_day(start, "--start"), _day(end, "--end"), [])]
    if site:
        runs = [(a, b, sorted(set(s) & set(site)) if s else sorted(site)) for a, b, s in runs]
        runs = [r for r in runs if r[2]]
    plan = [{"start": a.isoformat(), "end": b.isoformat(), "sites": s or "all"} for a, b, s in runs]
    results = []
    if not dry_run:
        for a, b, s, intraday in _split_at_today(runs):
            summary = run_pipeline(
                db,
                a,
                b,
                progress=fmt == "table",
                assets=["schedules", "reports"],
                site_ids=s or None,
                intraday=intraday,
            )
            results.append(summary.to_record())
            if not summary.success:
                raise CLIError(f"re-optimisation {a}…{b} failed: {summary.error}")
    if fmt == "json":
        typer.echo(dumps({"runs": plan, "results": results}))
        return
    table = Table(title="re-optimisation backfill" + (" (dry run)" if dry_run else ""))
    for col in ("first day", "last day", "sites", "site-days", "cost EUR"):
        table.add_column(col)
    for i, p in enumerate(plan):
        sched = results[i]["assets"].get("schedules", {}) if results else {}
        sites_text = p["sites"] if isinstance(p["sites"], str) else ",".join(map(str, p["sites"]))
        table.add_row(
            p["start"],
            p["end"],
            sites_text,
            str(sched.get("site_days", "")),
            str(sched.get("cost_eur", "")),
        )
    console.print(table)


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    """Add ``flexpipe pipeline …``."""
    app.add_typer(pipeline_app, name="pipeline")
