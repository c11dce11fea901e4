"""Helpers for the celery fan-out test and benchmark: Redis, a Postgres-backed instance, workers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[2]
REDIS = ("127.0.0.1", 6379)
# Redis databases of their own (deploy/celery.yaml reads them from the environment)
BROKER_DB = 2
BROKER = f"redis://127.0.0.1:6379/{BROKER_DB}"
BACKEND = "redis://127.0.0.1:6379/3"
CELERY_ENV = {"FLEXPIPE_CELERY_BROKER": BROKER, "FLEXPIPE_CELERY_BACKEND": BACKEND}


def redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> str | None:
    """Redis on 127.0.0.1:6379, started (no persistence) when absent; None or why not."""
    if redis_up():
        return None
    exe = shutil.which("redis-server")
    if exe is None:
        return "no Redis on 127.0.0.1:6379 and no redis-server to start"
    subprocess.run(
        [
            exe,
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=False,
    )
    for _ in range(50):
        if redis_up():
            return None
        time.sleep(0.1)
    return "redis-server did not answer on 127.0.0.1:6379"


def postgres_instance_yaml(pg_db_url: str) -> dict:
    """deploy/dagster-postgres.yaml with the DAGSTER_PG_* values of ``pg_db_url`` filled in."""
    u = urlparse(pg_db_url)
    os.environ.update(
        DAGSTER_PG_USERNAME=u.username or "postgres",
        DAGSTER_PG_PASSWORD=u.password or "",
        DAGSTER_PG_HOST=u.hostname or "127.0.0.1",
        DAGSTER_PG_PORT=str(u.port or 5432),
        DAGSTER_PG_DB=u.path.lstrip("/"),
    )
    return yaml.safe_load((ROOT / "deploy" / "dagster-postgres.yaml").read_text())


def write_home(home: Path, config: dict) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def start_workers(
    n: int, home: Path, env_extra: dict[str, str], log_dir: Path
) -> list[subprocess.Popen]:
    """``n`` workers started with ``deploy/celery-worker`` (one pool process each, each in its own
    process group), from a shell whose PATH has no virtualenv: the script finds its own."""
    plain_path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if not p.startswith(str(ROOT / ".venv"))
    )
    env = {**os.environ, "DAGSTER_HOME": str(home), **CELERY_ENV, **env_extra, "PATH": plain_path}
    env.pop("VIRTUAL_ENV", None)
    env["FLEXPIPE_VENV"] = str(Path(sys.executable).parent.parent)
    procs = []
    for i in range(1, n + 1):
        log = open(log_dir / f"worker{i}.log", "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    str(ROOT / "deploy" / "celery-worker"),
                    f"w{i}",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def wait_ready(log_dir: Path, n: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = sum("ready." in (log_dir / f"worker{i}.log").read_text() for i in range(1, n + 1))
        if ready == n:
            return
        time.sleep(0.25)
    logs = "\n".join((log_dir / f"worker{i}.log").read_text()[-2000:] for i in range(1, n + 1))
    raise TimeoutError(f"celery workers not ready after {timeout_s} s:\n{logs}")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def purge_queue() -> None:
    """Drop stale tasks a killed earlier run may have left in the broker."""
    with socket.create_connection(REDIS, timeout=2) as s:
        s.sendall(f"SELECT {BROKER_DB}\r\nDEL dagster\r\n".encode())
        s.recv(64)
