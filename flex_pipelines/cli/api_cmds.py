"""``flexpipe api run``, ``flexpipe add user`` and ``flexpipe add token``."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import typer

from flex_pipelines.beliefs.urls import redact
from flex_pipelines.cli.common import (
    CLIError,
    DbOption,
    FormatOption,
    console,
    default_db,
    emit_records,
)

DB_DEFAULT = default_db()


def log_config() -> dict[str, Any]:
    """uvicorn's logging set-up with store passwords redacted from every line.

    Our own loggers (``flex_pipelines.*``) write through uvicorn's stderr handler, so an error
    logged while serving is redacted too.

    Returns
    -------
    dict[str, Any]
        A :func:`logging.config.dictConfig` dictionary for ``uvicorn.run(log_config=…)``.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "flex_pipelines.beliefs.urls.RedactingFilter"}}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact"]
    config["loggers"]["flex_pipelines"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    api_app = typer.Typer(help="The FlexMeasures-compatible HTTP API.", no_args_is_help=True)
    app.add_typer(api_app, name="api")

    @api_app.command("run")
    def api_run(
        host: str = typer.Option("127.0.0.1", "--host", help="Bind address (loopback by default)."),
        port: int = typer.Option(5000, "--port"),
        db: DbOption = DB_DEFAULT,
        token_ttl_h: float = typer.Option(24.0, "--token-ttl-hours", help="Token lifetime."),
        rate: float = typer.Option(
            50.0, "--rate", help="Requests per second per user (sustained)."
        ),
        burst: float = typer.Option(200.0, "--burst", help="Requests a user may make at once."),
        max_body_mb: float = typer.Option(5.0, "--max-body-mb", help="Request size limit."),
        log_level: str = typer.Option("info", "--log-level"),
    ) -> None:
        """Serve the API (OpenAPI docs at /api/docs); holds the store for this process."""
        import uvicorn

        from flex_pipelines.api import ApiSettings, create_app

        settings = ApiSettings(
            token_ttl=timedelta(hours=token_ttl_h),
            rate_per_s=rate,
            rate_burst=burst,
            max_body_bytes=int(max_body_mb * 1_000_000),
        )
        application = create_app(db, settings)
        console.print(
            f"[green]FlexPipelines API[/] on http://{host}:{port}/api/ (docs /api/docs), "
            f"store {redact(db)}"
        )
        uvicorn.run(application, host=host, port=port, log_level=log_level, log_config=log_config())

    @add_app.command("user")
    def add_user(
        email: str = typer.Option(..., "--email"),
        account_id: int = typer.Option(..., "--account", help="Account id."),
        password: str = typer.Option(
            ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True
        ),
        roles: str = typer.Option(
            "", "--roles", help="Comma-separated: admin, account-admin (none: a plain user)."
        ),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Add an API user: a valid e-mail address and a password of at least 8 characters
        (stored as a bcrypt hash)."""
        from flex_pipelines.api.auth import ROLES, hash_password
        from flex_pipelines.beliefs import open_store

        role_list = [r.strip() for r in roles.split(",") if r.strip()]
        bad = [r for r in role_list if r not in ROLES]
        if bad:
            raise CLIError(f"--roles {','.join(bad)} not one of {', '.join(ROLES)}")
        from flex_pipelines.api.credentials import check_password_rules, valid_email
        from flex_pipelines.beliefs.audit import acting_as, cli_actor

        email = valid_email(email)
        check_password_rules(password)
        pw_hash = hash_password(password)
        with open_store(db) as store, acting_as(cli_actor()):
            user = store.add_user(account_id, email, pw_hash, role_list)
        emit_records(
            [
                {
                    "id": user.id,
                    "account_id": user.account_id,
                    "email": user.email,
                    "roles": ",".join(user.roles),
                }
            ],
            fmt,
            "user added",
        )

    @add_app.command("token")
    def add_token(
        email: str = typer.Option(..., "--email"),
        hours: float = typer.Option(24.0, "--hours", help="Token lifetime."),
        db: DbOption = DB_DEFAULT,
    ) -> None:
        """Print a new API token for a user (send it in the Authorization header)."""
        from flex_pipelines.api.auth import issue_token
        from flex_pipelines.api.tables import ensure_api_tables
        from flex_pipelines.beliefs import open_store

        if hours <= 0:
            raise CLIError(f"--hours {hours} must be positive")
        with open_store(db) as store:
            ensure_api_tables(store)
            user, _ = store.get_user_auth(email)  # type: ignore[attr-defined]
            token, _expires = issue_token(store, user.id, hours * 3600)
        typer.echo(token)
