"""Assets and sensors on the command line (issue 17): ``flexpipe edit asset|sensor|attribute``
here, ``delete asset|sensor`` in :mod:`~flex_pipelines.cli.entity_delete` and ``show
asset|sensor|source`` (one entity; ``-f json`` an object) in
:mod:`~flex_pipelines.cli.entity_show`.

The CLI acts as the local admin (:data:`~flex_pipelines.service.access.LOCAL_ADMIN`): stored
flex-models, flex-contexts and report configurations still go through
:func:`~flex_pipelines.service.config.authorize_asset_config` and a sensor's forecast config
through :func:`~flex_pipelines.service.forecast_report.prepare_forecast`, as the API's, so an
unknown or malformed sensor reference is refused before anything is stored. The store records
every change in the audit log under the OS user's name. Sources are records of who made
beliefs and are not edited or deleted (as in FlexMeasures); ``delete beliefs --source`` removes
what a source believed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer

from flex_pipelines.beliefs import Asset, BeliefStore, KnowledgeHorizon
from flex_pipelines.beliefs.audit import acting_as, cli_actor
from flex_pipelines.cli.common import (
    CLIError,
    DbOption,
    FormatOption,
    WaitOption,
    default_db,
    emit_records,
    err_console,
    require_format,
)
from flex_pipelines.cli.entity_delete import register_delete
from flex_pipelines.cli.entity_show import (
    open_existing,
    register_show,
    sensor_record,
    show_one,
    wait_s,
)
from flex_pipelines.errors import NotFoundError

DB_DEFAULT = default_db()
AttributeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--attribute",
        help='KEY=VALUE, VALUE as JSON (5, true, "text", [1, 2], {"a": 1}, null); text that is '
        "not JSON is a string. Repeat for several.",
    ),
]
RemoveOption = Annotated[
    list[str] | None, typer.Option("--remove-attribute", help="Remove this attribute (repeat).")
]


def edit_group(app: typer.Typer) -> typer.Typer:
    """The ``edit`` sub-app another module registered, or a new one."""
    for group in app.registered_groups:
        inst = group.typer_instance
        if group.name == "edit" and inst is not None:
            return inst
    sub = typer.Typer(help="Change accounts, users, assets and sensors.", no_args_is_help=True)
    app.add_typer(sub, name="edit")
    return sub


def json_arg(text: str, option: str, kind: type | None = dict) -> Any:
    """A JSON option's value, of the expected kind (None: any)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{option} is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if kind is not None and not isinstance(value, kind):
        raise CLIError(f"{option} must be a JSON {kind.__name__}, not {type(value).__name__}")
    return value


