"""flexpipe db dump / db restore on both backends: every table round-trips (row counts and
contents, beliefs included), the restored store works (views, sequences), a store with data is
refused unless --force, a failed restore leaves the target as it was, and a password in the URL
is never printed (a real ``flexpipe`` process)."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import polars as pl
import pytest
from typer.testing import CliRunner

from flex_pipelines.api.auth import issue_token
from flex_pipelines.api.tables import ensure_api_tables
from flex_pipelines.beliefs import open_store
from flex_pipelines.beliefs.backup import RestoreRefused, store_tables, table_counts
from flex_pipelines.cli.main import app
from flex_pipelines.toy import create_toy_account

T0 = datetime(2026, 3, 29, tzinfo=UTC)  # a DST day in Europe


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


def populate(url: str) -> None:
    """Rows in every table: entities, renamed account, audit log, annotations, beliefs of
    three sources (one probabilistic), ingestions, API tokens, jobs, asset types, and a table
    of another module with its own sequence."""
    with open_store(url) as s:
        made = create_toy_account(s)
        s.update_account(made["account"]["id"], name="Toy BV")  # account_names
        price = made["price sensor"]["id"]
        power = made["power sensor"]["id"]
        market = s.get_or_create_source("EPEX", "market")
        fc = s.get_or_create_source("ridge", "forecaster", "ridge", "1")
        steps = [T0 + timedelta(hours=h) for h in range(30)]
        s.save_beliefs(
            pl.DataFrame(
                {
                    "sensor_id": [price] * 30,
                    "event_start": steps,
                    "belief_time": [T0 - timedelta(hours=12)] * 30,
                    "source_id": [market.id] * 30,
                    "event_value": [40.0 + 0.37 * i for i in range(30)],
                }
            )
        )
        for q, shift in ((0.1, -1.5), (0.5, 0.0), (0.9, 2.25)):
            s.save_beliefs(
                pl.DataFrame(
                    {
                        "sensor_id": [power] * 8,
                        "event_start": steps[:8],
                        "belief_time": [T0 - timedelta(days=1)] * 8,
                        "source_id": [fc.id] * 8,
                        "cumulative_probability": [q] * 8,
                        "event_value": [0.1 * i + shift for i in range(8)],
                    }
                ),
                changed_only=False,
            )
        s.add_annotation(
            "outage", T0, T0 + timedelta(hours=2), type="warning", asset_id=made["battery"]["id"]
        )
        ensure_api_tables(s)
        issue_token(s, s.list_users()[0].id, 3600)
        s.execute(
            "INSERT INTO api_jobs (id, kind, target_type, target_id, request_key, request, "
            "status, enqueued_at) VALUES ('job-1', 'schedule', 'asset', 1, 'k', '{}', "
            "'finished', ?)",
            [T0],
        )
        s.execute("CREATE SEQUENCE IF NOT EXISTS seq_plugin_notes START 1")
        s.execute(
            "CREATE TABLE IF NOT EXISTS plugin_notes (id BIGINT PRIMARY KEY "
            "DEFAULT nextval('seq_plugin_notes'), note TEXT)"
        )
        s.execute("INSERT INTO plugin_notes (note) VALUES ('a'), ('b')")


def contents(url: str) -> dict[str, str]:
    """A checksum of every table's content (rows sorted by every column), beliefs included."""
    out = {}
    with open_store(url, init=False) as s:
        for t in store_tables(s):
            cols = s.query(f'SELECT * FROM "{t}" LIMIT 0').columns
            order = ", ".join(str(i + 1) for i in range(len(cols)))
            frame = s.query(f'SELECT * FROM "{t}" ORDER BY {order}')
            out[t] = hashlib.sha256(frame.write_csv().encode()).hexdigest()
    return out


@pytest.fixture
def target_url(store_url: str, tmp_path: Path) -> str:
    """An empty store of the same backend; on PostgreSQL another schema of the same database
    (the dump's own schema must not be touched by the restore)."""
    if store_url.startswith("postgresql://"):
        return store_url.rsplit("?", 1)[0] + f"?schema=restored_{uuid.uuid4().hex[:8]}"
    return str(tmp_path / "restored.duckdb")


