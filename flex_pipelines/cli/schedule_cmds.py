"""Storage scheduling commands.

- ``flexpipe schedule solve PROBLEM.json [--backend highs|pyomo] [--method auto|dp|milp]
  [--format table|json]``: a stateless solve of a self-contained problem (no database);
- ``flexpipe add schedule for-storage --sensor ID | --asset ID --start T --duration D …``: read
  prices and other series from the belief store, schedule, save the schedules as beliefs.
"""

from __future__ import annotations

import json
from pathlib import Path
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

__all__ = ["register", "schedule_chart", "result_rows"]

MAX_TABLE_ROWS = 96


def schedule_chart(result: Any, width: int = 100, height: int = 18) -> str:
    """Terminal chart (plotext): power per device (kW) and SoC (kWh) over the window."""
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, height)
    g = result.grid
    hours = g.dt_hours
    x = [i * hours for i in range(g.n_steps)]
    xs = [i * hours for i in range(g.n_steps + 1)]
    for d in result.devices:
        plt.plot(x, [float(v) * 1000 for v in d.power_mw], label=f"{d.name} power (kW)")
        if d.soc_mwh is not None:
            plt.plot(
                xs, [float(v) * 1000 for v in d.soc_mwh], label=f"{d.name} SoC (kWh)", yside="right"
            )
    plt.title(f"Schedule from {g.start.isoformat()}: {result.costs['total']:.2f} {result.currency}")
    plt.xlabel("hours from start")
    text = plt.uncolorize(plt.build())
    plt.clear_figure()
    return text


def result_rows(result: Any) -> list[dict[str, Any]]:
    """One row per step: time, power per device (kW), SoC at the step's end (kWh), site (kW)."""
    rows = []
    g = result.grid
    for i in range(g.n_steps):
        row: dict[str, Any] = {"start": g.time_at_step(i).isoformat()}
        for d in result.devices:
            row[f"{d.name} kW"] = round(float(d.power_mw[i]) * 1000, 3)
            if d.soc_mwh is not None:
                row[f"{d.name} SoC kWh"] = round(float(d.soc_mwh[i + 1]) * 1000, 3)
        row["site kW"] = round(float(result.site_power_mw[i]) * 1000, 3)
        rows.append(row)
    return rows


def _may_warn(result: Any) -> bool:
    """Whether a result has anything ``warnings_from_result`` reports: unmet soft targets,
    breached soft limits (a breach cost) or notes."""
    breach = any("breach" in k and v > 1e-9 for k, v in (result.costs or {}).items())
    return bool(getattr(result, "unmet", None) or getattr(result, "notes", None) or breach)


def _print_result(result: Any, fmt: str, chart: bool = True, warnings: bool = True) -> None:
    if fmt == "json":
        typer.echo(dumps(result.to_json()))
        return
    rows = result_rows(result)
    title = f"Schedule ({result.backend}, {result.status})"
    if len(rows) > MAX_TABLE_ROWS:
        rows = rows[:MAX_TABLE_ROWS]
        title += f" — first {MAX_TABLE_ROWS} steps; --format json lists all"
    emit_records(rows, "table", title=title)
    if chart:
        typer.echo(schedule_chart(result))
    costs = [{"cost": k, result.currency: round(v, 6)} for k, v in result.costs.items()]
    emit_records(costs, "table", title=f"Costs ({result.currency})")
    timing = ", ".join(f"{k} {v:.3f} s" for k, v in result.timings.items())
    how = f"method {result.method}; " if result.method else ""
    console.print(f"objective {result.objective:.6f}; {how}binaries {result.binaries}; {timing}")
    if not (warnings and _may_warn(result)):
        return  # (the service package is heavy to import for a stateless solve)
    from flex_pipelines.service.records import warnings_from_result

    for w in warnings_from_result(result):
        console.print(f"[yellow]{'unmet' if w.kind == 'unmet-target' else w.kind}[/] {w.message}")