def edited_attributes(
    current: dict[str, Any], set_: list[str] | None, remove: list[str] | None
) -> dict[str, Any]:
    """The attributes after ``--attribute KEY=VALUE`` and ``--remove-attribute KEY``."""
    attrs = dict(current)
    for item in set_ or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--attribute {item!r} is not KEY=VALUE")
        try:
            attrs[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            attrs[key.strip()] = raw
    for key in remove or []:
        if key not in attrs:
            raise CLIError(f"--remove-attribute {key!r}: no such attribute")
        del attrs[key]
    return attrs


def check_asset_config(store: BeliefStore, fields: dict[str, Any]) -> None:
    """The local admin's check of a stored flex-model, flex-context and ``reports``."""
    from flex_pipelines.service.access import LOCAL_ADMIN
    from flex_pipelines.service.config import authorize_asset_config

    try:
        authorize_asset_config(
            LOCAL_ADMIN,
            store,
            flex_model=fields.get("flex_model"),
            flex_context=fields.get("flex_context"),
            attributes=fields.get("attributes"),
        )
    except NotFoundError as exc:
        given = [k.replace("_", "-") for k in ("flex_model", "flex_context") if k in fields]
        given += ["attributes.reports"] if "attributes" in fields else []
        raise NotFoundError(f"{exc} (named in {', '.join(given)})") from exc


def check_sensor_config(store: BeliefStore, sensor_id: int, attributes: dict[str, Any]) -> None:
    """A forecast config is checked as the API checks it (the service's one check)."""
    from flex_pipelines.service.access import LOCAL_ADMIN
    from flex_pipelines.service.forecast_report import check_forecast_config

    check_forecast_config(LOCAL_ADMIN, store, sensor_id, attributes)


def asset_record(a: Asset) -> dict[str, Any]:
    return asdict(a)


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    edit_app = edit_group(app)
    register_show(show_app)
    register_delete(delete_app)

    @edit_app.command("asset")
    def edit_asset(
        asset_id: Annotated[int, typer.Option("--id")],
        name: Annotated[str | None, typer.Option("--name")] = None,
        asset_type: Annotated[str | None, typer.Option("--type")] = None,
        parent_id: Annotated[int | None, typer.Option("--parent", help="A new parent.")] = None,
        top_level: Annotated[
            bool, typer.Option("--no-parent", help="Make it a top-level asset.")
        ] = False,
        latitude: Annotated[float | None, typer.Option("--latitude")] = None,
        longitude: Annotated[float | None, typer.Option("--longitude")] = None,
        timezone: Annotated[str | None, typer.Option("--timezone")] = None,
        flex_model: Annotated[
            str | None, typer.Option("--flex-model", help="JSON object; replaces the stored one.")
        ] = None,
        flex_context: Annotated[
            str | None,
            typer.Option("--flex-context", help="JSON object; replaces the stored one."),
        ] = None,
        attribute: AttributeOption = None,
        remove_attribute: RemoveOption = None,
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Change an asset: name, type, parent, location, timezone, flex-model, flex-context,
        attributes (checked like the API's, recorded in the audit log)."""
        require_format(fmt)
        if parent_id is not None and top_level:
            raise CLIError("give --parent or --no-parent, not both")
        fields: dict[str, Any] = {}
        for key, value in (
            ("name", name),
            ("type", asset_type),
            ("latitude", latitude),
            ("longitude", longitude),
        ):
            if value is not None:
                fields[key] = value
        if timezone is not None:
            from flex_pipelines.time import get_zone

            get_zone(timezone)
            fields["timezone"] = timezone
        if flex_model is not None:
            fields["flex_model"] = json_arg(flex_model, "--flex-model")
        if flex_context is not None:
            fields["flex_context"] = json_arg(flex_context, "--flex-context")
        with open_existing(db, wait_s(wait)) as store, acting_as(cli_actor()):
            asset = store.get_asset(asset_id)
            if parent_id is not None:
                parent = store.get_asset(parent_id)
                if parent.account_id != asset.account_id:
                    raise CLIError(
                        f"--parent {parent.id} belongs to account {parent.account_id}, asset "
                        f"{asset.id} to account {asset.account_id}"
                    )
                fields["parent_id"] = parent.id
            if top_level:
                fields["parent_id"] = None
            attrs = edited_attributes(asset.attributes, attribute, remove_attribute)
            if attrs != asset.attributes:
                fields["attributes"] = attrs
            if not fields:
                raise CLIError("nothing to change: give at least one option (see --help)")
            check_asset_config(store, fields)
            updated = store.update_asset(asset.id, **fields)
        show_one(asset_record(updated), fmt, f"asset {updated.id}")

    @edit_app.command("sensor")
    def edit_sensor(
        sensor_id: Annotated[int, typer.Option("--id")],
        name: Annotated[str | None, typer.Option("--name")] = None,
        unit: Annotated[
            str | None, typer.Option("--unit", help="Stored values are not converted.")
        ] = None,
        timezone: Annotated[str | None, typer.Option("--timezone")] = None,
        knowledge: Annotated[
            str | None,
            typer.Option("--knowledge-horizon", help='JSON, e.g. {"kind": "ex_post"}'),
        ] = None,
        attribute: AttributeOption = None,
        remove_attribute: RemoveOption = None,
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Change a sensor: name, unit, timezone, knowledge horizon, attributes (a forecast
        config's regressors must exist; recorded in the audit log)."""
        require_format(fmt)
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = name
        if unit is not None:
            from flex_pipelines.units import validate_unit

            validate_unit(unit)
            fields["unit"] = unit
        if timezone is not None:
            from flex_pipelines.time import get_zone

            get_zone(timezone)
            fields["timezone"] = timezone
        if knowledge is not None:
            kh = json_arg(knowledge, "--knowledge-horizon")
            fields["knowledge_horizon"] = KnowledgeHorizon.from_json(kh)
        with open_existing(db, wait_s(wait)) as store, acting_as(cli_actor()):
            sensor = store.get_sensor(sensor_id)
            attrs = edited_attributes(sensor.attributes, attribute, remove_attribute)
            if attrs != sensor.attributes:
                check_sensor_config(store, sensor.id, attrs)
                fields["attributes"] = attrs
            if not fields:
                raise CLIError("nothing to change: give at least one option (see --help)")
            n = store.count_beliefs(sensor.id) if unit not in (None, sensor.unit) else 0
            updated = store.update_sensor(sensor.id, **fields)
            record = sensor_record(store, updated)
        if n:
            err_console.print(
                f"[yellow]Warning:[/] the {n} stored beliefs of sensor {sensor.id} keep their "
                f"values: they were in {sensor.unit} and are now read in {unit}"
            )
        show_one(record, fmt, f"sensor {updated.id}")

    @edit_app.command("attribute")
    def edit_attribute(
        key: Annotated[str, typer.Option("--attribute", help="The attribute's name.")],
        asset_ids: Annotated[list[int] | None, typer.Option("--asset", help="Repeat.")] = None,
        sensor_ids: Annotated[list[int] | None, typer.Option("--sensor", help="Repeat.")] = None,
        value: Annotated[str | None, typer.Option("--value", help="Any JSON value.")] = None,
        float_value: Annotated[float | None, typer.Option("--float")] = None,
        int_value: Annotated[int | None, typer.Option("--int")] = None,
        bool_value: Annotated[bool | None, typer.Option("--bool/--no-bool")] = None,
        str_value: Annotated[str | None, typer.Option("--str")] = None,
        list_value: Annotated[str | None, typer.Option("--list", help="A JSON list.")] = None,
        dict_value: Annotated[str | None, typer.Option("--dict", help="A JSON object.")] = None,
        null: Annotated[bool, typer.Option("--null", help="Set it to null.")] = False,
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Set one attribute of assets and sensors (FlexMeasures' edit attribute)."""
        require_format(fmt)
        given = [
            v
            for v in (value, float_value, int_value, bool_value, str_value, list_value, dict_value)
            if v is not None
        ] + ([None] if null else [])
        if len(given) != 1:
            raise CLIError(
                "give exactly one of --value, --float, --int, --bool, --str, --list, --dict, --null"
            )
        if value is not None:
            new: Any = json_arg(value, "--value", None)
        elif list_value is not None:
            new = json_arg(list_value, "--list", list)
        elif dict_value is not None:
            new = json_arg(dict_value, "--dict", dict)
        else:
            new = given[0]
        if not asset_ids and not sensor_ids:
            raise CLIError("give at least one --asset or --sensor")
        out = []
        with open_existing(db, wait_s(wait)) as store, acting_as(cli_actor()), store.transaction():
            for aid in asset_ids or []:
                asset = store.get_asset(aid)
                attrs = {**asset.attributes, key: new}
                check_asset_config(store, {"attributes": attrs})
                store.update_asset(aid, attributes=attrs)
                out.append({"asset": aid, "sensor": None, "attribute": key, "value": new})
            for sid in sensor_ids or []:
                sensor = store.get_sensor(sid)
                attrs = {**sensor.attributes, key: new}
                check_sensor_config(store, sid, attrs)
                store.update_sensor(sid, attributes=attrs)
                out.append({"asset": None, "sensor": sid, "attribute": key, "value": new})
        emit_records(out, fmt, "attributes set")