def test_dump_restore_round_trips_every_table(
    store_url: str, target_url: str, tmp_path: Path
) -> None:
    populate(store_url)
    with open_store(store_url) as s:
        counts = table_counts(s)
        beliefs = s.search_beliefs([1, 2, 3, 4], one_per_event=True)
    assert counts["beliefs"] == 30 + 3 * 8 and counts["plugin_notes"] == 2
    assert [t for t, n in counts.items() if n == 0] == [], "every table holds rows"
    before = contents(store_url)
    dump = tmp_path / "store.dump"

    out = run("db", "dump", str(dump), "--db", store_url, "-f", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["tables"] == counts
    back = run("db", "restore", str(dump), "--db", target_url, "-f", "json")
    assert back.exit_code == 0, back.output
    assert json.loads(back.output)["tables"] == counts

    assert contents(target_url) == before  # every table, row for row
    assert contents(store_url) == before  # the source is untouched
    with open_store(target_url) as r:
        assert r.search_beliefs([1, 2, 3, 4], one_per_event=True).equals(beliefs)  # views
        assert r.add_account("After restore").id == 2  # sequences continue
        r.execute("INSERT INTO plugin_notes (note) VALUES ('c')")
        assert r.query("SELECT max(id) AS m FROM plugin_notes")["m"][0] == 3


def test_restore_refuses_data_and_force_replaces_it_atomically(
    store_url: str, target_url: str, tmp_path: Path
) -> None:
    populate(store_url)
    dump = tmp_path / "store.dump"
    assert run("db", "dump", str(dump), "--db", store_url).exit_code == 0
    again = run("db", "dump", str(dump), "--db", store_url)
    assert again.exit_code != 0 and "exists" in str(again.exception)
    with open_store(target_url) as t:
        t.add_account("Other")
        t.execute("CREATE TABLE leftover (x BIGINT)")
    other = contents(target_url)

    refused = run("db", "restore", str(dump), "--db", target_url)
    assert isinstance(refused.exception, RestoreRefused)
    assert "holds rows in accounts (1), audit_log (1)" in str(refused.exception)
    assert contents(target_url) == other

    broken = tmp_path / "broken.dump"
    data = dump.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    failed = run("db", "restore", str(broken), "--db", target_url, "--force")
    assert failed.exit_code != 0 and failed.exception is not None
    assert contents(target_url) == other  # nothing dropped

    forced = run("db", "restore", str(dump), "--db", target_url, "--force")
    assert forced.exit_code == 0, forced.output
    assert contents(target_url) == contents(store_url)  # 'leftover' and 'Other' are gone


def test_dump_kinds_are_not_mixed(store_url: str, tmp_path: Path) -> None:
    populate(store_url)
    dump = tmp_path / "store.dump"
    assert run("db", "dump", str(dump), "--db", store_url).exit_code == 0
    other = (
        str(tmp_path / "x.duckdb")
        if store_url.startswith("postgresql")
        else "postgresql://nobody@127.0.0.1:1/none"
    )
    wrong = run("db", "restore", str(dump), "--db", other)
    assert "dump; restore it into a" in str(wrong.exception)
    text = tmp_path / "notes.txt"
    text.write_text("not a dump")
    assert "neither a DuckDB dump nor" in str(
        run("db", "restore", str(text), "--db", store_url).exception
    )


def test_cli_process_never_prints_the_password(pg_url: str, tmp_path: Path) -> None:
    """A password in the URL (the test server trusts the user, so libpq passes it unchecked)
    is neither in the dump's output nor in a real ``flexpipe`` process's refusal (exit 2)."""
    parts = urlsplit(pg_url)
    if parts.password:  # a server that checks passwords: its own must not show
        secret, url = parts.password, pg_url
    else:
        secret = "s3cret-Pw"
        user = parts.username or getpass.getuser()
        url = urlunsplit(
            parts._replace(netloc=f"{user}:{secret}@{parts.netloc.rpartition('@')[2]}")
        )
    populate(url)
    dump = tmp_path / "pg.dump"
    done = run("db", "dump", str(dump), "--db", url)
    assert done.exit_code == 0, done.output
    masked = f"{urlsplit(url).username}:***@"
    assert f"Dumped postgresql://{masked}" in done.output and secret not in done.output
    exe = str(Path(sys.executable).with_name("flexpipe"))
    env = {**os.environ, "FLEXPIPE_DB_URL": url}
    refused = subprocess.run(
        [exe, "db", "restore", str(dump)], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2, refused.stderr
    assert "is not empty" in refused.stderr and masked in refused.stderr
    assert secret not in refused.stdout + refused.stderr
