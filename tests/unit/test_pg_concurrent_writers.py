"""Eight ``flexpipe add beliefs`` processes on one PostgreSQL store at once (issue 14).

Each writer is a real process that imports the CLI, waits at a barrier (a file appearing) and
then runs its command, so the saves overlap in time. The outcome must be one the same writers
would have had one after the other: "0 new" for data another writer stored first, the usual
"already holds value … refusing" for a conflicting value — every exit message checked, never a
traceback (UniqueViolation, InFailedSqlTransaction) — and the rows counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flex_pipelines.beliefs import open_store

pytestmark = pytest.mark.postgres

N_WRITERS = 8
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WRITER = """
import os, sys, time
from pathlib import Path
from flex_pipelines.cli.main import main
import flex_pipelines.beliefs.postgres_store, flex_pipelines.cli.store_cmds  # import before the start
print("ready", flush=True)
barrier = Path(sys.argv[1])
while not barrier.exists():
    time.sleep(0.005)
sys.argv = ["flexpipe", *sys.argv[2:]]
main()
"""


def _hour(h: int) -> str:
    return (T0 + timedelta(hours=h)).isoformat()


def _run_writers(tmp_path: Path, commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Start one process per command, release them together, return their results."""
    barrier = tmp_path / "go"
    env = {**os.environ, "COLUMNS": "200"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(barrier), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for cmd in commands
    ]
    for p in procs:  # every writer has imported what it needs: release them together
        assert p.stdout.readline().strip() == "ready"
    barrier.touch()
    out = []
    for cmd, p in zip(commands, procs, strict=True):
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr))
    return out


def _sensor(url: str) -> int:
    with open_store(url) as store:
        return store.add_sensor("price", "EUR/MWh", timedelta(hours=1)).id


def _add(url: str, path: Path, sensor: int, source: str) -> list[str]:
    args = ["add", "beliefs", str(path), "--sensor", str(sensor), "--source", source]
    return [*args, "--source-type", "market", "--belief-time", T0.isoformat(), "--db", url]


def _no_traceback(r: subprocess.CompletedProcess) -> None:
    text = r.stdout + r.stderr
    for bad in ("Traceback", "UniqueViolation", "InFailedSqlTransaction", "psycopg"):
        assert bad not in text, text


def test_eight_writers_load_the_same_file_under_a_new_source(pg_url: str, tmp_path: Path) -> None:
    sensor = _sensor(pg_url)
    path = tmp_path / "prices.csv"
    path.write_text("event_start,value\n" + "".join(f"{_hour(h)},{h}\n" for h in range(24)))

    results = _run_writers(tmp_path, [_add(pg_url, path, sensor, "EPEX")] * N_WRITERS)

    for r in results:
        _no_traceback(r)
        assert r.returncode == 0, r.stdout + r.stderr
    saved = sorted(r.stdout.split("Saved ")[1].split(" new")[0] for r in results)
    assert saved == ["0"] * (N_WRITERS - 1) + ["24"], [r.stdout for r in results]
    assert sum("24 were already stored or unchanged" in r.stdout for r in results) == N_WRITERS - 1
    with open_store(pg_url) as store:
        assert [s.name for s in store.list_sources()] == ["EPEX"]
        assert store.count_beliefs() == 24
        assert len(store.ingestions_since(0)) == 1


def test_eight_writers_with_overlapping_conflicting_files(pg_url: str, tmp_path: Path) -> None:
    """Writer i stores 12 hours from hour 6·i with values of its own: neighbours overlap by 6
    hours with different values. One after the other, a writer is refused exactly when a
    neighbour was stored before it; concurrently the outcome must be one such order's."""
    sensor = _sensor(pg_url)
    with open_store(pg_url) as store:
        store.get_or_create_source("EPEX", "market")  # an existing source for all
    commands, files = [], []
    for i in range(N_WRITERS):
        path = tmp_path / f"w{i}.csv"
        rows = {h: 1000 * (i + 1) + h for h in range(6 * i, 6 * i + 12)}
        path.write_text(
            "event_start,value\n" + "".join(f"{_hour(h)},{v}\n" for h, v in rows.items())
        )
        commands.append(_add(pg_url, path, sensor, "EPEX"))
        files.append(rows)

    results = _run_writers(tmp_path, commands)

    stored = set()
    for i, r in enumerate(results):
        _no_traceback(r)
        if r.returncode == 0:
            assert "Saved 12 new" in r.stdout, r.stdout
            stored.add(i)
        else:
            assert "already holds value" in r.stderr and "refusing to change it" in r.stderr, (
                r.stdout + r.stderr
            )
    assert stored, "no writer succeeded"
    for i in range(N_WRITERS):
        if i in stored:
            assert i + 1 not in stored, f"writers {i} and {i + 1} overlap and both stored"
        else:
            assert {i - 1, i + 1} & stored, f"writer {i} was refused with no stored neighbour"
    expected = {h: v for i in sorted(stored) for h, v in files[i].items()}
    with open_store(pg_url) as store:
        frame = store.search_beliefs(sensor)
        got = dict(
            zip(
                [int((t - T0).total_seconds() // 3600) for t in frame["event_start"]],
                frame["event_value"].to_list(),
                strict=True,
            )
        )
        assert got == {h: float(v) for h, v in expected.items()}
        assert len(store.ingestions_since(0)) == len(stored)
        assert sum(i.n_new for i in store.ingestions_since(0)) == 12 * len(stored)
