"""``make ui``: webserver and daemon come up on 127.0.0.1 and SIGTERM leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pgid_members(pgids: set[int]) -> list[int]:
    """Live (non-zombie) processes in the given process groups."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) in pgids:
            out.append(int(d.name))
    return out


@pytest.mark.slow
def test_ui_starts_on_localhost_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    home = tmp_path / "dagster_home"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "FLEXPIPE_AUTOMATION": "off",
        "FLEXPIPE_DB_URL": str(tmp_path / "s.duckdb"),
    }
    ui = subprocess.Popen(
        [sys.executable, "-m", "flex_pipelines.ui", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        info = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and info is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as r:
                    info = json.load(r)
            except OSError:
                assert ui.poll() is None, ui.stdout.read()
                time.sleep(0.5)
        assert info is not None and info["dagster_version"] == "1.13.27"
        assert (home / "dagster.yaml").read_text() == (ROOT / "dagster.yaml").read_text()
        children = [
            int(p) for p in Path(f"/proc/{ui.pid}/task/{ui.pid}/children").read_text().split()
        ]
        assert len(children) == 2
        groups = {os.getpgid(c) for c in children}
        assert groups == set(children)  # each the leader of its own group
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(40) == 0
        assert _pgid_members(groups) == []
    finally:
        if ui.poll() is None:
            ui.kill()
