"""A process killed in the middle of a save leaves all or none of it stored (both backends)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from flex_pipelines.beliefs import open_store

CHILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    import polars as pl
    from flex_pipelines.beliefs import open_store

    store = open_store(sys.argv[1])
    sensor = store.add_sensor("crash", "kW", timedelta(minutes=15))
    src = store.get_or_create_source("crash test", "user")
    n = int(sys.argv[2])
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    starts = pl.datetime_range(t0, t0 + n * timedelta(minutes=15), "15m", closed="left", eager=True, time_unit="us")
    frame = pl.DataFrame({"sensor_id": sensor.id, "event_start": starts, "belief_time": t0,
                          "source_id": src.id, "event_value": 1.0})
    print("saving", flush=True)
    store.save_beliefs(frame)
    print("saved", flush=True)
    """
)


def _crash_during_save(url: str, n: int, delay_s: float) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(n)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout.readline().strip() == "saving"
    time.sleep(delay_s)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.stdout.read()


def test_killed_save_is_all_or_nothing(store_url):
    n = 1_000_000
    outcomes = set()
    for delay in (0.05, 0.3):
        tail = _crash_during_save(store_url, n, delay)
        with open_store(store_url) as store:
            counts = {s.name: store.count_beliefs(s.id) for s in store.list_sensors()}
            watermark = store.ingestion_watermark()
            logged = sum(i.n_new for i in store.ingestions_since(0))
        for count in counts.values():
            assert count in (0, n), counts
        assert logged == sum(counts.values())  # the ingestion log agrees with what is stored
        outcomes.add("saved" in tail)
        assert watermark == len([c for c in counts.values() if c])
    # at least one kill landed before the commit (otherwise the test proved nothing)
    assert False in outcomes
