"""Fleet benchmark through Dagster (issue 18): the chunked schedules asset over N synthetic sites
on PostgreSQL — in one process, as an intraday cycle, and on dagster-celery with 1 and 2 workers.

The fleet (:mod:`flex_pipelines.fleet`) is built once per size in a kept PostgreSQL schema
(``fleet_<n>`` of database ``flexpipe_bench_fleet``) and reused, since building 10,000 sites one entity
at a time takes over 20 minutes. Every configuration starts from no schedules (the scheduler's
beliefs are deleted before it), except the intraday cycle, which follows the day-ahead run and
re-plans the rest of the day from 12:00 local from the latest state of charge (the day-ahead
plan's). Times are wall clock of the whole run (``execute_job``/``execute_in_process``),
per-chunk read/solve/save from the asset's metadata; "orchestration" is the rest. Peak memory:
the orchestrating process, and on celery the largest worker process (VmHWM, MiB).

``python -m bench.bench_fleet_dagster [--sites 10000] [--configs inproc,intraday,celery1,celery2]
[--span 1000]`` writes bench/results/fleet_dagster.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "fleet_dagster.md"
HEADING = (
    "## Fleet scale through Dagster: the chunked schedules asset (bench/bench_fleet_dagster.py)"
)


def fleet_url(n_sites: int) -> tuple[str, Any]:
    """The kept fleet of ``n_sites`` (built on first use) and what it holds."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.fleet import build_fleet
    from flex_pipelines.pipeline import list_sites
    from tests.pg import find_or_start_postgres

    server, why = find_or_start_postgres()
    if server is None:
        raise SystemExit(f"PostgreSQL needed: {why}")
    import psycopg

    name = "flexpipe_bench_fleet"  # kept between runs (create_database names are per process)
    with psycopg.connect(server.admin_url, autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            con.execute(f'CREATE DATABASE "{name}"')
    url = f"{server.url(name)}?schema=fleet_{n_sites}"
    with open_store(url) as s:
        sites = list_sites(s)
        if len(sites) != n_sites:
            t = time.perf_counter()
            print(f"building a fleet of {n_sites:,} sites …", flush=True)
            build_fleet(s, n_sites)
            print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
    return url, server


def clear_schedules(url: str) -> None:
    from flex_pipelines.beliefs import open_store

    with open_store(url) as s, s.transaction():
        s.execute(
            "DELETE FROM beliefs WHERE source_id IN "
            "(SELECT id FROM sources WHERE type = 'scheduler')"
        )


def _chunk_split(instance: Any, run_id: str) -> dict[str, float]:
    """Sum of the chunks' read/solve/save seconds and the site-days, from the materialization."""
    from dagster import AssetKey

    recs = instance.fetch_materializations(AssetKey("schedules"), limit=5).records
    rec = next(r for r in recs if r.run_id == run_id)
    meta = rec.asset_materialization.metadata
    chunks = meta["chunks"].value
    out = {k: sum(c.get(k, 0.0) for c in chunks) for k in ("read_s", "solve_s", "save_s")}
    out["sites"] = float(meta["site_days"].value)
    out["failed"] = float(meta["n_failed"].value)
    out["chunks"] = float(len(chunks))
    return out


def run_inprocess(url: str, day: Any, span: int, now: str | None = None) -> dict[str, Any]:
    from dagster import AssetKey, DagsterInstance

    from assets_defs.schedules import schedule_run_config
    from flex_pipelines.definitions import defs

    job = defs.resolve_job_def("reoptimise_job")
    config = {"resources": {"store": {"config": {"url": url}}}}
    config.update(schedule_run_config(chunk_span=span, intraday=now is not None, now=now))
    with DagsterInstance.ephemeral() as instance:
        t = time.perf_counter()
        result = job.execute_in_process(
            run_config=config,
            instance=instance,
            partition_key=day.isoformat(),
            asset_selection=[AssetKey("schedules")],
        )
        wall = time.perf_counter() - t
        assert result.success
        split = _chunk_split(instance, result.run_id)
    return {"wall_s": wall, **split, "peak_mib": _rss(resource.RUSAGE_SELF)}


def run_celery(url: str, day: Any, span: int, n_workers: int, server: Any) -> dict[str, Any]:
    from dagster import DagsterInstance

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
    from tests.dagster.test_celery import run_on_celery

    os.environ.update(CELERY_ENV)
    why = ensure_redis()
    if why:
        raise SystemExit(why)
    tmp = Path(tempfile.mkdtemp())
    db = server.create_database(f"flexpipe_bench_dagster_{n_workers}")
    home = write_home(tmp / "home", postgres_instance_yaml(db))
    with DagsterInstance.from_config(str(home)) as instance:
        purge_queue()
        workers = start_workers(n_workers, home, {}, tmp)
        try:
            wait_ready(tmp, n_workers)
            t = time.perf_counter()
            result = run_on_celery(instance, url, day, chunk_span=span)
            wall = time.perf_counter() - t
            assert result.success
            split = _chunk_split(instance, result.run_id)
            peak = _workers_peak_mib()
        finally:
            stop_workers(workers)
    return {"wall_s": wall, **split, "peak_mib": peak}


def _workers_peak_mib() -> float:
    """The largest peak resident size (VmHWM) of the running celery worker processes, MiB."""
    peak = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            cmd = (status.parent / "cmdline").read_bytes()
            if b"celery" not in cmd or b"worker" not in cmd:
                continue
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:  # the process ended meanwhile
            continue
    return peak


def _rss(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    from flex_pipelines.demo import FIRST_DAY, TZ
    from flex_pipelines.time import day_window, get_zone

    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--configs", default="inproc,intraday,celery1,celery2")
    ap.add_argument("--span", type=int, default=1000)
    args = ap.parse_args(argv)
    url, server = fleet_url(args.sites)

    day = FIRST_DAY + timedelta(days=1)
    noon = datetime.combine(day, datetime.min.time()).replace(hour=12, tzinfo=get_zone(TZ))
    start, end = day_window(day, TZ)
    rows = []
    for config in args.configs.split(","):
        if config != "intraday":
            clear_schedules(url)
        if config == "inproc":
            r = run_inprocess(url, day, args.span)
        elif config == "intraday":
            r = run_inprocess(url, day, args.span, now=noon.astimezone(UTC).isoformat())
        elif config.startswith("celery"):
            r = run_celery(url, day, args.span, int(config.removeprefix("celery")), server)
        else:
            raise SystemExit(f"unknown configuration {config!r}")
        r["config"] = config
        rows.append(r)
        print(r, flush=True)
    load = os.getloadavg()[0]
    names = {
        "inproc": "in one process (day-ahead)",
        "intraday": "intraday from 12:00, latest SoC, one process",
        "celery1": "celery, 1 worker",
        "celery2": "celery, 2 workers",
    }
    lines = [
        HEADING,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load:.1f} on 2 cores at "
        f"the end. {args.sites:,} sites (battery + PV + load each), PostgreSQL store and (celery) "
        f"instance, Redis broker; chunks of {args.span:,} site asset ids; one partition "
        f"({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC). Wall clock of the whole Dagster run; "
        "read/solve/save summed over the chunk steps (on celery they overlap across workers); "
        "orchestration = wall − read − solve − save (negative when workers overlap).",
        "",
        "| configuration | sites | chunks | wall s | sites/s | ms/site | read | solve | save "
        "| orchestration | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = max(r["sites"], 1)
        work = r["read_s"] + r["solve_s"] + r["save_s"]
        lines.append(
            f"| {names.get(r['config'], r['config'])} | {r['sites']:,.0f} | {r['chunks']:.0f} "
            f"| {r['wall_s']:.1f} | {n / r['wall_s']:.0f} | {1000 * r['wall_s'] / n:.1f} "
            f"| {1000 * r['read_s'] / n:.2f} | {1000 * r['solve_s'] / n:.2f} "
            f"| {1000 * r['save_s'] / n:.2f} | {1000 * (r['wall_s'] - work) / n:.2f} "
            f"| {r['peak_mib']:.0f} |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
