"""Finding or starting a PostgreSQL server for the tests (never skipping silently).

Order: $FLEXPIPE_TEST_PG_URL; a server on 127.0.0.1:5432 (trust auth, user postgres); a
throw-away cluster started with the machine's initdb/pg_ctl (as user postgres when run as
root). If none works, tests that need PostgreSQL fail with the reasons.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field

import psycopg


@dataclass
class PgServer:
    admin_url: str  # a URL to the maintenance database "postgres"
    description: str
    _cleanup: list = field(default_factory=list)

    def url(self, dbname: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + dbname

    def create_database(self, prefix: str = "flexpipe_test") -> str:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self.admin_url, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        self._cleanup.append(name)
        return self.url(name)

    def stop(self) -> None:
        for name in self._cleanup:
            try:
                with psycopg.connect(self.admin_url, autocommit=True) as con:
                    con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error:
                pass
        self._cleanup.clear()
        stop = getattr(self, "_stop_cluster", None)
        if stop:
            stop()


def _try(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=3) as con:
            return con.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as exc:
        return None if exc else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_cluster() -> PgServer:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = next((os.path.join(b, "initdb") for b in bins), None) or shutil.which("initdb")
    if not initdb:
        raise RuntimeError("no initdb found (install PostgreSQL server binaries)")
    pg_ctl = os.path.join(os.path.dirname(initdb), "pg_ctl")
    tmp = tempfile.mkdtemp(prefix="flexpipe-pg-")
    data = os.path.join(tmp, "data")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*prefix, pg_ctl, "-D", data, "-o", f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1",
         "-l", os.path.join(tmp, "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for _ in range(50):
        if _try(url):
            break
        time.sleep(0.2)
    server = PgServer(url, f"throw-away cluster started by the tests ({initdb}, port {port})")

    def _stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    server._stop_cluster = _stop  # type: ignore[attr-defined]
    return server


def find_or_start_postgres() -> tuple[PgServer | None, str]:
    """Return (server, report line); server is None with the reasons when nothing worked."""
    reasons = []
    env = os.environ.get("FLEXPIPE_TEST_PG_URL")
    if env:
        v = _try(env)
        if v:
            return PgServer(env, f"$FLEXPIPE_TEST_PG_URL (PostgreSQL {v})"), ""
        reasons.append(f"$FLEXPIPE_TEST_PG_URL={env} did not answer")
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    v = _try(local)
    if v:
        return PgServer(local, f"the machine's server on 127.0.0.1:5432 (PostgreSQL {v})"), ""
    reasons.append("nothing answered on 127.0.0.1:5432")
    try:
        return _start_cluster(), ""
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        reasons.append(f"could not start a cluster: {exc}")
    return None, "; ".join(reasons)
