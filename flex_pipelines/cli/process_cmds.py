"""``flexpipe add schedule for-process``: schedule a process from stored prices and save it.

Example (the toy account's process)::

    flexpipe add schedule for-process --sensor 4 --consumption-price-sensor 1 \\
        --start 2026-11-26T00:00+01:00 --duration P1D \\
        --process-duration PT4H --process-power 200kW --process-type SHIFTABLE \\
        --forbid 2026-11-26T15:00+01:00 PT1H
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flex_pipelines.cli.common import (
    DEFAULT_DB,
    DbOption,
    console,
    dumps,
    emit_records,
    require_format,
    schedule_group,
)
from flex_pipelines.errors import FlexPipelinesError

__all__ = ["register", "for_process", "schedule_chart", "pair_forbids"]

MAX_TABLE_ROWS = 48  # longer windows list only the steps in which the process runs


def schedule_chart(run: Any, width: int = 90, height: int = 16) -> str:
    """A terminal chart (plotext) of the process power and the price per step, colourless."""
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, height)
    hours = run.schedule.resolution.total_seconds() / 3600.0
    x = [i * hours for i in range(run.schedule.n_steps)]
    plt.bar(x, [float(v) for v in run.values], label=f"process ({run.sensor.unit})", width=1)
    plt.plot(
        x,
        [float(p) for p in run.prices_eur_per_mwh],
        yside="right",
        label="price (EUR/MWh)",
        marker="braille",
    )
    plt.title(
        f"{run.schedule.process_type.value} process from {run.schedule.start.isoformat()}: "
        f"{run.schedule.cost_eur:.2f} EUR"
    )
    plt.xlabel("hours from start")
    text = plt.uncolorize(plt.build())
    plt.clear_figure()
    return text


def _summary(run: Any) -> list[dict[str, Any]]:
    rec = run.to_record()
    rec["block_starts"] = ", ".join(t.isoformat() for t in run.schedule.block_starts)
    rec["notes"] = "; ".join(run.schedule.notes)
    rec["cost_eur"] = round(run.schedule.cost_eur, 6)
    return [{"field": k, "value": v} for k, v in rec.items()]


def pair_forbids(forbid: list[str] | None, extras: list[str]) -> list[dict[str, str]]:
    """``--forbid START DURATION`` pairs (or one ISO 8601 interval ``START/DURATION``).

    Each ``--forbid`` option takes one token; a DURATION that follows it is left over by the
    parser as an extra argument, in order, and is paired back here.
    """
    out: list[dict[str, str]] = []
    rest = list(extras)
    for token in forbid or []:
        if "/" in token:
            start, _, dur = token.partition("/")
        elif rest:
            start, dur = token, rest.pop(0)
        else:
            raise FlexPipelinesError(
                f"--forbid {token!r} has no duration; give START DURATION, "
                f"e.g. --forbid 2026-11-26T15:00+01:00 PT1H"
            )
        out.append({"start": start, "duration": dur})
    if rest:
        raise FlexPipelinesError(
            f"unexpected argument(s) {' '.join(rest)!r}; --forbid takes START DURATION"
        )
    return out


def for_process(
    ctx: typer.Context,
    sensor: Annotated[int, typer.Option("--sensor", help="Process power sensor id.")],
    start: Annotated[str, typer.Option("--start", help="Window start, ISO 8601.")],
    process_duration: Annotated[
        str | None,
        typer.Option(
            "--process-duration",
            help="How long the process runs, e.g. PT4H (default: the asset's flex-model).",
        ),
    ] = None,
    process_power: Annotated[
        str | None,
        typer.Option(
            "--process-power",
            help="Power while running, e.g. 200kW (default: the asset's flex-model).",
        ),
    ] = None,
    consumption_price_sensor: Annotated[
        int | None,
        typer.Option(
            "--consumption-price-sensor",
            help="Price sensor id (default: the asset's flex-context consumption-price).",
        ),
    ] = None,
    duration: Annotated[
        str, typer.Option("--duration", help="Window length, ISO 8601 (P1D: a local day).")
    ] = "P1D",
    process_type: Annotated[
        str | None,
        typer.Option(
            "--process-type",
            help="INFLEXIBLE, SHIFTABLE or BREAKABLE (default: the asset's flex-model, "
            "else INFLEXIBLE).",
        ),
    ] = None,
    forbid: Annotated[
        list[str] | None,
        typer.Option(
            "--forbid",
            metavar="START DURATION",
            help="A time the process may not run, e.g. 2026-11-26T15:00+01:00 PT1H "
            "(repeatable; START/DURATION also works).",
        ),
    ] = None,
    optimization_sense: Annotated[
        str | None,
        typer.Option("--optimization-sense", help="MIN (lowest cost, default) or MAX."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Use prices known then; the schedule's belief time."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute and print, but do not save.")
    ] = False,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Draw a chart.")] = True,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = str(DEFAULT_DB),
) -> None:
    """Schedule a process (INFLEXIBLE, SHIFTABLE or BREAKABLE) and save it as beliefs."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.service import LOCAL_ADMIN, schedule
    from flex_pipelines.time import add_duration, parse_datetime

    require_format(fmt)
    try:
        given = {
            "duration": process_duration,
            "power": process_power,
            "process-type": process_type,
            "optimization-sense": optimization_sense,
            "time-restrictions": pair_forbids(forbid, ctx.args) or None,
        }
        # options given on the command line override the asset's stored flex-model
        flex_model = {k: v for k, v in given.items() if v is not None}
        fc = (
            {"consumption-price": {"sensor": consumption_price_sensor}}
            if consumption_price_sensor
            else None
        )
        with open_store(db) as store:
            tz = store.get_sensor(sensor).timezone
            start_dt = parse_datetime(start, timezone=tz)
            as_of_dt = parse_datetime(as_of, timezone=tz) if as_of else None
            (record,) = schedule(
                LOCAL_ADMIN,
                store,
                start_dt,
                add_duration(start_dt, duration),
                sensor_id=sensor,
                flex_model=flex_model,
                flex_context=fc,
                as_of=as_of_dt,
                kinds=("process",),
                save=not dry_run,
            )
        run = record.runs[0].result
    except FlexPipelinesError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc

    rows = run.rows()
    if fmt == "json":
        typer.echo(dumps({"result": run.to_record(), "schedule": rows}))
        return
    title = f"Process schedule for sensor {run.sensor.id}"
    if len(rows) > MAX_TABLE_ROWS:
        rows = [r for r in rows if r["power_mw"] != 0.0]
        title += f" (the {len(rows)} steps it runs; --format json lists all)"
    emit_records(rows, "table", title=title)
    if chart:
        typer.echo(schedule_chart(run))
    emit_records(_summary(run), "table", title="Result")
    if dry_run:
        console.print("Dry run: nothing saved.")
    else:
        console.print(
            f"Saved {run.saved.n_new} new belief(s) on sensor {run.sensor.id} "
            f"(source {run.source.id}, belief time {run.belief_time.isoformat()})."
        )


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    """Hang ``for-process`` under ``flexpipe add schedule``."""
    schedule_group(add_app).command("for-process", context_settings={"allow_extra_args": True})(
        for_process
    )
