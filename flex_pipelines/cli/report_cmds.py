"""Reporting commands: ``add report``, ``show kpis``, ``show schedule-chart`` and ``db views``.

Examples::

    flexpipe add report --reporter profit-loss --config cost.json \\
        --start 2026-11-26T00:00+01:00 --end 2026-11-27T00:00+01:00 --output-sensor 9
    flexpipe show kpis --asset 2 --start 2026-11-26 --end 2026-11-27   # naive: site timezone
    flexpipe show schedule-chart --sensor 4 --start 2026-11-26 --end 2026-11-27 --png out.png
    flexpipe db views        # create the analyst views (then: duckdb var/flexpipe.duckdb …)
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from flex_pipelines.cli.common import DEFAULT_DB, DbOption, console, dumps, emit_records
from flex_pipelines.errors import FlexPipelinesError

__all__ = ["register", "add_report", "show_kpis", "show_schedule_chart", "db_views"]

MAX_ROWS = 96


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"Error: {exc}", err=True)
    return typer.Exit(2)


def _when(text: str, timezone: str, name: str) -> datetime:
    from flex_pipelines.time import parse_datetime

    try:
        return parse_datetime(text, timezone=timezone)
    except FlexPipelinesError as exc:
        raise FlexPipelinesError(f"{name} {text!r}: {exc}") from exc


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise FlexPipelinesError(f"--format {fmt!r} is not one of {', '.join(allowed)}")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except OSError as exc:
        raise FlexPipelinesError(f"--config {str(path)!r} cannot be read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise FlexPipelinesError(
            f"--config {str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from exc
    if not isinstance(config, dict):
        raise FlexPipelinesError(f"--config {str(path)!r} must hold a JSON object")
    return config


def add_report(
    reporter: Annotated[str, typer.Option("--reporter", help="profit-loss, aggregator or sql.")],
    config: Annotated[Path, typer.Option("--config", help="JSON file with the reporter config.")],
    start: Annotated[str, typer.Option("--start", help="Window start, ISO 8601.")],
    end: Annotated[str, typer.Option("--end", help="Window end, ISO 8601.")],
    output_sensor: Annotated[
        int | None,
        typer.Option("--output-sensor", help="Save the report on this sensor (else: print only)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Use input beliefs known then.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Localise naive times (default: the output sensor's)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = str(DEFAULT_DB),
) -> None:
    """Run a reporter over a window and save its values as beliefs of a reporter source."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.reporting import run_report

    try:
        _check_format(fmt, ("table", "json"))
        cfg = _read_config(config)
        with open_store(db) as store:
            tz = timezone or (store.get_sensor(output_sensor).timezone if output_sensor else "UTC")
            result = run_report(
                store,
                reporter,
                cfg,
                _when(start, tz, "--start"),
                _when(end, tz, "--end"),
                output_sensor_id=output_sensor,
                as_of=_when(as_of, tz, "--as-of") if as_of else None,
            )
    except FlexPipelinesError as exc:
        raise _fail(exc) from exc
    summary = result.to_record()
    rows = result.rows(timezone=tz)
    if fmt == "json":
        typer.echo(dumps({"summary": summary, "rows": rows}))
        return
    emit_records(
        [{"field": k, "value": v} for k, v in summary.items()], "table", title=f"{reporter} report"
    )
    if result.empty:
        console.print(f"[yellow]Empty report:[/] {'; '.join(result.notes)}")
        return
    shown = rows if len(rows) <= MAX_ROWS else rows[:MAX_ROWS]
    emit_records(shown, "table", title=f"values ({result.unit})")
    if len(rows) > MAX_ROWS:
        console.print(f"… {len(rows) - MAX_ROWS} more rows (use --format json for all)")


def _kpi_chart(frame: Any, currency: str) -> None:
    from flex_pipelines.cli.charts import terminal_line_chart

    days = [datetime(d.year, d.month, d.day) for d in frame["day"].to_list()]
    series = {f"cost ({currency})": (days, [v or 0.0 for v in frame["cost"].to_list()])}
    if frame["baseline_cost"].drop_nulls().len():
        series[f"baseline ({currency})"] = (
            days,
            [v or 0.0 for v in frame["baseline_cost"].to_list()],
        )
    terminal_line_chart(series, title="daily cost vs baseline", ylabel=currency, height=14)


def _display_row(r: dict[str, Any], cur: str) -> dict[str, Any]:
    """A KPI row with short headers in kW/kWh and rounded values (fits a terminal)."""

    def rnd(v: Any, factor: float = 1.0, nd: int = 2) -> Any:
        return None if v is None else round(float(v) * factor, nd)

    return {
        "day": str(r["day"]),
        "events": r["n_events"],
        "bought kWh": rnd(r["energy_bought_mwh"], 1000, 1),
        "sold kWh": rnd(r["energy_sold_mwh"], 1000, 1),
        f"cost {cur}": rnd(r["cost"]),
        f"baseline {cur}": rnd(r["baseline_cost"]),
        f"savings {cur}": rnd(r["savings"]),
        "self-cons. %": rnd(r["self_consumption_ratio"], 100, 1),
        "peak kW": rnd(r["peak_consumption_mw"], 1000, 1),
        "cycles": rnd(r["equivalent_full_cycles"], 1, 3),
    }


