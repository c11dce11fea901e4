"""A fleet through the chunked schedules asset: in-process, on two celery workers, and with a
worker killed mid-chunk — every way gives the schedules one site at a time gives, each saved
exactly once.

One PostgreSQL store holds a synthetic fleet (:func:`flex_pipelines.fleet.build_fleet`: battery,
PV and load per site, one shared price). Each way of scheduling starts from no schedules (the
scheduler's beliefs of the previous way are deleted), so the rows compared are that way's own.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance

from flex_pipelines.beliefs import open_store
from flex_pipelines.fleet import build_fleet
from flex_pipelines.pipeline import list_sites, run_pipeline, schedule_site
from flex_pipelines.service.chunks import chunks_of
from flex_pipelines.time import day_window
from resources.step_io import TABLE
from tests.dagster.celery_support import (
    CELERY_ENV,
    ensure_redis,
    postgres_instance_yaml,
    purge_queue,
    start_workers,
    stop_workers,
    wait_ready,
    write_home,
)
from tests.dagster.test_celery import run_on_celery, scheduled

N_SITES = 240
SPAN = 120  # asset ids per chunk: a fleet site uses two (site, battery), so ~60 sites per chunk

pytestmark = [pytest.mark.celery, pytest.mark.slow, pytest.mark.postgres]


def _clear_schedules(url: str) -> None:
    with open_store(url) as s, s.transaction():
        s.execute(
            "DELETE FROM beliefs WHERE source_id IN (SELECT id FROM sources WHERE type = 'scheduler')"
        )


def _one_site_at_a_time(url: str, day) -> list[tuple]:
    start, end = day_window(day, "Europe/Amsterdam")
    with open_store(url) as s:
        for site in list_sites(s):
            schedule_site(s, site, start, end)
    return scheduled(url)


@pytest.fixture(scope="module")
def fleet(pg_server):
    url = pg_server.create_database("flexpipe_fleet") + "?schema=fleet"
    with open_store(url) as s:
        made = build_fleet(s, N_SITES)
    return url, made


@pytest.fixture
def celery_home(pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in CELERY_ENV.items():
        monkeypatch.setenv(name, value)
    why = ensure_redis()
    if why:
        pytest.fail(why)
    db = pg_server.create_database(f"flexpipe_dagster_{tmp_path.name[-20:].lower()}")
    return write_home(tmp_path / "dagster_home", postgres_instance_yaml(db))


def test_a_fleet_through_the_chunked_asset_equals_one_site_at_a_time(
    fleet, celery_home: Path, tmp_path: Path
) -> None:
    url, made = fleet
    day = made.days[0]
    assert len(chunks_of(made.site_ids, SPAN)) >= 4  # enough chunks for two workers

    # in-process, through the chunked asset (the pipeline runner, the default executor)
    summary = run_pipeline(url, day, day, progress=False, assets=["schedules"], chunk_span=SPAN)
    assert summary.success, summary
    sched = summary.assets["schedules"]
    assert (sched["sites"], sched["site_days"], sched["n_failed"]) == (N_SITES, N_SITES, 0)
    in_process = scheduled(url)
    assert len({r[0] for r in in_process}) >= N_SITES  # every battery's power (and its SoC)

    # one site at a time through the service
    _clear_schedules(url)
    alone = _one_site_at_a_time(url, day)
    assert alone == in_process

    # on two celery workers
    _clear_schedules(url)
    with DagsterInstance.from_config(str(celery_home)) as instance:
        purge_queue()
        workers = start_workers(2, celery_home, {}, tmp_path)
        try:
            wait_ready(tmp_path, 2)
            result = run_on_celery(instance, url, day, site_ids=None, chunk_span=SPAN)
            assert result.success
            run_id = result.run_id
        finally:
            stop_workers(workers)
        by_worker: dict[str, set[str]] = {}
        for e in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
            meta = e.dagster_event.engine_event_data.metadata if e.dagster_event else {}
            if "Celery worker" in meta:
                by_worker.setdefault(meta["Celery worker"].value, set()).add(
                    e.dagster_event.step_key
                )
        assert {w.split("@")[0] for w in by_worker} == {"w1", "w2"}, by_worker
        chunk_steps = {s for steps in by_worker.values() for s in steps if "schedule_chunk" in s}
        assert chunk_steps == {
            f"schedules.schedule_chunk[{c.key}]" for c in chunks_of(made.site_ids, SPAN)
        }
    assert scheduled(url) == in_process
    # the step outputs went to the store (PostgreSQL), not to a worker's disk
    with open_store(url) as s:
        kept = s.query(f"SELECT count(*) AS n FROM {TABLE} WHERE run_id = ?", [run_id])
    assert kept["n"][0] == 2 * len(chunk_steps)  # each chunk's targets, then its result


def test_killing_a_worker_mid_chunk_retries_the_chunk_and_saves_each_schedule_once(
    fleet, celery_home: Path, tmp_path: Path
) -> None:
    url, made = fleet
    day = made.days[0]
    _clear_schedules(url)
    killed: list[int] = []

    def kill_first_chunk_process(instance: DagsterInstance) -> None:
        """SIGKILL the worker process that runs the first chunk step, as soon as it starts."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            runs = instance.get_runs(limit=1)
            if runs:
                for e in instance.all_logs(runs[0].run_id, of_type=DagsterEventType.STEP_START):
                    pid = e.dagster_event.pid if e.dagster_event else None
                    if e.step_key and "schedule_chunk" in e.step_key and pid:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
            time.sleep(0.02)

    with DagsterInstance.from_config(str(celery_home)) as instance:
        purge_queue()
        workers = start_workers(2, celery_home, {}, tmp_path)
        try:
            wait_ready(tmp_path, 2)
            killer = threading.Thread(target=kill_first_chunk_process, args=(instance,))
            killer.start()
            # one chunk of every site: the kill lands while it solves or saves
            result = run_on_celery(instance, url, day, chunk_span=10_000)
            killer.join()
            assert result.success
            run_id = result.run_id
        finally:
            stop_workers(workers)
        starts = [
            e.step_key
            for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
            if e.step_key and "schedule_chunk" in e.step_key
        ]
    assert killed, "no chunk step started within two minutes"
    assert len(starts) >= 2, starts  # the chunk started again after the kill
    rows = scheduled(url)
    per_event = {(r[0], r[1]) for r in rows}
    assert len(rows) == len(per_event)  # each schedule exactly once
    with open_store(url) as s:
        power = {i for site in list_sites(s) for i in site.power_sensor_ids()}
    counts: dict[int, int] = {}
    for sensor_id, _, _ in rows:
        counts[sensor_id] = counts.get(sensor_id, 0) + 1
    assert len(power) == N_SITES and {counts.get(i, 0) for i in power} == {96}
