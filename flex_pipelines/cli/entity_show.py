"""``flexpipe show asset|sensor|source --id``: one entity with what hangs off it, as a
field/value table or (``-f json``) one JSON object (issue 17). The lists are ``show assets``,
``show sensors`` and ``show sources`` (:mod:`flex_pipelines.cli.store_cmds`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from flex_pipelines.beliefs import BeliefStore, Sensor, duckdb_path, open_store
from flex_pipelines.cli.common import (
    CLIError,
    DbOption,
    FormatOption,
    WaitOption,
    default_db,
    dumps,
    emit_records,
    require_format,
)
from flex_pipelines.time import parse_timedelta

DB_DEFAULT = default_db()


def wait_s(wait: str | None) -> float:
    """Seconds of ``--wait`` (0 without)."""
    return parse_timedelta(wait).total_seconds() if wait else 0.0


def open_existing(db: str, lock_wait_s: float, *, read_only: bool = False) -> BeliefStore:
    """The store; a DuckDB file must exist (an edit or a show never creates an empty one)."""
    path = duckdb_path(db)
    if path and not Path(path).is_file():
        raise CLIError(f"no DuckDB store at {path}")
    return open_store(db, read_only=read_only and bool(path), lock_wait_s=lock_wait_s)


def show_one(record: dict[str, Any], fmt: str, title: str) -> None:
    """One entity: a JSON object, or a table of fields and values."""
    if fmt == "json":
        typer.echo(dumps(record))
        return
    emit_records([{"field": k, "value": v} for k, v in record.items()], fmt, title)


def _belief_span(store: BeliefStore, column: str, value: int) -> dict[str, Any]:
    """How many beliefs, and the first event, last event and last belief time."""
    row = store.query(
        "SELECT count(*) AS n, min(event_start) AS first_event_start, max(event_start) AS "
        f"last_event_start, max(belief_time) AS last_belief_time FROM beliefs WHERE {column} = ?",
        [value],
    ).row(0, named=True)
    return {**row, "beliefs": int(row.pop("n"))}


def sensor_record(store: BeliefStore, s: Sensor) -> dict[str, Any]:
    """A sensor with its knowledge horizon as JSON, its asset and its beliefs' span."""
    d = asdict(s)
    d["knowledge_horizon"] = s.knowledge_horizon.to_json()
    if s.asset_id is not None:
        a = store.get_asset(s.asset_id)
        d["asset"] = {"id": a.id, "name": a.name, "account_id": a.account_id}
    return {**d, **_belief_span(store, "sensor_id", s.id)}


def register_show(show_app: typer.Typer) -> None:
    """Add ``show asset``, ``show sensor`` and ``show source``."""

    from flex_pipelines.sites import AssetTree

    @show_app.command("asset")
    def show_asset(
        asset_id: Annotated[int, typer.Option("--id")],
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """One asset with its flex-model, flex-context, attributes, children and sensors."""
        require_format(fmt)
        with open_existing(db, wait_s(wait), read_only=True) as store:
            a = store.get_asset(asset_id)
            record = asdict(a)
            record["children"] = [
                {"id": c.id, "name": c.name, "type": c.type}
                for c in AssetTree.load(store).children(a.id)
            ]
            record["sensors"] = [
                {"id": s.id, "name": s.name, "unit": s.unit, "event_resolution": s.event_resolution}
                for s in store.list_sensors(asset_id=a.id)
            ]
        show_one(record, fmt, f"asset {a.id}")

    @show_app.command("sensor")
    def show_sensor(
        sensor_id: Annotated[int, typer.Option("--id")],
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """One sensor with its asset and how many beliefs it holds over which events."""
        require_format(fmt)
        with open_existing(db, wait_s(wait), read_only=True) as store:
            record = sensor_record(store, store.get_sensor(sensor_id))
        show_one(record, fmt, f"sensor {sensor_id}")

    @show_app.command("source")
    def show_source(
        source: Annotated[str, typer.Option("--id", help="Source id or name.")],
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """One data source with how many beliefs it made and on which sensors."""
        require_format(fmt)
        with open_existing(db, wait_s(wait), read_only=True) as store:
            src = store.get_source(source)
            record = {**asdict(src), **_belief_span(store, "source_id", src.id)}
            sensors = store.query(
                "SELECT DISTINCT sensor_id FROM beliefs WHERE source_id = ? ORDER BY sensor_id",
                [src.id],
            )
            record["sensors"] = [int(i) for i in sensors["sensor_id"].to_list()]
        show_one(record, fmt, f"source {src.id}")
