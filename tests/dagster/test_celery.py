"""Scale-out on dagster-celery: chunks of sites spread over two worker processes (Redis broker,
PostgreSQL instance and belief store), with the same schedules as the in-process run; here one
site per chunk (``chunk_span`` 1), the fleet test (``test_celery_fleet.py``) has hundreds."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, execute_job
from dagster._core.definitions.reconstruct import ReconstructableRepository

from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from tests.dagster.celery_support import (
    CELERY_ENV,
    ROOT,
    ensure_redis,
    postgres_instance_yaml,
    purge_queue,
    start_workers,
    stop_workers,
    wait_ready,
    write_home,
)
from tests.dagster.conftest import DAY, build_site

N_SITES = 4


def build_sites(url: str, n: int = N_SITES, first: date = DAY, days: int = 1) -> list[int]:
    """``n`` toy process sites sharing one price sensor; durations 2 h, 3 h, … so they differ."""
    ids = []
    for i in range(n):
        made = build_site(url, first=first, days=days, name=f"Site {i + 1}")
        with open_store(url) as s:
            proc = s.get_asset(made["process"]["id"])
            s.update_asset(proc.id, flex_model={**proc.flex_model, "duration": f"PT{2 + i % 4}H"})
        ids.append(made["building"]["id"])
    return ids


def scheduled(url: str) -> list[tuple]:
    """Every scheduler belief (sensor, event start, value), in order, and no other column."""
    with open_store(url) as s:
        rows = s.query(
            "SELECT b.sensor_id, b.event_start, b.event_value FROM beliefs b JOIN sources s ON s.id = b.source_id "
            "WHERE s.type = 'scheduler' ORDER BY 1, 2"
        )
    return rows.rows()


def run_on_celery(
    instance: DagsterInstance,
    store_url: str,
    day: date,
    site_ids: list[int] | None = None,
    chunk_span: int = 1,
    tags: dict[str, str] | None = None,
):
    """A run of ``celery_schedules_job`` for ``day`` (chunks of ``chunk_span`` site ids)."""
    repo = ReconstructableRepository.for_module(
        "flex_pipelines.definitions", "defs", working_directory=str(ROOT)
    )
    job = repo.get_reconstructable_job("celery_schedules_job")
    # the launcher's executor config is deploy/celery.yaml's, with the Redis URLs from the env
    for name, value in CELERY_ENV.items():
        os.environ.setdefault(name, value)
    targets = {"site_ids": site_ids, "chunk_span": chunk_span}
    run_config = {
        "execution": yaml.safe_load((ROOT / "deploy" / "celery.yaml").read_text())["execution"],
        "resources": {"store": {"config": {"url": store_url}}},
        "ops": {"schedules": {"ops": {"schedule_targets": {"config": targets}}}},
    }
    tags = {"dagster/partition": day.isoformat(), **(tags or {})}
    return execute_job(job, instance=instance, run_config=run_config, tags=tags)


@pytest.mark.celery
@pytest.mark.slow
def test_schedules_fan_out_over_two_celery_workers(
    pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CELERY_ENV.items():
        monkeypatch.setenv(name, value)
    why = ensure_redis()
    if why:
        pytest.fail(why)
    store_db = pg_server.create_database("flexpipe_celery_store")
    on_celery, in_process = f"{store_db}?schema=celery", f"{store_db}?schema=inproc"
    sites = build_sites(on_celery)
    assert build_sites(in_process) == sites

    home = write_home(
        tmp_path / "dagster_home",
        postgres_instance_yaml(pg_server.create_database("flexpipe_dagster")),
    )
    with DagsterInstance.from_config(str(home)) as instance:  # schema created before workers start
        purge_queue()
        workers = start_workers(2, home, {}, tmp_path)
        try:
            wait_ready(tmp_path, 2)
            with run_on_celery(instance, on_celery, DAY) as result:
                assert result.success
                run_id = result.run_id
        finally:
            stop_workers(workers)

        engine = instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
        by_worker: dict[str, set[str]] = {}
        for e in engine:
            meta = e.dagster_event.engine_event_data.metadata if e.dagster_event else {}
            if "Celery worker" in meta:
                by_worker.setdefault(meta["Celery worker"].value, set()).add(
                    e.dagster_event.step_key
                )
        assert {w.split("@")[0] for w in by_worker} == {"w1", "w2"}, by_worker
        chunk_steps = {s for steps in by_worker.values() for s in steps if "schedule_chunk" in s}
        assert chunk_steps == {f"schedules.schedule_chunk[sites_{i}_{i}]" for i in sites}
        mats = instance.fetch_materializations(AssetKey("schedules"), limit=1).records
        meta = mats[0].asset_materialization.metadata
        workers = {p["worker_pid"] for p in meta["chunk_workers"].value}
        assert len(workers) >= 2  # two worker processes
        assert meta["sites"].value == N_SITES

    summary = run_pipeline(in_process, DAY, DAY, progress=False, assets=["schedules"])
    assert summary.success and summary.assets["schedules"]["sites"] == N_SITES
    celery_rows, local_rows = scheduled(on_celery), scheduled(in_process)
    assert len(celery_rows) == N_SITES * 96
    assert celery_rows == local_rows