METHOD_HELP = (
    "highs backend: auto (default: dp where it applies, else milp), dp (dynamic "
    "programme over the SoC) or milp (LP first, binaries where needed)."
)


def _check_steps(data: Any) -> None:
    """Refuse a window of more than ``MAX_SCHEDULE_STEPS`` steps (the API's limit) before any
    array is allocated; anything else wrong with the window is left to the parser to name."""
    from flex_pipelines.scheduling.grid import make_grid
    from flex_pipelines.time import MAX_SCHEDULE_STEPS, format_duration, parse_datetime

    if not isinstance(data, dict) or "start" not in data:
        return
    try:
        start = data["start"]
        if data.get("timezone"):
            start = parse_datetime(start, str(data["timezone"]))
        grid = make_grid(
            start,
            data.get("resolution", "PT15M"),
            duration=data.get("duration"),
            end=data.get("end"),
        )
    except (FlexPipelinesError, TypeError, ValueError):
        return
    if grid.n_steps > MAX_SCHEDULE_STEPS:
        raise FlexPipelinesError(
            f"problem: the window from {grid.start.isoformat()} to {grid.end.isoformat()} holds "
            f"{grid.n_steps:,} steps of {format_duration(grid.resolution)}; at most "
            f"{MAX_SCHEDULE_STEPS:,} (a year of quarter hours): use a shorter window or a "
            "coarser resolution"
        )


def solve_cmd(
    problem: Annotated[Path, typer.Argument(help="Problem JSON file ('-' for stdin).")],
    backend: Annotated[str, typer.Option("--backend", help="highs (default) or pyomo.")] = "highs",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Draw a chart.")] = True,
    method: Annotated[str, typer.Option("--method", help=METHOD_HELP)] = "auto",
) -> None:
    """Solve a self-contained storage scheduling problem (no database needed)."""
    from flex_pipelines.scheduling.storage import solve_problem_json

    require_format(fmt)
    try:
        text = typer.get_text_stream("stdin").read() if str(problem) == "-" else problem.read_text()
        data = json.loads(text)
        _check_steps(data)
        result = solve_problem_json(data, backend=backend, method=method)
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"Error: cannot read problem {problem}: {exc}", err=True)
        raise typer.Exit(2) from exc
    except FlexPipelinesError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print_result(result, fmt, chart)


