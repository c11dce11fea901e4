"""A run killed in the middle of the schedules step leaves no half-written window, and running
the window again (what a run retry does) completes it (PostgreSQL store, so the test can watch
the run from outside while it writes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta

import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from tests.dagster.conftest import build_site

FIRST, DAYS = date(2015, 3, 2), 40

CHILD = textwrap.dedent(
    """
    import sys
    from datetime import date
    from flex_pipelines.pipeline import run_pipeline
    run_pipeline(sys.argv[1], date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3]),
                 progress=False, assets=["schedules"])
    """
)


def _per_day(url: str, sensor_id: int) -> dict[str, int]:
    with open_store(url) as s:
        df = s.query(
            "SELECT CAST(event_start AT TIME ZONE 'Europe/Amsterdam' AS DATE) AS day, count(*) AS n "
            "FROM beliefs b JOIN sources src ON src.id = b.source_id "
            "WHERE b.sensor_id = ? AND src.type = 'scheduler' GROUP BY 1",
            [sensor_id],
        )
    return {str(d): int(n) for d, n in zip(df["day"], df["n"], strict=True)}


@pytest.mark.slow
def test_killed_run_leaves_whole_windows_and_a_rerun_completes(pg_url, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    made = build_site(pg_url, kind="battery", first=FIRST, days=DAYS)
    power = made["power sensor"]["id"]
    with open_store(pg_url) as s:
        battery = s.get_asset(made["battery"]["id"])
        s.update_asset(battery.id, flex_model={**battery.flex_model, "soc-at-start": "225 kWh"})
    last = FIRST + timedelta(days=DAYS - 1)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, pg_url, FIRST.isoformat(), last.isoformat()],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(_per_day(pg_url, power).values()) > 0:
                break
            time.sleep(0.02)
        assert proc.poll() is None, (
            f"the run ended before it could be killed: {proc.stderr.read()!r}"
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    after_kill = _per_day(pg_url, power)
    # every local day is either fully scheduled (96 quarter hours) or not at all
    assert after_kill and all(n == 96 for n in after_kill.values()), after_kill
    assert len(after_kill) < DAYS, "the kill came after the last window: nothing was interrupted"
    # the retry: the same window again, in-process
    summary = run_pipeline(pg_url, FIRST, last, progress=False, assets=["schedules"])
    assert summary.success, summary.error
    with open_store(pg_url) as s:
        schedule = s.search_beliefs(power, source_types=["scheduler"], one_per_event=True)
    assert schedule.height == DAYS * 96 - 4  # 40 local days, one of them the 23-hour DST day