def show_kpis(
    asset: Annotated[int, typer.Option("--asset", help="Site asset id (has a flex-context).")],
    start: Annotated[str, typer.Option("--start", help="Window start (naive: site timezone).")],
    end: Annotated[str, typer.Option("--end", help="Window end (naive: site timezone).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Beliefs known then.")] = None,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Terminal chart.")] = True,
    png: Annotated[
        Path | None, typer.Option("--png", help="Also write the cost chart as a PNG file.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    db: DbOption = str(DEFAULT_DB),
) -> None:
    """Daily KPIs of a site: energy bought/sold, cost, savings, self-consumption, peak, cycles."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.reporting.kpis import kpi_totals, site_kpis

    try:
        _check_format(fmt, ("table", "json", "csv"))
        with open_store(db) as store:
            site = store.get_asset(asset)
            t0 = _when(start, site.timezone, "--start")
            t1 = _when(end, site.timezone, "--end")
            frame = site_kpis(
                store,
                asset,
                t0,
                t1,
                as_of=_when(as_of, site.timezone, "--as-of") if as_of else None,
            )
        if png is not None and frame.height:
            from flex_pipelines.reporting.charts import cost_chart_png

            cost_chart_png(
                frame, png, title=f"{site.name}: daily cost", currency=frame["currency"][0]
            )
    except FlexPipelinesError as exc:
        raise _fail(exc) from exc
    records = frame.drop("site_id").to_dicts()
    if fmt != "table":
        emit_records(records, fmt)
        return
    if not records:
        console.print(
            f"[yellow]No KPIs:[/] site {asset} ({site.name}) has no power values in "
            f"{t0.isoformat()}–{t1.isoformat()}"
        )
        return
    cur = records[0]["currency"]
    totals = kpi_totals(frame)
    total = {"day": "total", **{k: v for k, v in totals.items() if k != "days"}}
    rows = [_display_row(r, cur) for r in [*records, total]]
    emit_records(rows, "table", title=f"KPIs of site {asset} ({site.name})")
    if total["savings"] is not None:
        console.print(f"Savings versus the baseline: [bold]{total['savings']:.2f} {cur}[/]")
    if png is not None:
        console.print(f"Cost chart written to {png}")
    if chart and len(records) > 1:
        _kpi_chart(frame, cur)


def show_schedule_chart(
    sensor: Annotated[int, typer.Option("--sensor", help="Device power sensor id.")],
    start: Annotated[str, typer.Option("--start", help="Window start (naive: sensor timezone).")],
    end: Annotated[str, typer.Option("--end", help="Window end (naive: sensor timezone).")],
    png: Annotated[Path | None, typer.Option("--png", help="Write the chart as PNG.")] = None,
    vega: Annotated[
        Path | None, typer.Option("--vega", help="Write the Vega-Lite spec (JSON).")
    ] = None,
    db: DbOption = str(DEFAULT_DB),
) -> None:
    """Chart a device's schedule with its price (and state of charge)."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.cli.charts import terminal_line_chart
    from flex_pipelines.reporting.charts import (
        schedule_chart_data,
        schedule_chart_png,
        schedule_chart_vega,
    )

    try:
        with open_store(db) as store:
            s = store.get_sensor(sensor)
            t0, t1 = _when(start, s.timezone, "--start"), _when(end, s.timezone, "--end")
            data = schedule_chart_data(store, sensor, t0, t1)
        title = f"sensor {sensor} ({s.name})"
        if png is not None:
            schedule_chart_png(data, png, title=title, timezone=s.timezone)
        if vega is not None:
            vega.write_text(json.dumps(schedule_chart_vega(data, title=title)))
    except FlexPipelinesError as exc:
        raise _fail(exc) from exc
    if data.is_empty():
        console.print(f"[yellow]No schedule values[/] for sensor {sensor} in the window")
        return
    from flex_pipelines.time import get_zone

    tz = get_zone(s.timezone)
    times = [t.astimezone(tz).replace(tzinfo=None) for t in data["event_start"].to_list()]
    terminal_line_chart(
        {"power (kW)": (times, data["power_kw"].to_list())}, title=title, ylabel="kW", height=12
    )
    if data["price"].drop_nulls().len():
        terminal_line_chart(
            {"price": (times, [p or 0.0 for p in data["price"].to_list()])},
            title="price (per MWh)",
            height=10,
        )
    for path in (png, vega):
        if path is not None:
            console.print(f"Written: {path}")


def db_views(db: DbOption = str(DEFAULT_DB)) -> None:
    """Create (or refresh) the analyst SQL views: schedules, forecasts, report_values, site_timeline."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.reporting.views import ensure_views

    try:
        with open_store(db) as store:
            names = ensure_views(store)
    except FlexPipelinesError as exc:
        raise _fail(exc) from exc
    console.print("Views ready: " + ", ".join(names))


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    add_app.command("report")(add_report)
    show_app.command("kpis")(show_kpis)
    show_app.command("schedule-chart")(show_schedule_chart)
    db_app.command("views")(db_views)
