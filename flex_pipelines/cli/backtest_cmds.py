"""``flexpipe backtest``: whole-pipeline backtests with value capture (docs/backtest.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flex_pipelines.cli.common import DbOption, FormatOption, console, default_db, dumps
from flex_pipelines.errors import FlexPipelinesError

if TYPE_CHECKING:
    from flex_pipelines.backtest import BacktestResult


def backtest_cmd(
    site: Annotated[int, typer.Option("--site", help="Site asset id.")],
    first: Annotated[
        str, typer.Option("--from", help="First local day (YYYY-MM-DD or a time with offset).")
    ],
    last: Annotated[str, typer.Option("--to", help="Last local day (inclusive).")],
    variants: Annotated[
        str | None,
        typer.Option(
            "--variants",
            help="Comma-separated: forecast, perfect, naive, price-actual, load-actual, "
            "pv-actual, risk-aware (default all but risk-aware; perfect is always run).",
        ),
    ] = None,
    gate_closure: Annotated[
        str | None,
        typer.Option(
            "--gate-closure", help="Viewpoint HH:MM local the day before (default the setting)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for backtest.png and backtest.html (default none)."),
    ] = None,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Terminal charts.")] = True,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Save in backtest_runs.")] = True,
    db: DbOption = default_db(),
    fmt: FormatOption = "table",
) -> None:
    """Replay a site day by day at its viewpoint and settle every schedule at realised values."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from flex_pipelines.beliefs import open_store
    from flex_pipelines.service import LOCAL_ADMIN
    from flex_pipelines.service.backtest import backtest

    if fmt not in ("table", "json"):
        typer.echo(f"Error: --format {fmt!r} is not one of table, json", err=True)
        raise typer.Exit(2)
    try:
        with (
            open_store(db) as store,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} days"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=fmt == "json",
            ) as bar,
        ):
            task = bar.add_task("backtest", total=None)

            def progress(done: int, total: int, day: object) -> None:
                bar.update(task, completed=done, total=total, description=f"backtest {day}")

            result = backtest(
                LOCAL_ADMIN,
                store,
                site,
                first,
                last,
                variants=variants,
                gate_closure=gate_closure,
                save=save,
                progress=progress,
            )
    except FlexPipelinesError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if fmt == "json":
        typer.echo(dumps(result.to_record()))
        return
    _print(result, chart, out)


def _print(result: BacktestResult, chart: bool, out: Path | None) -> None:
    from rich.table import Table

    from flex_pipelines.backtest.charts import (
        backtest_chart_png,
        backtest_html,
        cumulative_savings,
        daily_capture,
    )

    cur = result.currency
    title = (
        f"Backtest of site {result.site_id} ({result.site_name}), {result.first} to "
        f"{result.last}: {len(result.days)} days at {result.gate_closure} the day before"
        + (f", run {result.run_id}" if result.run_id else "")
    )
    table = Table(title=title)
    for c in (
        "variant",
        f"cost {cur}",
        f"savings {cur}",
        "value capture",
        f"worst-decile savings/day {cur}",
        "over limit MWh",
        "solve ms/day",
    ):
        table.add_column(c, justify="left" if c == "variant" else "right")
    for t in result.totals():
        cap = "" if t.value_capture is None else f"{100 * t.value_capture:.1f} %"
        table.add_row(
            t.variant,
            f"{t.cost:.2f}",
            f"{t.savings:.2f}",
            cap,
            f"{t.worst_decile_savings:.2f}",
            f"{t.over_limit_mwh:.3f}",
            f"{1000 * t.solve_s_per_day:.0f}",
        )
    console.print(table)
    split = result.error_split()
    if split is not None:
        parts = ", ".join(f"{r} {v:+.2f}" for r, v in split.per_input.items())
        share = "" if split.explained is None else f" ({100 * split.explained:.0f} % of the gap)"
        console.print(
            f"Forecast schedule vs perfect foresight: {split.gap:+.2f} {cur}; one input realised "
            f"at a time saves {parts}{share}."
        )
    for day, why in result.skipped[:5]:
        console.print(f"[yellow]skipped {day}[/]: {why}")
    if len(result.skipped) > 5:
        console.print(f"[yellow]… {len(result.skipped) - 5} more days skipped[/]")
    if chart and len(result.days) > 1:
        from flex_pipelines.cli.charts import terminal_line_chart

        terminal_line_chart(cumulative_savings(result), title="cumulative savings", ylabel=cur)
        terminal_line_chart(
            daily_capture(result, ["forecast"] if "forecast" in result.variant_names else None),
            title="value capture per day",
            step=False,
        )
    if out is not None and result.days:
        png = backtest_chart_png(result, out / "backtest.png")
        page = backtest_html(result, out / "backtest.html", png)
        console.print(f"Written: {out / 'backtest.png'}, {page}")


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    """Add ``flexpipe backtest``."""
    app.command("backtest")(backtest_cmd)
