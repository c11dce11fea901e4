"""Fleet benchmark (issue 18, batch scheduling in the service): N synthetic sites (battery, PV and
load each; :mod:`flex_pipelines.fleet`), one day-ahead window of 96 quarter hours.

For each backend (DuckDB file, PostgreSQL schema) and fleet size, in one process:

- **batch**: :func:`flex_pipelines.service.batch.schedule_sites` over all sites in chunks of 500
  (two set-based reads per chunk, one bulk save) — sites per second and the per-site split into
  read, solve and save;
- **one at a time**: :func:`flex_pipelines.service.schedule` per site (what the pipeline's site
  steps do) over the first 100 sites, as the baseline; the ratio is per site, same run.

Peak memory (max RSS of the process, MiB) is read after each configuration; each configuration
runs in a fresh process. Building the fleet is not timed. ``python bench/bench_fleet.py
[--sites 1000,10000] [--backends duckdb,postgres]`` writes bench/results/fleet.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 500
BASELINE_SITES = 100


def _pg_url() -> str:
    from tests.pg import find_or_start_postgres

    server, why = find_or_start_postgres()
    if server is None:
        raise SystemExit(f"PostgreSQL needed: {why}")
    return f"{server.create_database('flexpipe_bench')}?schema=fleet_{uuid.uuid4().hex[:8]}"


def run_one(backend: str, n_sites: int, baseline: int = BASELINE_SITES) -> dict[str, float]:
    """Build a fleet, schedule it in batches and a baseline one site at a time; numbers."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.demo import TZ
    from flex_pipelines.fleet import build_fleet
    from flex_pipelines.service import LOCAL_ADMIN, schedule
    from flex_pipelines.service.batch import schedule_sites
    from flex_pipelines.sites import AssetTree
    from flex_pipelines.time import day_window

    url = str(Path(tempfile.mkdtemp()) / "fleet.duckdb") if backend == "duckdb" else _pg_url()
    with open_store(url) as store:
        t = time.perf_counter()
        fleet = build_fleet(store, n_sites)
        build_s = time.perf_counter() - t
        start, end = day_window(fleet.days[0], TZ)
        as_of = start - timedelta(hours=1)
        t0 = time.perf_counter()
        tree = AssetTree.load(store)
        split = {"read_s": 0.0, "solve_s": 0.0, "save_s": 0.0}
        done = failed = 0
        for i in range(0, n_sites, CHUNK):
            rec = schedule_sites(
                LOCAL_ADMIN,
                store,
                fleet.site_ids[i : i + CHUNK],
                start,
                end,
                as_of=as_of,
                tree=tree,
            )
            done += len(rec.records)
            failed += len(rec.failures)
            for k in split:
                split[k] += rec.timings[k]
        batch_s = time.perf_counter() - t0
        base = fleet.site_ids[:baseline]
        t1 = time.perf_counter()
        for sid in base:  # later belief time: saves new beliefs only where values change
            schedule(
                LOCAL_ADMIN, store, start, end, asset_id=sid, as_of=as_of + timedelta(minutes=1)
            )
        single_s = (time.perf_counter() - t1) / len(base)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "backend": backend,
        "sites": n_sites,
        "done": done,
        "failed": failed,
        "build_s": build_s,
        "batch_s": batch_s,
        "sites_per_s": done / batch_s,
        "per_site_ms": 1000 * batch_s / max(done, 1),
        "read_ms": 1000 * split["read_s"] / max(done, 1),
        "solve_ms": 1000 * split["solve_s"] / max(done, 1),
        "save_ms": 1000 * split["save_s"] / max(done, 1),
        "single_ms": 1000 * single_s,
        "peak_mib": rss,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", default="1000")
    ap.add_argument("--backends", default="duckdb,postgres")
    ap.add_argument("--configs", help="backend:sites,… instead of the product of the two above")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # backend:n in this process
    args = ap.parse_args(argv)
    if args.one:
        backend, n = args.one.split(":")
        print(json.dumps(run_one(backend, int(n), min(BASELINE_SITES, 200_000 // int(n)))))
        return
    rows = []
    configs = [(b, int(n)) for n in args.sites.split(",") for b in args.backends.split(",")]
    if args.configs:
        configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
    for backend, n in configs:
        out = subprocess.run(
            [sys.executable, __file__, "--one", f"{backend}:{n}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode:
            raise SystemExit(f"{backend}:{n} failed:\n{out.stderr[-3000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    lines = [
        "## Fleet scale: batch scheduling in the service (bench/bench_fleet.py)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load:.1f} on 2 cores "
        "at the end (other work was running: compare within a row, not across days). One "
        "day-ahead window, 96 quarter hours, battery + PV + load per site; batches of "
        f"{CHUNK} sites; 'one at a time' = service.schedule per site (which loads the asset tree "
        f"per call, as an API request does) over the first {BASELINE_SITES} sites "
        "(20 at 10,000), same process.",
        "",
        "| backend | sites | sites/s (batch) | ms/site batch | read | solve | save "
        "| ms/site one at a time | ratio | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['sites']:,} | {r['sites_per_s']:.0f} | {r['per_site_ms']:.1f} "
            f"| {r['read_ms']:.2f} | {r['solve_ms']:.2f} | {r['save_ms']:.2f} "
            f"| {r['single_ms']:.1f} | {r['single_ms'] / r['per_site_ms']:.1f}× "
            f"| {r['peak_mib']:.0f} |"
        )
    out = Path(__file__).parent / "results" / "fleet.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
