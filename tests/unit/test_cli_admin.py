"""flexpipe edit/delete/show for accounts and users, token revocation, annotations and holidays,
the audit log as JSON, and the e-mail and password rules of add user."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flex_pipelines.api.auth import issue_token, user_for_token
from flex_pipelines.api.tables import ensure_api_tables
from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app


def run(*args: str, input: str | None = None):  # noqa: ANN201
    return CliRunner().invoke(app, list(args), input=input)


def test_users_accounts_tokens_and_audit(tmp_path) -> None:  # noqa: ANN001
    db = str(tmp_path / "cli.duckdb")
    assert run("add", "account", "--name", "Acme", "--db", db).exit_code == 0
    add = ("add", "user", "--account", "1", "--db", db, "--password")
    short = run(*add, "abc", "--email", "a@acme.example")
    assert short.exit_code != 0 and "at least 8" in str(short.exception)
    bad = run(*add, "long enough pw", "--email", "not-an-email")
    assert bad.exit_code != 0 and "not a valid e-mail" in str(bad.exception)
    ok = run(*add, "long enough pw", "--email", "A@Acme.example", "-f", "json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)[0]["email"] == "a@acme.example"
    with open_store(db) as store:
        ensure_api_tables(store)
        token, _ = issue_token(store, 1, 3600)
        assert user_for_token(store, token) is not None
    revoked = run("delete", "tokens", "--user", "a@acme.example", "--db", db)
    assert revoked.exit_code == 0 and "Revoked 1 token(s)" in revoked.output
    with open_store(db) as store:
        assert user_for_token(store, token) is None
    off = run(
        "edit",
        "user",
        "--user",
        "1",
        "--deactivate",
        "--roles",
        "account-admin",
        "--db",
        db,
        "-f",
        "json",
    )  # noqa: E501
    assert off.exit_code == 0, off.output
    assert json.loads(off.output)[0] | {"id": 1} == {
        "id": 1,
        "account_id": 1,
        "email": "a@acme.example",
        "roles": "account-admin",
        "active": False,
    }  # noqa: E501
    new_pw = run(
        "edit",
        "user",
        "--user",
        "1",
        "--password",
        "--db",
        db,
        input="another pw 123\nanother pw 123\n",
    )  # noqa: E501
    assert new_pw.exit_code == 0, new_pw.output
    assert run("edit", "account", "--id", "1", "--name", "Acme BV", "--db", db).exit_code == 0
    log = run("show", "audit-log", "--account", "1", "--db", db, "-f", "json")
    events = json.loads(log.output)
    assert [e["event"] for e in events][:3] == [
        "Updated account 1: name: 'Acme' → 'Acme BV'",
        "Updated user a@acme.example (id 1): password_hash changed",
        "Updated user a@acme.example (id 1): roles: '' → 'account-admin'; active: True → False",
    ]
    assert events[0]["active_user_name"].startswith("local admin (CLI, os user ")
    assert "another pw" not in log.output
    users = json.loads(run("show", "users", "--db", db, "-f", "json").output)
    assert [u["email"] for u in users] == ["a@acme.example"]
    assert run("delete", "user", "--user", "a@acme.example", "--yes", "--db", db).exit_code == 0
    assert json.loads(run("show", "users", "--db", db, "-f", "json").output) == []
    gone = run("delete", "account", "--id", "1", "--yes", "--db", db)
    assert gone.exit_code == 0 and "Deleted account 'Acme BV'" in gone.output
    assert json.loads(run("show", "accounts", "--db", db, "-f", "json").output) == []


def test_annotations_and_holidays(tmp_path) -> None:  # noqa: ANN001
    db = str(tmp_path / "cli.duckdb")
    run("add", "account", "--name", "Acme", "--db", db)
    made = run(
        "add",
        "holidays",
        "--year",
        "2026",
        "--country",
        "NL",
        "--account",
        "1",
        "--timezone",
        "Europe/Amsterdam",
        "--db",
        db,
        "-f",
        "json",
    )  # noqa: E501
    assert made.exit_code == 0, made.output
    days = json.loads(made.output)
    assert any(d["content"].startswith("Koningsdag") or "King" in d["content"] for d in days)
    christmas = next(d for d in days if d["start"].startswith("2026-12-24T23:00:00"))  # local day
    assert "Kerst" in christmas["content"] or "Christmas" in christmas["content"]
    assert christmas["new"] is True
    again = json.loads(
        run(
            "add",
            "holidays",
            "--year",
            "2026",
            "--country",
            "NL",
            "--account",
            "1",
            "--timezone",
            "Europe/Amsterdam",
            "--db",
            db,
            "-f",
            "json",
        ).output
    )  # noqa: E501
    assert len(again) == len(days) and not any(d["new"] for d in again)  # stored once
    note = run(
        "add",
        "annotation",
        "--content",
        "outage",
        "--start",
        "2026-03-01T10:00:00+01:00",
        "--end",
        "2026-03-01T12:00:00+01:00",
        "--type",
        "alert",
        "--account",
        "1",
        "--db",
        db,
        "-f",
        "json",
    )  # noqa: E501
    assert note.exit_code == 0, note.output
    shown = json.loads(
        run("show", "annotations", "--account", "1", "--db", db, "-f", "json").output
    )  # noqa: E501
    assert len(shown) == len(days) + 1 and {"outage"} <= {a["content"] for a in shown}
    both = run(
        "add",
        "annotation",
        "--content",
        "x",
        "--start",
        "2026-03-01T10:00:00+01:00",
        "--end",
        "2026-03-01T12:00:00+01:00",
        "--account",
        "1",
        "--asset",
        "1",
        "--db",
        db,
    )  # noqa: E501
    assert both.exit_code != 0 and "exactly one" in str(both.exception)
    nope = run("add", "holidays", "--year", "2026", "--country", "XX", "--account", "1", "--db", db)  # noqa: E501
    assert nope.exit_code != 0 and "XX" in str(nope.exception)