def for_storage(
    start: Annotated[str, typer.Option("--start", help="Window start, ISO 8601 with offset.")],
    duration: Annotated[str, typer.Option("--duration", help="Window length, ISO 8601.")] = "PT24H",
    sensor: Annotated[int | None, typer.Option("--sensor", help="Power sensor id.")] = None,
    asset: Annotated[
        int | None, typer.Option("--asset", help="Asset id: a device, or a site (all devices).")
    ] = None,
    consumption_price_sensor: Annotated[
        int | None, typer.Option("--consumption-price-sensor", help="Price sensor id.")
    ] = None,
    production_price_sensor: Annotated[
        int | None, typer.Option("--production-price-sensor", help="Feed-in price sensor id.")
    ] = None,
    inflexible_device_sensor: Annotated[
        list[int] | None,
        typer.Option("--inflexible-device-sensor", help="Inflexible load/PV sensor (repeatable)."),
    ] = None,
    soc_at_start: Annotated[
        str | None, typer.Option("--soc-at-start", help="e.g. 50% or 225kWh")
    ] = None,
    soc_min: Annotated[str | None, typer.Option("--soc-min")] = None,
    soc_max: Annotated[str | None, typer.Option("--soc-max")] = None,
    roundtrip_efficiency: Annotated[str | None, typer.Option("--roundtrip-efficiency")] = None,
    storage_efficiency: Annotated[str | None, typer.Option("--storage-efficiency")] = None,
    flex_model: Annotated[str | None, typer.Option("--flex-model", help="Flex-model JSON.")] = None,
    flex_context: Annotated[
        str | None, typer.Option("--flex-context", help="Flex-context JSON.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Use data known then; the belief time.")
    ] = None,
    backend: Annotated[str, typer.Option("--backend", help="highs or pyomo.")] = "highs",
    method: Annotated[str, typer.Option("--method", help=METHOD_HELP)] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute, do not save.")] = False,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Draw a chart.")] = True,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = str(DEFAULT_DB),
) -> None:
    """Schedule storage devices from stored data and save the schedules as beliefs."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.service import LOCAL_ADMIN, schedule
    from flex_pipelines.time import add_duration, parse_datetime, parse_duration

    require_format(fmt)
    try:
        if (sensor is None) == (asset is None):
            raise FlexPipelinesError("give exactly one of --sensor and --asset")
        fm: Any = json.loads(flex_model) if flex_model else {}
        fc: dict[str, Any] = json.loads(flex_context) if flex_context else {}
        options = {
            "soc-at-start": soc_at_start,
            "soc-min": soc_min,
            "soc-max": soc_max,
            "roundtrip-efficiency": roundtrip_efficiency,
            "storage-efficiency": storage_efficiency,
        }
        given = {k: v for k, v in options.items() if v is not None}
        if given:
            if isinstance(fm, list):
                raise FlexPipelinesError(
                    "--soc-* options apply to one device; put them in --flex-model"
                )
            fm = {**fm, **given}
        if consumption_price_sensor is not None:
            fc["consumption-price"] = {"sensor": consumption_price_sensor}
        if production_price_sensor is not None:
            fc["production-price"] = {"sensor": production_price_sensor}
        if inflexible_device_sensor:
            fc["inflexible-device-sensors"] = list(inflexible_device_sensor)
        start_dt = parse_datetime(start)
        with open_store(db) as store:
            records = schedule(
                LOCAL_ADMIN,
                store,
                start_dt,
                add_duration(start_dt, parse_duration(duration)),
                sensor_id=sensor,
                asset_id=asset,
                flex_model=fm or None,
                flex_context=fc or None,
                as_of=parse_datetime(as_of) if as_of else None,
                backend=backend,
                save=not dry_run,
                method=method,
            )
    except json.JSONDecodeError as exc:
        typer.echo(f"Error: --flex-model/--flex-context is not valid JSON: {exc}", err=True)
        raise typer.Exit(2) from exc
    except FlexPipelinesError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc
    runs = [(rec, r) for rec in records for r in rec.runs]
    if fmt == "json":
        out = []
        for rec, r in runs:
            res = r.result.result if r.scheduler == "StorageScheduler" else None
            item = res.to_json() if res is not None else {"process": r.result.to_record()}
            item["site_id"] = rec.site_id
            item["belief_time"] = rec.belief_time.isoformat()
            item["source_id"] = r.source_id
            item["saved"] = r.n_new
            item["warnings"] = [w.to_json() for w in rec.warnings]
            out.append(item)
        typer.echo(dumps(out[0] if len(out) == 1 else out))
        return
    for _, r in runs:
        if r.scheduler == "StorageScheduler":
            _print_result(r.result.result, fmt, chart, warnings=False)
        else:
            console.print(f"process on sensor {r.power_sensor_ids[0]}: cost {r.cost_eur:.2f} EUR")
    for rec in records:
        for w in rec.warnings:
            console.print(
                f"[yellow]{'unmet' if w.kind == 'unmet-target' else w.kind}[/] {w.message}"
            )
        if dry_run:
            console.print("Dry run: nothing saved.")
        else:
            console.print(
                f"Saved {rec.n_beliefs} new belief(s) (site {rec.site_id}, source(s) "
                f"{', '.join(map(str, rec.source_ids))}, belief time {rec.belief_time.isoformat()})."
            )


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    """``flexpipe schedule solve`` and ``flexpipe add schedule for-storage``."""
    schedule_app = typer.Typer(help="Stateless scheduling (no database).", no_args_is_help=True)
    schedule_app.command("solve")(solve_cmd)
    app.add_typer(schedule_app, name="schedule")
    schedule_group(add_app).command("for-storage")(for_storage)
