"""``flexpipe db …``, ``flexpipe add account|asset|sensor|source|toy-account``,
``flexpipe show accounts|assets|sensors|sources``; the belief commands (``add|show|delete
beliefs``) are in :mod:`flex_pipelines.cli.belief_cmds` and registered from here."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer

from flex_pipelines.beliefs import KnowledgeHorizon, redact
from flex_pipelines.cli.belief_cmds import register_beliefs
from flex_pipelines.cli.common import (
    CLIError,
    DbOption,
    FormatOption,
    WaitOption,
    console,
    default_db,
    dumps,
    emit_records,
    open_db,
)
from flex_pipelines.time import parse_timedelta
from flex_pipelines.toy import create_toy_account

DB_DEFAULT = default_db()


def _record(obj: Any) -> dict[str, Any]:
    d = asdict(obj)
    for k, v in list(d.items()):
        if isinstance(v, dict) and k == "knowledge_horizon":
            d[k] = KnowledgeHorizon(**v).to_json()
    return d


def _json_arg(text: str | None, name: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(value, dict):
        raise CLIError(f"{name} must be a JSON object, not {type(value).__name__}")
    return value


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    @db_app.command("init")
    def db_init(db: DbOption = DB_DEFAULT, wait: WaitOption = None) -> None:
        """Create the belief store's tables and views (safe to run again)."""
        with open_db(db, wait=wait) as store:
            console.print(
                f"[green]Store ready[/] at {redact(store.url)} ({store.dialect}); "
                f"{store.count_beliefs()} beliefs stored."
            )

    @add_app.command("account")
    def add_account(
        name: str = typer.Option(..., "--name"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Add an account (owner of assets and users)."""
        with open_db(db) as store:
            emit_records([_record(store.add_account(name))], fmt, "account added")

    @add_app.command("asset")
    def add_asset(
        name: str = typer.Option(..., "--name"),
        asset_type: str = typer.Option(..., "--type", help="battery, building, process, solar…"),
        account_id: int | None = typer.Option(None, "--account"),
        parent_id: int | None = typer.Option(None, "--parent"),
        timezone: str = typer.Option("UTC", "--timezone"),
        latitude: float | None = typer.Option(None, "--latitude"),
        longitude: float | None = typer.Option(None, "--longitude"),
        flex_model: str | None = typer.Option(None, "--flex-model", help="JSON object"),
        flex_context: str | None = typer.Option(None, "--flex-context", help="JSON object"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Add an asset (optionally below a parent, with a stored flex-model/flex-context)."""
        with open_db(db) as store:
            a = store.add_asset(
                name,
                asset_type,
                account_id,
                parent_id,
                latitude=latitude,
                longitude=longitude,
                timezone=timezone,
                flex_model=_json_arg(flex_model, "--flex-model"),
                flex_context=_json_arg(flex_context, "--flex-context"),
            )
            emit_records([_record(a)], fmt, "asset added")

    @add_app.command("sensor")
    def add_sensor(
        name: str = typer.Option(..., "--name"),
        unit: str = typer.Option(..., "--unit", help="kW, MW, EUR/MWh, %, kWh…"),
        resolution: str = typer.Option(..., "--event-resolution", help="ISO 8601, e.g. PT15M"),
        timezone: str = typer.Option("UTC", "--timezone"),
        asset_id: int | None = typer.Option(None, "--asset"),
        knowledge: str | None = typer.Option(
            None,
            "--knowledge-horizon",
            help='JSON, e.g. {"kind": "day_ahead", "hour": 12} or {"kind": "ex_post"}',
        ),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Add a sensor: a time series with a unit, resolution, timezone and knowledge rule."""
        kh = KnowledgeHorizon.from_json(_json_arg(knowledge, "--knowledge-horizon"))
        with open_db(db) as store:
            s = store.add_sensor(
                name,
                unit,
                parse_timedelta(resolution),
                timezone=timezone,
                asset_id=asset_id,
                knowledge_horizon=kh,
            )
            emit_records([_record(s)], fmt, "sensor added")

    @add_app.command("source")
    def add_source(
        name: str = typer.Option(..., "--name"),
        source_type: str = typer.Option("user", "--type"),
        model: str | None = typer.Option(None, "--model"),
        version: str | None = typer.Option(None, "--version"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Add a data source (user, forecaster, scheduler, reporter, market…)."""
        with open_db(db) as store:
            emit_records(
                [_record(store.get_or_create_source(name, source_type, model, version))],
                fmt,
                "source",
            )

    @add_app.command("toy-account")
    def add_toy_account(
        kind: str = typer.Option("battery", "--kind", help="battery or process"),
        name: str = typer.Option("Toy Account", "--name"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Create FlexMeasures' toy account: a building with a battery (or a process) and prices."""
        with open_db(db) as store:
            made = create_toy_account(store, kind=kind, name=name)
        if fmt == "json":
            typer.echo(dumps(made))
            return
        emit_records(
            [{"what": k, "id": v["id"], "name": v["name"]} for k, v in made.items()],
            fmt,
            f"toy account ({kind})",
        )

    def _list(kind: str, fmt: str, db: str, wait: str | None = None, **kw: Any) -> None:
        with open_db(db, read_only=True, wait=wait) as store:
            items = {
                "accounts": store.list_accounts,
                "assets": store.list_assets,
                "sensors": store.list_sensors,
                "sources": store.list_sources,
            }[kind](**kw)
        emit_records([_record(x) for x in items], fmt, kind)

    @show_app.command("accounts")
    def show_accounts(
        db: DbOption = DB_DEFAULT, fmt: FormatOption = "table", wait: WaitOption = None
    ) -> None:
        """List accounts."""
        _list("accounts", fmt, db, wait)

    @show_app.command("assets")
    def show_assets(
        account_id: int | None = typer.Option(None, "--account"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """List assets."""
        _list("assets", fmt, db, wait, account_id=account_id)

    @show_app.command("sensors")
    def show_sensors(
        asset_id: int | None = typer.Option(None, "--asset"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """List sensors."""
        _list("sensors", fmt, db, wait, asset_id=asset_id)

    @show_app.command("sources")
    def show_sources(
        db: DbOption = DB_DEFAULT, fmt: FormatOption = "table", wait: WaitOption = None
    ) -> None:
        """List data sources."""
        _list("sources", fmt, db, wait)

    register_beliefs(add_app, show_app, delete_app)
