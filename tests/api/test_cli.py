"""flexpipe add user / add token / api run, and a token from the CLI working on a server."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from tests.api.conftest import start_server


def test_add_user_and_token_then_use_it(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    cli = CliRunner()
    assert cli.invoke(app, ["add", "account", "--name", "Acme", "--db", db]).exit_code == 0
    bad = cli.invoke(
        app,
        [
            "add",
            "user",
            "--email",
            "a@acme.example",
            "--account",
            "1",
            "--password",
            "pw",
            "--roles",
            "boss",
            "--db",
            db,
        ],
    )
    assert bad.exit_code != 0 and "boss" in str(bad.output) + str(bad.exception)
    made = cli.invoke(
        app,
        [
            "add",
            "user",
            "--email",
            "a@acme.example",
            "--account",
            "1",
            "--password",
            "s3cret-long-enough",
            "--roles",
            "account-admin",
            "--db",
            db,
            "-f",
            "json",
        ],
    )
    assert made.exit_code == 0, made.output
    assert '"roles": "account-admin"' in made.output
    tok = cli.invoke(app, ["add", "token", "--email", "a@acme.example", "--hours", "1", "--db", db])
    assert tok.exit_code == 0, tok.output
    token = tok.output.strip().splitlines()[-1]
    with open_store(db) as store:
        assert store.get_user_auth("a@acme.example")[1].startswith("$2")  # bcrypt, not clear text
        srv, stop = start_server(store)
        try:
            r = httpx.get(f"{srv.base}/api/v3_0/users", headers={"Authorization": token})
            assert r.status_code == 200 and r.json()[0]["email"] == "a@acme.example"
            login = httpx.post(
                f"{srv.base}/api/requestAuthToken",
                json={"email": "a@acme.example", "password": "s3cret-long-enough"},
            )
            assert login.status_code == 200
        finally:
            stop()


def test_api_run_help_shows_loopback_default():
    out = CliRunner().invoke(app, ["api", "run", "--help"])
    assert out.exit_code == 0 and "127.0.0.1" in out.output
