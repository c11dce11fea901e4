"""``flexpipe demo``: build the demo site from bundled real data and run the whole pipeline.

ingest (inbox CSV files) → forecasts (prices, load, PV) → schedules (battery) → reports (KPIs),
in-process on the embedded default (DuckDB + Dagster's SQLite storage), then prints what an
operator wants to see: what was ingested, how good the forecasts were, what the battery does and
what it saved, and where the charts are.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import typer
from rich.panel import Panel
from rich.table import Table

from flex_pipelines.beliefs import BeliefStore, open_store
from flex_pipelines.cli.charts import terminal_line_chart
from flex_pipelines.cli.common import console
from flex_pipelines.demo import TZ, build_demo_site, write_inbox_files
from flex_pipelines.time import day_window


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    @app.command("demo")
    def demo(
        db: str = typer.Option("var/demo.duckdb", "--db", help="store for the demo site"),
        first: str = typer.Option("2016-09-12", "--start", help="first local day to run"),
        days: int = typer.Option(7, "--days", help="number of days to run"),
        out: Path = typer.Option(Path("var/demo"), "--out", help="folder for inbox and charts"),
        sites: int = typer.Option(
            0,
            "--sites",
            min=0,
            help="instead: build N synthetic sites and schedule them in batches",
        ),
    ) -> None:
        """Build the demo site from bundled real data and run ingest → forecast → schedule → report."""
        if sites:
            from flex_pipelines.cli.fleet_cmds import run_fleet_demo

            run_fleet_demo(db, sites)
            return
        run_demo(db, date.fromisoformat(first), days, out)


def run_demo(db: str, first: date, days: int, out: Path) -> dict[str, Any]:
    """The demo main job; returns what it printed as plain data (for tests).

    Runs are recorded in ``DAGSTER_HOME`` (default var/dagster_home, with the repository's
    dagster.yaml), and the store and inbox are registered there for ``make ui``.
    """
    from flex_pipelines.pipeline import run_pipeline
    from flex_pipelines.ui import default_home, ensure_home, register_store

    home = ensure_home(default_home())
    os.environ["DAGSTER_HOME"] = str(home)
    last = first + timedelta(days=days - 1)
    console.rule("[bold]FlexPipelines demo[/]")
    with open_store(db) as store:
        ids = build_demo_site(store)
    inbox = out / "inbox"
    files = write_inbox_files(ids, inbox)
    console.print(
        f"Demo site [bold]Demo site Brussels[/] (asset {ids['site']}): 250 kW peak building load, "
        f"100 kWp PV, 400 kWh / 200 kW battery, 300 kW grid connection, BE day-ahead prices.\n"
        f"Store: {db}; {len(files)} real-data files written to {inbox} for the ingest asset."
    )
    registered = register_store(home, db, inbox)
    console.print(f"Runs are recorded in {home}; `make ui` uses this store ({registered}).")
    summary = run_pipeline(db, first, last, progress=True, inbox=str(inbox))
    start, _ = day_window(first, TZ)
    _, end = day_window(last, TZ)
    with open_store(db) as store:
        result = {
            "pipeline": summary.to_record(),
            "counts": _counts(store, ids),
            "forecasts": _forecast_accuracy(store, ids, start, end),
            "kpis": _kpis(store, ids, start, end),
        }
        _print(store, ids, result, start, end, out)
    return result


def _counts(store: BeliefStore, ids: dict[str, int]) -> list[dict[str, Any]]:
    df = store.query(
        "SELECT s.name AS sensor, src.type AS source_type, count(*) AS beliefs, "
        "min(b.event_start) AS first_event, max(b.event_start) AS last_event "
        "FROM beliefs b JOIN sensors s ON s.id = b.sensor_id JOIN sources src ON src.id = b.source_id "
        "GROUP BY s.name, src.type ORDER BY s.name, src.type"
    )
    return df.to_dicts()


def _forecast_accuracy(
    store: BeliefStore, ids: dict[str, int], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """MAE of the pipeline's forecasts against what was measured, per forecast sensor."""
    rows = []
    for role in ("price", "load", "pv"):
        sid = ids[role]
        fc = store.search_beliefs(sid, start, end, source_types=["forecaster"], one_per_event=True)
        actual = store.search_beliefs(
            sid,
            start,
            end,
            exclude_source_types=["forecaster", "scheduler", "reporter"],
            one_per_event=True,
        )
        joined = fc.join(actual, on="event_start", suffix="_actual")
        if joined.is_empty():
            rows.append({"sensor": role, "events": 0, "mae": None, "mean_actual": None})
            continue
        err = (joined["event_value"] - joined["event_value_actual"]).abs()
        rows.append(
            {
                "sensor": role,
                "unit": store.get_sensor(sid).unit,
                "events": joined.height,
                "mae": float(err.mean()),
                "mean_actual": float(joined["event_value_actual"].abs().mean()),
            }
        )
    return rows


