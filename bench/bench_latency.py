"""Latency benchmark: new prices for tomorrow → saved re-optimised schedule, with the daemon.

A toy site (a 200 kW SHIFTABLE process) in a DuckDB store has prices for today; ``dagster-daemon``
runs with the repository's ``dagster.yaml`` (queued runs, one at a time) and the shipped settings
(``FLEXPIPE_SENSOR_INTERVAL_S`` 4 s: every loop of the daemon's sensor evaluation, which runs every
5 s; ``--interval`` overrides it). The sensor's first tick starts from the latest ingestion (we
count the runs it queues: the bound says at most ``FLEXPIPE_REOPT_MAX_RUNS``). Then, ``n`` times,
we save 24 hourly prices for tomorrow (a new source each time) and time the path until the
``schedules`` materialization of tomorrow, split:

- **sensor**: save → run created (waiting for the next tick + the tick itself);
- **queue**: run created → dequeued and launching (``dequeue_interval_seconds``, 1 s here);
- **start-up**: launching → its first step starts (the code server spawns a fresh process, which
  imports the code location);
- **run**: first step → materialization (open the store, solve, save, metadata);
- **total**: save → materialization.

The machine is shared: ``--max-load L`` waits (up to ``--wait`` seconds) until the 1-minute load
average is at most ``L`` before starting, and the table records the load average (1 min, from
``/proc/loadavg``) at every revision.

``python -m bench.bench_latency [--n 5] [--interval S] [--max-load 1.5] [--timeline]`` writes
bench/results/latency.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flex_pipelines.beliefs import open_store  # noqa: E402
from flex_pipelines.pipeline.reoptimise import local_today  # noqa: E402
from flex_pipelines.settings import load_settings  # noqa: E402
from flex_pipelines.time import day_window  # noqa: E402
from flex_pipelines.toy import create_toy_account  # noqa: E402

OUT = ROOT / "bench" / "results" / "latency.md"


def save_prices(
    url: str, sensor_id: int, source: str, start: datetime, hours: int, k: int
) -> float:
    """Save hourly prices; returns the time the save committed."""
    with open_store(url) as s:  # waits out a sensor tick that holds the file
        src = s.get_or_create_source(source, type="market")
        frame = pl.DataFrame(
            {
                "sensor_id": [sensor_id] * hours,
                "event_start": [start + timedelta(hours=h) for h in range(hours)],
                "belief_time": [datetime.now(UTC) - timedelta(minutes=1)] * hours,
                "source_id": [src.id] * hours,
                "cumulative_probability": [0.5] * hours,
                "event_value": [float((h * 7 + k * 13) % 50 + 10) for h in range(hours)],
            }
        ).with_columns(pl.col("event_start", "belief_time").dt.cast_time_unit("us"))
        s.save_beliefs(frame)
        return time.time()


def bench(tmp: Path, n: int, interval_s: int | None, timeline: bool = False) -> dict:
    from dagster import (
        AssetKey,
        AssetRecordsFilter,
        DagsterEventType,
        DagsterInstance,
        DagsterRunStatus,
        RunsFilter,
    )

    tz = load_settings().timezone
    today = local_today(datetime.now(UTC), tz)
    tomorrow = today + timedelta(days=1)
    url = str(tmp / "latency.duckdb")
    with open_store(url) as s:
        made = create_toy_account(s, kind="process")
    price = made["price sensor"]["id"]
    t_start, _ = day_window(today, tz)
    save_prices(url, price, "EPEX", t_start, 24, 0)  # today's prices: history at first start
    home = tmp / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "FLEXPIPE_DB_URL": url,
        "FLEXPIPE_INBOX": str(tmp / "inbox"),
    }
    env.pop("FLEXPIPE_SENSOR_INTERVAL_S", None)
    if interval_s is not None:
        env["FLEXPIPE_SENSOR_INTERVAL_S"] = str(interval_s)
    interval_s = load_settings(env).sensor_interval_s
    exe = str(Path(sys.executable).parent / "dagster-daemon")
    log = open(tmp / "daemon.log", "w")  # noqa: SIM115
    daemon = subprocess.Popen(
        [exe, "run", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    key = AssetKey("schedules")
    rows: list[dict[str, float]] = []
    loads: list[float] = []
    automation: dict[str, int] = {}
    first_start_runs = -1
    try:
        with DagsterInstance.from_config(str(home)) as inst:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and first_start_runs < 0:
                for state in inst.all_instigator_state():
                    if state.instigator_name == "reoptimise_on_new_beliefs":
                        ticks = inst.get_ticks(state.instigator_origin_id, state.selector_id)
                        if any(tick.status.value != "STARTED" for tick in ticks):  # evaluated
                            first_start_runs = len(inst.get_runs())
                time.sleep(0.5)
            if first_start_runs < 0:
                raise TimeoutError(f"the sensor never ticked; see {tmp / 'daemon.log'}")
            w_start, _ = day_window(tomorrow, tz)
            for k in range(n):
                loads.append(load_1min())
                t0 = save_prices(url, price, f"EPEX revision {k}", w_start, 24, k + 1)
                while True:
                    recs = inst.fetch_materializations(
                        AssetRecordsFilter(
                            asset_key=key,
                            asset_partitions=[tomorrow.isoformat()],
                            after_timestamp=t0,
                        ),
                        limit=1,
                    ).records
                    if recs:
                        break
                    if time.time() - t0 > 120:
                        raise TimeoutError(f"no schedule within 120 s: {_why(inst)}")
                    time.sleep(0.1)
                mat = recs[0]
                run = inst.get_run_record_by_id(mat.run_id)
                created = run.create_timestamp.timestamp()
                started = run.start_time or created
                starting = inst.all_logs(mat.run_id, of_type=DagsterEventType.RUN_STARTING)
                launched = starting[0].timestamp if starting else created
                steps = inst.all_logs(mat.run_id, of_type=DagsterEventType.STEP_START)
                first_step = min(e.timestamp for e in steps) if steps else started
                if timeline:
                    print(f"run {mat.run_id[:8]} (save at -{created - t0:.2f} s):")
                    for e in inst.all_logs(mat.run_id):
                        kind = e.dagster_event.event_type_value if e.dagster_event else "log"
                        text = (e.user_message or "").replace("\n", " ")[:70]
                        print(f"  {e.timestamp - created:7.2f} {kind:28} {text}")
                rows.append(
                    {
                        "sensor": created - t0,
                        "queue": launched - created,
                        "startup": first_step - launched,
                        "run": mat.timestamp - first_step,
                        "total": mat.timestamp - t0,
                    }
                )
                busy = [
                    DagsterRunStatus.QUEUED,
                    DagsterRunStatus.STARTING,
                    DagsterRunStatus.STARTED,
                ]
                while inst.get_runs_count(RunsFilter(statuses=busy)):
                    time.sleep(0.2)
                time.sleep(1)
            automation = _ticks(inst, "automation")
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
    return {
        "rows": rows,
        "first_start_runs": first_start_runs,
        "interval_s": interval_s,
        "loads": loads,
        "automation_ticks": automation,
    }


def _ticks(inst, name: str) -> dict[str, int]:  # noqa: ANN001
    """How many ticks of the sensor ``name`` the daemon recorded, by status."""
    counts: dict[str, int] = {}
    for state in inst.all_instigator_state():
        if state.instigator_name == name:
            for tick in inst.get_ticks(state.instigator_origin_id, state.selector_id, limit=1000):
                counts[tick.status.value] = counts.get(tick.status.value, 0) + 1
    return counts


def load_1min() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_for_quiet(max_load: float, wait_s: float) -> float:
    """Wait until the 1-minute load average is at most ``max_load`` (at most ``wait_s`` s);
    returns the load average it started at."""
    deadline = time.monotonic() + wait_s
    while (load := load_1min()) > max_load and time.monotonic() < deadline:
        time.sleep(10)
    return load


def _why(inst) -> str:  # noqa: ANN001
    """The sensor's last tick and the runs' statuses, for a timeout message."""
    out = [f"runs: {[(r.job_name, r.status.value) for r in inst.get_runs(limit=5)]}"]
    for state in inst.all_instigator_state():
        if state.instigator_name == "reoptimise_on_new_beliefs":
            for tick in inst.get_ticks(state.instigator_origin_id, state.selector_id, limit=30)[
                -3:
            ]:
                out.append(f"tick {tick.status.value}: {tick.skip_reason or tick.error}")
    return "; ".join(out)


def write(result: dict) -> None:
    rows = result["rows"]
    cols = ["sensor", "queue", "startup", "run", "total"]
    med = {c: statistics.median(r[c] for r in rows) for c in cols}
    lo = {c: min(r[c] for r in rows) for c in cols}
    hi = {c: max(r[c] for r in rows) for c in cols}
    loads = result["loads"]
    lines = [
        "## Latency: new prices for tomorrow → saved schedule (bench/bench_latency.py)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores with "
        f"`dagster-daemon` and the repository's dagster.yaml, sensor interval "
        f"{result['interval_s']} s (`FLEXPIPE_SENSOR_INTERVAL_S`), one toy site on DuckDB, "
        f"{len(rows)} price revisions for tomorrow. Load average (1 min) at the revisions: "
        f"median {statistics.median(loads):.1f} (min {min(loads):.1f}, max {max(loads):.1f}). "
        f"Runs queued by the sensor's first start (prices for today already in the store): "
        f"**{result['first_start_runs']}** (it starts at the latest ingestion). The daemon "
        f"evaluated the automation conditions meanwhile (`automation` sensor ticks: "
        f"{', '.join(f'{n} {k.lower()}' for k, n in sorted(result['automation_ticks'].items()))}).",
        "",
        "| part | median s | min s | max s |",
        "|---|---|---|---|",
    ]
    names = {
        "sensor": "sensor (save → run created: tick interval + tick)",
        "queue": "queue (created → dequeued and launching)",
        "startup": "start-up (launching → first step: new process, code load)",
        "run": "run (first step → materialization: solve, save)",
        "total": "**total (save → schedule saved)**",
    }
    for c in cols:
        lines.append(f"| {names[c]} | {med[c]:.1f} | {lo[c]:.1f} | {hi[c]:.1f} |")
    lines.append("")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--interval", type=int, default=None, help="sensor interval (default: setting)")
    ap.add_argument("--max-load", type=float, default=None, help="wait for this 1-min load")
    ap.add_argument("--wait", type=float, default=900, help="seconds to wait for --max-load")
    ap.add_argument("--timeline", action="store_true", help="print every event of each run")
    args = ap.parse_args(argv)
    if args.max_load is not None:
        print(f"load average {wait_for_quiet(args.max_load, args.wait):.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        write(bench(Path(tmp), args.n, args.interval, args.timeline))


if __name__ == "__main__":
    main()
