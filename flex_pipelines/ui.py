"""``make ui``: the Dagster web UI and daemon on 127.0.0.1 with a persistent DAGSTER_HOME.

Starts ``dagster-webserver`` and ``dagster-daemon`` for ``workspace.yaml``, each in a process
group of its own; Ctrl-C or SIGTERM stops both groups (SIGTERM, then SIGKILL after a grace
period), so no code server or run worker is left behind. ``DAGSTER_HOME`` defaults to
var/dagster_home; a ``dagster.yaml`` is copied there from the repository when missing.

One store from demo to UI: ``flexpipe demo`` (``make demo``) records its store and inbox in
``$DAGSTER_HOME/flexpipe.env``; the UI uses them unless ``FLEXPIPE_DB_URL`` / ``FLEXPIPE_INBOX``
are set, so ``make demo && make ui`` shows and runs against the demo store.

    python -m flex_pipelines.ui [--host 127.0.0.1] [--port 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 15.0
STORE_FILE = "flexpipe.env"  # in DAGSTER_HOME: the store a demo built, for the UI
STORE_VARS = ("FLEXPIPE_DB_URL", "FLEXPIPE_INBOX")


def default_home() -> Path:
    """``DAGSTER_HOME``, else var/dagster_home in the repository."""
    return Path(os.environ.get("DAGSTER_HOME") or ROOT / "var" / "dagster_home").resolve()


def ensure_home(home: Path) -> Path:
    """Create DAGSTER_HOME with the repository's dagster.yaml (SQLite storage, the run queue,
    telemetry off) when it has none."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copy(ROOT / "dagster.yaml", target)
    return home


def register_store(home: Path, db_url: str, inbox: str | Path) -> Path:
    """Record the store and inbox the UI should use (``flexpipe demo`` calls this)."""
    path = ensure_home(home) / STORE_FILE
    db = db_url if "://" in db_url else str(Path(db_url).resolve())
    path.write_text(f"FLEXPIPE_DB_URL={db}\nFLEXPIPE_INBOX={Path(inbox).resolve()}\n")
    return path


def ui_env(home: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the webserver and daemon: the caller's, then the store recorded in
    ``home`` by a demo, then the defaults under var/."""
    env = dict(os.environ if environ is None else environ)
    env["DAGSTER_HOME"] = str(home)
    recorded = home / STORE_FILE
    if recorded.exists():
        for line in recorded.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name in STORE_VARS and not env.get(name):
                env[name] = value
    env.setdefault("FLEXPIPE_DB_URL", str(ROOT / "var" / "flexpipe.duckdb"))
    env.setdefault("FLEXPIPE_INBOX", str(ROOT / "var" / "inbox"))
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    os.setsid()
    with contextlib.suppress(OSError):  # Linux: SIGTERM the child if this launcher dies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def start(host: str, port: int, home: Path) -> list[subprocess.Popen]:
    """Start the webserver and the daemon (each the leader of a new process group)."""
    env = ui_env(home)
    print(f"store {env['FLEXPIPE_DB_URL']}, inbox {env['FLEXPIPE_INBOX']}", flush=True)
    bindir = Path(sys.executable).parent
    workspace = str(ROOT / "workspace.yaml")
    cmds = [
        [str(bindir / "dagster-webserver"), "-h", host, "-p", str(port), "-w", workspace],
        [str(bindir / "dagster-daemon"), "run", "-w", workspace],
    ]
    return [subprocess.Popen(c, cwd=ROOT, env=env, preexec_fn=_die_with_parent) for c in cmds]  # noqa: PLW1509


def stop(procs: list[subprocess.Popen], grace_s: float = GRACE_S) -> None:
    """SIGTERM every process group, wait, then SIGKILL what is left."""
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.1, deadline - time.monotonic()))
    for p in procs:  # the leader may be gone while children of its group live on
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.poll()
    for p in procs:  # wait until every group is empty
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            try:
                os.killpg(p.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FLEXPIPE_UI_PORT", "3000")))
    args = parser.parse_args(argv)
    home = ensure_home(default_home())
    procs = start(args.host, args.port, home)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(
        f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home}); Ctrl-C stops it",
        flush=True,
    )
    code = 0
    while not stopping:
        if any(p.poll() is not None for p in procs):
            code = 1
            print("a Dagster process exited; stopping the other", file=sys.stderr, flush=True)
            break
        time.sleep(0.5)
    stop(procs)
    return code


if __name__ == "__main__":
    sys.exit(main())
