"""Accounts, users, tokens, annotations and the audit log on the command line (issue 17).

``flexpipe edit account|user``, ``flexpipe delete account|user|tokens|annotation``,
``flexpipe show users|audit-log|annotations``, ``flexpipe add annotation|holidays``. The CLI acts
as the local admin; its changes are recorded in the audit log under the OS user's name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import typer

from flex_pipelines.beliefs import BeliefStore, open_store
from flex_pipelines.beliefs.audit import acting_as, cli_actor
from flex_pipelines.cli.common import CLIError, DbOption, FormatOption, default_db, emit_records
from flex_pipelines.time import parse_datetime

DB_DEFAULT = default_db()


def _user_record(u: Any) -> dict[str, Any]:
    return {
        "id": u.id,
        "account_id": u.account_id,
        "email": u.email,
        "roles": ",".join(u.roles),
        "active": u.active,
    }


def _find_user(store: BeliefStore, user: str) -> Any:
    return store.get_user(int(user) if user.isdigit() else user)


def _revoke(store: BeliefStore, user_id: int) -> int:
    from flex_pipelines.api.auth import revoke_tokens
    from flex_pipelines.api.tables import ensure_api_tables

    ensure_api_tables(store)
    return revoke_tokens(store, user_id)


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:  # noqa: E501
    edit_app = typer.Typer(help="Change accounts and users.", no_args_is_help=True)
    app.add_typer(edit_app, name="edit")

    @edit_app.command("account")
    def edit_account(
        account_id: int = typer.Option(..., "--id"),
        name: str = typer.Option(..., "--name"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Rename an account."""
        with open_store(db) as store, acting_as(cli_actor()):
            a = store.update_account(account_id, name=name)
        emit_records([{"id": a.id, "name": a.name}], fmt, "account")

    @edit_app.command("user")
    def edit_user(
        user: str = typer.Option(..., "--user", help="User id or e-mail address."),
        email: str | None = typer.Option(None, "--new-email"),
        roles: str | None = typer.Option(None, "--roles", help="Comma-separated; '' for none."),
        active: bool | None = typer.Option(None, "--active/--deactivate"),
        password: bool = typer.Option(False, "--password", help="Prompt for a new password."),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Change a user's e-mail, roles, active flag or password (deactivating and a new
        password revoke their tokens)."""
        from flex_pipelines.api.auth import ROLES, hash_password
        from flex_pipelines.api.credentials import check_password_rules, valid_email

        fields: dict[str, Any] = {}
        if email is not None:
            fields["email"] = valid_email(email)
        if roles is not None:
            role_list = [r.strip() for r in roles.split(",") if r.strip()]
            bad = [r for r in role_list if r not in ROLES]
            if bad:
                raise CLIError(f"--roles {','.join(bad)} not one of {', '.join(ROLES)}")
            fields["roles"] = role_list
        if active is not None:
            fields["active"] = active
        if password:
            new = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
            check_password_rules(new)
            fields["password_hash"] = hash_password(new)
        if not fields:
            raise CLIError(
                "nothing to change: give --new-email, --roles, --active/--deactivate or --password"
            )  # noqa: E501
        with open_store(db) as store, acting_as(cli_actor()):
            u = store.update_user(_find_user(store, user).id, **fields)
            if not u.active or "password_hash" in fields:
                _revoke(store, u.id)
        emit_records([_user_record(u)], fmt, "user")

    @delete_app.command("user")
    def delete_user(
        user: str = typer.Option(..., "--user", help="User id or e-mail address."),
        yes: bool = typer.Option(False, "--yes"),
        db: DbOption = DB_DEFAULT,
    ) -> None:
        """Delete a user and their tokens (their data and sources stay)."""
        with open_store(db) as store, acting_as(cli_actor()):
            u = _find_user(store, user)
            if not yes:
                typer.confirm(f"Delete user {u.email} (id {u.id})?", abort=True)
            _revoke(store, u.id)
            store.delete_user(u.id)
        typer.echo(f"Deleted user {u.email} (id {u.id}).")

    @delete_app.command("tokens")
    def delete_tokens(
        user: str = typer.Option(..., "--user", help="User id or e-mail address."),
        db: DbOption = DB_DEFAULT,
    ) -> None:
        """Revoke every API token of a user (a running API drops its cached copy within 30 s)."""
        with open_store(db) as store, acting_as(cli_actor()):
            u = _find_user(store, user)
            n = _revoke(store, u.id)
            store.record_audit(
                f"Revoked {n} token(s) of user {u.email} (id {u.id})",
                account_id=u.account_id,
                user_id=u.id,
            )
        typer.echo(f"Revoked {n} token(s) of user {u.email}.")

    @delete_app.command("account")
    def delete_account(
        account_id: int = typer.Option(..., "--id"),
        yes: bool = typer.Option(False, "--yes"),
        db: DbOption = DB_DEFAULT,
    ) -> None:
        """Delete an account with its users, assets, sensors, beliefs and annotations."""
        with open_store(db) as store, acting_as(cli_actor()):
            a = store.get_account(account_id)
            if not yes:
                typer.confirm(f"Delete account {a.name!r} with everything it owns?", abort=True)
            for u in store.list_users(a.id):
                _revoke(store, u.id)
            gone = store.delete_account(a.id)
        typer.echo(
            f"Deleted account {a.name!r} with {gone['users']} user(s) and {gone['assets']} top-level asset(s)."
        )  # noqa: E501

    @show_app.command("users")
    def show_users(
        account_id: int | None = typer.Option(None, "--account"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """List users (of one account)."""
        with open_store(db) as store:
            emit_records([_user_record(u) for u in store.list_users(account_id)], fmt, "users")

    @show_app.command("audit-log")
    def show_audit_log(
        account_id: int | None = typer.Option(None, "--account"),
        user: str | None = typer.Option(None, "--user", help="User id or e-mail address."),
        asset_id: int | None = typer.Option(None, "--asset"),
        sensor_id: int | None = typer.Option(None, "--sensor"),
        limit: int = typer.Option(100, "--limit"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Who changed what and when (newest first)."""
        with open_store(db) as store:
            user_id = _find_user(store, user).id if user else None
            events = store.audit_log(
                account_id=account_id,
                user_id=user_id,
                asset_id=asset_id,
                sensor_id=sensor_id,
                limit=limit,
            )
        records = [e.to_json() for e in events]
        if fmt != "json":
            records = [{k: v for k, v in r.items() if k != "details"} for r in records]
        emit_records(records, fmt, "audit log")

    def _link(
        account_id: int | None, asset_id: int | None, sensor_id: int | None
    ) -> dict[str, int]:  # noqa: E501
        given = {"account_id": account_id, "asset_id": asset_id, "sensor_id": sensor_id}
        link = {k: v for k, v in given.items() if v is not None}
        if len(link) != 1:
            raise CLIError("give exactly one of --account, --asset, --sensor")
        return link

    @add_app.command("annotation")
    def add_annotation(
        content: str = typer.Option(..., "--content"),
        start: str = typer.Option(..., "--start", help="ISO 8601 with offset"),
        end: str = typer.Option(..., "--end", help="ISO 8601 with offset"),
        kind: str = typer.Option(
            "label", "--type", help="alert, holiday, label, feedback, warning, error"
        ),  # noqa: E501
        account_id: int | None = typer.Option(None, "--account"),
        asset_id: int | None = typer.Option(None, "--asset"),
        sensor_id: int | None = typer.Option(None, "--sensor"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Annotate an account, asset or sensor over a period (stored once)."""
        link = _link(account_id, asset_id, sensor_id)
        with open_store(db) as store:
            src = store.get_or_create_source(cli_actor().name, "user")
            a, _new = store.add_annotation(
                content,
                parse_datetime(start),
                parse_datetime(end),
                type=kind,
                source_id=src.id,
                belief_time=datetime.now().astimezone(),
                **link,
            )  # noqa: E501
        emit_records([a.to_json()], fmt, "annotation")

    @add_app.command("holidays")
    def add_holidays(
        years: list[int] = typer.Option(..., "--year"),
        countries: list[str] = typer.Option(..., "--country", help="ISO 3166 code, e.g. NL"),
        account_id: int | None = typer.Option(None, "--account"),
        asset_id: int | None = typer.Option(None, "--asset"),
        timezone: str = typer.Option("UTC", "--timezone", help="whose local days"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Public holidays (the ``holidays`` package) as annotations of type holiday, one per
        local day, as FlexMeasures' ``add holidays``."""
        import holidays as hol

        from flex_pipelines.time import get_zone

        link = _link(account_id, asset_id, None)
        zone = get_zone(timezone)
        made = []
        with open_store(db) as store:
            src = store.get_or_create_source("workalendar/holidays", "market", "holidays")
            for country in countries:
                try:
                    days = hol.country_holidays(country.upper(), years=years)
                except NotImplementedError as exc:
                    raise CLIError(
                        f"--country {country!r} is not known to the holidays package"
                    ) from exc  # noqa: E501
                for day, name in sorted(days.items()):
                    t0 = datetime(day.year, day.month, day.day, tzinfo=zone)
                    a, new = store.add_annotation(
                        f"{name} ({country.upper()})",
                        t0,
                        t0 + timedelta(days=1),
                        type="holiday",
                        source_id=src.id,
                        **link,
                    )  # noqa: E501
                    made.append({"id": a.id, "start": a.start, "content": a.content, "new": new})
        emit_records(made, fmt, "holidays")

    @show_app.command("annotations")
    def show_annotations(
        account_id: int | None = typer.Option(None, "--account"),
        asset_id: int | None = typer.Option(None, "--asset"),
        sensor_id: int | None = typer.Option(None, "--sensor"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Annotations of an account, asset or sensor."""
        with open_store(db) as store:
            found = store.list_annotations(
                account_id=account_id,
                asset_ids=[asset_id] if asset_id else None,
                sensor_ids=[sensor_id] if sensor_id else None,
            )
        emit_records([a.to_json() for a in found], fmt, "annotations")

    @delete_app.command("annotation")
    def delete_annotation(
        annotation_id: int = typer.Option(..., "--id"), db: DbOption = DB_DEFAULT
    ) -> None:  # noqa: E501
        """Delete an annotation."""
        with open_store(db) as store:
            store.delete_annotation(annotation_id)
        typer.echo(f"Deleted annotation {annotation_id}.")
