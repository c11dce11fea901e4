"""``flexpipe add beliefs`` (CSV), ``flexpipe show beliefs`` and ``flexpipe delete beliefs``
(registered by :mod:`flex_pipelines.cli.store_cmds`)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from flex_pipelines.beliefs.csv_read import header_is_data, read_table
from flex_pipelines.beliefs.ingest import CSVOptions, read_csv_beliefs
from flex_pipelines.cli.charts import terminal_line_chart
from flex_pipelines.cli.common import (
    CLIError,
    DbOption,
    FormatOption,
    WaitOption,
    console,
    default_db,
    dumps,
    emit_records,
    err_console,
    open_db,
)
from flex_pipelines.time import add_duration, parse_datetime, parse_timedelta

DB_DEFAULT = default_db()


def register_beliefs(add_app: typer.Typer, show_app: typer.Typer, delete_app: typer.Typer) -> None:
    """Register the belief commands on the ``add``, ``show`` and ``delete`` groups."""

    @add_app.command("beliefs")
    def add_beliefs(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV file"),
        sensor_id: int = typer.Option(..., "--sensor"),
        source: str = typer.Option(
            ..., "--source", help="existing source id or name, or a new name"
        ),
        source_type: str = typer.Option("user", "--source-type"),
        unit: str | None = typer.Option(None, "--unit", help="unit of the file's values"),
        timezone: str | None = typer.Option(None, "--timezone", help="localise naive timestamps"),
        belief_time: str | None = typer.Option(None, "--belief-time"),
        horizon: str | None = typer.Option(None, "--horizon", help="ISO 8601, e.g. PT36H"),
        datecol: str = typer.Option("0", "--datecol"),
        valuecol: str = typer.Option("1", "--valuecol"),
        skiprows: int = typer.Option(0, "--skiprows", help="rows to skip before the header"),
        no_header: bool = typer.Option(False, "--no-header"),
        delimiter: str = typer.Option(",", "--delimiter"),
        off_tick: str = typer.Option("reject", "--off-tick", help="reject or floor"),
        overwrite: bool = typer.Option(False, "--overwrite"),
        keep_unchanged: bool = typer.Option(
            False,
            "--keep-unchanged",
            help="Also store beliefs that repeat the source's latest belief about their event "
            "(e.g. forecasts kept per horizon); by default they are skipped.",
        ),
        skip_missing: bool = typer.Option(
            False,
            "--skip-missing",
            help="skip rows whose value or timestamp is empty, NaN or not a number (counted)",
        ),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Add beliefs from a CSV file (event start, value)."""
        import io

        import polars as pl

        def drop_missing(data: bytes) -> tuple[bytes, int, bool]:
            """The CSV without rows lacking a timestamp or a numeric value, their count, and
            whether it has a header (a header row that is data is read as data)."""
            raw = read_table(data, str(file), opts)
            cols = raw.columns
            header = not no_header and not header_is_data(data, opts)

            def col(c: str) -> str:
                return cols[int(c)] if c.isdigit() and int(c) < len(cols) else c

            if col(valuecol) not in cols or col(datecol) not in cols:
                return data, 0, not no_header  # the reader names the missing column
            value = raw[col(valuecol)].str.strip_chars().cast(pl.Float64, strict=False)
            stamp = raw[col(datecol)].str.strip_chars()
            bad = value.is_null() | value.is_nan() | stamp.is_null() | (stamp == "")
            if raw.height and bool(bad.all()):
                raise CLIError(f"{file}: all {raw.height} rows lack a timestamp or a value")
            buf = io.BytesIO()
            raw.filter(~bad).write_csv(buf, separator=delimiter, include_header=header)
            return buf.getvalue(), int(bad.sum()), header

        opts = CSVOptions(
            datecol=datecol,
            valuecol=valuecol,
            skiprows=skiprows,
            header=not no_header,
            delimiter=delimiter,
            timezone=timezone,
            unit=unit,
            belief_time=parse_datetime(belief_time) if belief_time else None,
            horizon=parse_timedelta(horizon) if horizon else None,
            off_tick=off_tick,
        )
        data, skipped = file.read_bytes(), 0
        # one transaction: a refused file leaves no trace, not even a new source
        with (
            open_db(db, wait=wait) as store,
            store.transaction(),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            if skip_missing:  # the rows before the header are gone from the filtered CSV
                data, skipped, header = drop_missing(data)
                opts = replace(opts, skiprows=0, header=header)
            sensor = store.get_sensor(sensor_id)
            try:
                src = store.get_source(source)
            except LookupError:
                if source.isdigit():
                    raise
                src = store.get_or_create_source(source, source_type)
            frame = read_csv_beliefs(data, sensor, src.id, opts, name=str(file))
            for w in caught:  # on stderr: with --format json stdout stays JSON only
                err_console.print(f"[yellow]Warning:[/] {w.message}")
            result = store.save_beliefs(frame, overwrite=overwrite, changed_only=not keep_unchanged)
        rec = {
            "sensor": sensor.id,
            "source": src.id,
            "rows": frame.height,
            "new": result.n_new,
            "already_stored": result.n_existing,
            "ingestion_id": result.ingestion_id,
            "skipped_missing": skipped,
        }
        if fmt == "json":
            typer.echo(dumps(rec))
        else:
            console.print(
                f"[green]Saved[/] {result.n_new} new beliefs on sensor {sensor.id} ({sensor.name}) "
                f"from source {src.name!r}; {result.n_existing} were already stored or unchanged."
                + (f" Skipped {skipped} rows without a timestamp or value." if skip_missing else "")
            )

    @show_app.command("beliefs")
    def show_beliefs(
        sensor_ids: list[int] = typer.Option(..., "--sensor"),
        start: str = typer.Option(..., "--start"),
        duration: str = typer.Option(..., "--duration", help="ISO 8601, e.g. P1D"),
        belief_time: str | None = typer.Option(None, "--belief-time", help="as known at this time"),
        source: str | None = typer.Option(None, "--source", help="source id or name"),
        resolution: str | None = typer.Option(None, "--resolution"),
        all_beliefs: bool = typer.Option(False, "--all", help="every belief, not one per event"),
        db: DbOption = DB_DEFAULT,
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="table, csv, json or chart")
        ] = "table",
        wait: WaitOption = None,
    ) -> None:
        """Show beliefs about events in a window (one value per event, as of a belief time)."""
        t0 = parse_datetime(start)
        t1 = add_duration(t0, duration)
        with open_db(db, read_only=True, wait=wait) as store:
            sensors = {s: store.get_sensor(s) for s in sensor_ids}
            src = [store.get_source(source).id] if source else None
            df = store.search_beliefs(
                sensor_ids,
                t0,
                t1,
                as_of=parse_datetime(belief_time) if belief_time else None,
                source_ids=src,
                one_per_event=not all_beliefs,
                resolution=parse_timedelta(resolution) if resolution else None,
            )
        if df.is_empty():
            console.print(
                f"No beliefs for sensor(s) {sensor_ids} in {t0.isoformat()}–{t1.isoformat()}."
            )
            raise typer.Exit(0)
        if fmt == "chart":
            for sid, s in sensors.items():
                part = df.filter(df["sensor_id"] == sid)
                tz = s.timezone
                xs = [t.astimezone(ZoneInfo(tz)) for t in part["event_start"]]
                terminal_line_chart(
                    {f"{s.name} ({s.unit})": (xs, part["event_value"].to_list())},
                    title=f"sensor {sid}: {s.name}, {t0.isoformat()} + {duration}",
                    ylabel=s.unit,
                )
            return
        recs = df.to_dicts()
        if fmt == "table":
            recs = [
                {
                    "sensor": r["sensor_id"],
                    "event_start": r["event_start"].astimezone(
                        ZoneInfo(sensors[r["sensor_id"]].timezone)
                    ),
                    "value": r["event_value"],
                    "unit": sensors[r["sensor_id"]].unit,
                    "belief_time": r["belief_time"],
                    "source": r["source_id"],
                    **({"p": r["cumulative_probability"]} if all_beliefs else {}),
                }
                for r in recs
            ]
        emit_records(recs, fmt, f"beliefs ({t0.isoformat()} + {duration})")

    @delete_app.command("beliefs")
    def delete_beliefs(
        sensor_ids: list[int] = typer.Option(..., "--sensor"),
        start: str | None = typer.Option(None, "--start"),
        end: str | None = typer.Option(None, "--end"),
        source: str | None = typer.Option(None, "--source"),
        yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
        db: DbOption = DB_DEFAULT,
        wait: WaitOption = None,
    ) -> None:
        """Delete beliefs of sensors (optionally in a window, of one source)."""
        with open_db(db, wait=wait) as store:
            src = [store.get_source(source).id] if source else None
            t0 = parse_datetime(start) if start else None
            t1 = parse_datetime(end) if end else None
            if not yes:
                typer.confirm(f"Delete beliefs of sensor(s) {sensor_ids}?", abort=True)
            n = store.delete_beliefs(sensor_ids, t0, t1, source_ids=src)
        console.print(f"Deleted {n} beliefs.")
