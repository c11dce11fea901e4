"""A DuckDB file held by another process versus a damaged one (issue 14), with real files and
real processes: only a real lock is reported as a lock (writers may wait it out with --wait),
damaged or foreign files say so, and readers open read-only so they share a file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from tests.helpers import belief_frame

runner = CliRunner()
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
sys.stdin.readline()
con.close()
"""


@pytest.fixture(scope="module")
def full_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with 200,000 beliefs (several MB, data blocks well past the header)."""
    path = tmp_path_factory.mktemp("store") / "full.duckdb"
    with open_store(path) as store:
        sensor = store.add_sensor("p", "MW", timedelta(hours=1))
        src = store.get_or_create_source("s")
        values = [float(i % 977) for i in range(200_000)]
        store.save_beliefs(belief_frame(sensor.id, src.id, values, T0, timedelta(hours=1), T0))
    return path


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=True)


def _message(result) -> str:
    return f"{result.output}{result.exception or ''}"


def _damage(kind: str, full: Path, path: Path) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("event_start,value\n2026-01-01T00:00:00+00:00,1\n" * 50)
    elif kind == "truncated-4k":
        shutil.copy(full, path)
        os.truncate(path, 4096)
    elif kind == "truncated-10%":
        shutil.copy(full, path)
        os.truncate(path, os.path.getsize(full) // 10 // 4096 * 4096)
    elif kind == "corrupted":
        shutil.copy(full, path)
        with open(path, "r+b") as f:
            f.seek(8192)
            f.write(b"\xde\xad" * 4096)


@pytest.mark.parametrize("kind", ["empty", "text", "truncated-4k", "truncated-10%", "corrupted"])
def test_a_damaged_file_is_not_reported_as_locked(kind: str, full_store: Path, tmp_path: Path):
    path = tmp_path / "damaged.duckdb"
    _damage(kind, full_store, path)
    window = ["--sensor", "1", "--start", T0.isoformat(), "--duration", "P1D"]
    results = [
        _invoke("show", "sources", "--db", str(path)),
        _invoke("show", "beliefs", *window, "--db", str(path)),
    ]
    assert all(r.exit_code != 0 for r in results)
    messages = " | ".join(_message(r) for r in results)
    assert f"DuckDB file {path} is damaged or not a DuckDB store" in messages, messages
    assert "in use by another process" not in messages and "Another process" not in messages
    assert "Traceback" not in messages


def _hold(path: Path, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def _release(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.write("\n")
        proc.stdin.flush()
    proc.wait(30)


def test_a_held_file_is_reported_as_a_lock_naming_the_process(full_store: Path, tmp_path: Path):
    path = tmp_path / "held.duckdb"
    shutil.copy(full_store, path)
    holder = _hold(path, "rw")
    try:
        result = _invoke("show", "sources", "--db", str(path))
    finally:
        _release(holder)
    assert result.exit_code != 0
    assert f"is in use by another process (process {holder.pid}" in _message(result)
    assert "--wait" in _message(result)


def test_readers_share_a_file(full_store: Path, tmp_path: Path) -> None:
    """``show`` opens read-only, so it works beside another reader (an analyst's session)."""
    path = tmp_path / "shared.duckdb"
    shutil.copy(full_store, path)
    holder = _hold(path, "ro")
    try:
        result = _invoke("show", "sources", "--db", str(path))
    finally:
        _release(holder)
    assert result.exit_code == 0, _message(result)
    assert "│ s " in result.output


def test_a_writer_waits_for_the_lock_with_wait(full_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    shutil.copy(full_store, path)
    csv = tmp_path / "p.csv"
    csv.write_text("event_start,value\n2040-01-01T00:00:00+00:00,1\n")
    add = ["add", "beliefs", str(csv), "--sensor", "1", "--source", "s", "--db", str(path)]
    holder = _hold(path, "rw")
    try:
        refused = _invoke(*add)  # without --wait: refused at once, with the lock message
        assert refused.exit_code != 0 and "in use by another process" in _message(refused)
        threading.Timer(1.0, _release, [holder]).start()  # the other process finishes
        waited = _invoke(*add, "--wait", "60s")
    finally:
        _release(holder)
    assert waited.exit_code == 0, _message(waited)
    assert "Saved 1 new" in waited.output