def _kpis(
    store: BeliefStore, ids: dict[str, int], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    from flex_pipelines.reporting.kpis import site_kpis

    return site_kpis(store, ids["site"], start, end).to_dicts()


def _print(
    store: BeliefStore,
    ids: dict[str, int],
    result: dict[str, Any],
    start: datetime,
    end: datetime,
    out: Path,
) -> None:
    t = Table(title="Stored beliefs", show_lines=False)
    for c in ("sensor", "source_type", "beliefs", "first_event", "last_event"):
        t.add_column(c)
    for r in result["counts"]:
        t.add_row(
            r["sensor"],
            r["source_type"],
            f"{r['beliefs']:,}",
            str(r["first_event"])[:16],
            str(r["last_event"])[:16],
        )
    console.print(t)
    f = Table(
        title="Forecasts made by the pipeline vs. what happened (day-ahead, as known at 12:00 the day before)"
    )
    for c in ("sensor", "events", "MAE", "mean |actual|", "MAE / mean"):
        f.add_column(c)
    for r in result["forecasts"]:
        if r["mae"] is None:
            f.add_row(r["sensor"], "0", "—", "—", "—")
        else:
            f.add_row(
                r["sensor"],
                str(r["events"]),
                f"{r['mae']:.2f} {r['unit']}",
                f"{r['mean_actual']:.2f}",
                f"{r['mae'] / r['mean_actual']:.1%}",
            )
    console.print(f)
    if result["kpis"]:
        k = Table(
            title="Daily KPIs of the demo site (battery scheduled on forecasts, settled at real prices)"
        )
        cols = {
            "day": ("day", "{:%a %d %b}"),
            "energy_bought_mwh": ("bought MWh", "{:.2f}"),
            "energy_sold_mwh": ("sold MWh", "{:.2f}"),
            "cost": ("EUR", "{:.2f}"),
            "baseline_cost": ("EUR w/o bat.", "{:.2f}"),
            "savings": ("saved", "{:.2f}"),
            "self_consumption_ratio": ("PV used", "{:.0%}"),
            "peak_consumption_mw": ("peak MW", "{:.3f}"),
            "equivalent_full_cycles": ("cycles", "{:.2f}"),
        }
        for _, (title, _fmt) in cols.items():
            k.add_column(title, justify="right", no_wrap=True)
        for r in result["kpis"]:
            k.add_row(*["—" if r.get(c) is None else f.format(r[c]) for c, (_t, f) in cols.items()])
        console.print(k)
        saved = sum(r.get("savings") or 0 for r in result["kpis"])
        base = sum(r.get("baseline_cost") or 0 for r in result["kpis"])
        console.print(
            Panel(
                f"Battery savings over {len(result['kpis'])} days: [bold green]{saved:,.2f} EUR[/] "
                f"({saved / base:.1%} of the {base:,.2f} EUR the site would have paid without it)"
                if base
                else f"Battery savings: {saved:,.2f} EUR"
            )
        )
    last_day_start = end - timedelta(days=1)
    price = store.search_beliefs(
        ids["price"], last_day_start, end, exclude_source_types=["forecaster"], one_per_event=True
    )
    power = store.search_beliefs(
        ids["battery_power"], last_day_start, end, source_types=["scheduler"], one_per_event=True
    )
    tz = ZoneInfo(TZ)
    if not power.is_empty():
        terminal_line_chart(
            {
                "battery power (kW)": (
                    [t.astimezone(tz) for t in power["event_start"]],
                    power["event_value"].to_list(),
                )
            },
            title=f"Battery schedule on the last day (local time, {TZ})",
            ylabel="kW",
            height=14,
        )
    if not price.is_empty():
        terminal_line_chart(
            {
                "BE day-ahead price (EUR/MWh)": (
                    [t.astimezone(tz) for t in price["event_start"]],
                    price["event_value"].to_list(),
                )
            },
            title="Day-ahead prices on the last day",
            ylabel="EUR/MWh",
            height=12,
        )
    _png_charts(store, ids, last_day_start, end, result["kpis"], out)


def _png_charts(
    store: BeliefStore,
    ids: dict[str, int],
    start: datetime,
    end: datetime,
    kpis: list[dict[str, Any]],
    out: Path,
) -> None:
    """The schedule chart of the last day and the cost chart of the whole run, as PNG files."""
    from flex_pipelines.reporting.charts import (
        cost_chart_png,
        schedule_chart_data,
        schedule_chart_png,
    )

    out.mkdir(parents=True, exist_ok=True)
    data = schedule_chart_data(store, ids["battery_power"], start, end)
    if not data.is_empty():
        schedule_chart_png(
            data,
            out / "schedule.png",
            title="Demo battery: price, power, state of charge",
            timezone=TZ,
        )
        console.print(f"Chart: {out / 'schedule.png'}")
    if kpis:
        cost_chart_png(
            pl.DataFrame(kpis),
            out / "costs.png",
            title="Demo site: daily cost with and without the battery",
        )
        console.print(f"Chart: {out / 'costs.png'}")
