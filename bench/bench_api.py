"""Benchmark: the HTTP API under load, and schedule trigger-to-result latency.

Run: ``.venv/bin/python bench/bench_api.py`` → ``bench/results/api.md``.

A server (``flexpipe api run`` equivalent: uvicorn, one process, DuckDB file) runs in a
subprocess on 127.0.0.1; 8 client threads (httpx, keep-alive) each POST one day of quarter-hour
values (96 beliefs) per request to their own sensor, day after day, for a fixed time. After a
warm-up, three timed runs; the median run's throughput and the latency percentiles over all
timed requests are reported. Afterwards the server is stopped and the store is opened to count
the beliefs: every acknowledged belief must be there exactly once. Then schedules are triggered
(force-new-job-creation) and polled on /jobs until finished, then fetched: trigger-to-result.
The server's per-user rate limit is raised for the load test (the default is 50 requests/s).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "api.md"
CLIENTS = 8
VALUES_PER_POST = 96
WARMUP_S = 3.0
RUN_S = 6.0
RUNS = 3
SCHEDULE_RUNS = 15
PASSWORD = "bench-password"
DAY = "2026-01-06T00:00:00+01:00"


def populate(db: str) -> dict[str, object]:
    from flex_pipelines.api.auth import hash_password
    from flex_pipelines.api.tables import ensure_api_tables
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.toy import create_toy_account

    with open_store(db) as store:
        ensure_api_tables(store)
        battery = create_toy_account(store, "battery")
        proc = create_toy_account(store, "process", name="Process Account")
        acc = proc["account"]["id"]
        store.add_user(acc, "bench@example.com", hash_password(PASSWORD, rounds=4), ["admin"])
        site = store.add_asset("load site", "building", acc)
        sensors = [
            store.add_sensor(f"meter {i}", "kW", timedelta(minutes=15), asset_id=site.id).id
            for i in range(CLIENTS)
        ]
        return {
            "sensors": sensors,
            "price": proc["price sensor"]["id"],
            "process": proc["power sensor"]["id"],
            "battery": battery["power sensor"]["id"],
        }


def serve(db: str, port: int) -> subprocess.Popen:
    code = (
        "import uvicorn; from flex_pipelines.api import create_app, ApiSettings; "
        f"app = create_app({db!r}, ApiSettings(rate_per_s=1e6, rate_burst=1e6)); "
        f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/ops/ping", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


class Loader:
    """8 threads posting day after day to their own sensor until told to stop."""

    def __init__(self, base: str, token: str, sensors: list[int]) -> None:
        self.base, self.token, self.sensors = base, token, sensors
        self.next_day = [0] * len(sensors)
        self.acked = [0] * len(sensors)
        self.errors = 0

    def run(self, seconds: float) -> tuple[int, list[float], float]:
        """Load for ``seconds``; return (beliefs acknowledged, latencies in s, elapsed s)."""
        stop = time.monotonic() + seconds
        lat: list[list[float]] = [[] for _ in self.sensors]
        counts = [0] * len(self.sensors)

        def worker(i: int) -> None:
            with httpx.Client(
                base_url=self.base, headers={"Authorization": self.token}, timeout=60
            ) as c:
                while time.monotonic() < stop:
                    day = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=self.next_day[i])
                    body = {
                        "values": [
                            float((self.next_day[i] + k) % 97) for k in range(VALUES_PER_POST)
                        ],
                        "start": day.isoformat(),
                        "duration": "P1D",
                        "unit": "kW",
                    }
                    t0 = time.perf_counter()
                    r = c.post(f"/api/v3_0/sensors/{self.sensors[i]}/data", json=body)
                    lat[i].append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        self.errors += 1
                        continue
                    self.next_day[i] += 1
                    counts[i] += r.json()["n_received"]

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(self.sensors))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        for i, n in enumerate(counts):
            self.acked[i] += n
        return sum(counts), [x for xs in lat for x in xs], elapsed


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def schedule_latency(
    base: str, token: str, price: int, sensor: int, flex_model: dict | None = None
) -> list[float]:
    out = []
    with httpx.Client(base_url=base, headers={"Authorization": token}, timeout=60) as c:
        r = c.post(
            f"/api/v3_0/sensors/{price}/data",
            json={
                "values": [float(50 + (h * 7) % 40) for h in range(24)],
                "start": DAY,
                "duration": "P1D",
                "unit": "EUR/MWh",
                "prior": "2026-01-05T12:00:00+01:00",
            },
        )
        assert r.status_code == 200, r.text
        for k in range(SCHEDULE_RUNS + 2):
            t0 = time.perf_counter()
            job = c.post(
                f"/api/v3_0/sensors/{sensor}/schedules/trigger",
                json={
                    "start": DAY,
                    "duration": "P1D",
                    "force-new-job-creation": True,
                    **({"flex-model": flex_model} if flex_model else {}),
                },
            ).json()["job"]
            while c.get(f"/api/v3_0/jobs/{job}").json()["status"] not in ("FINISHED", "FAILED"):
                time.sleep(0.002)
            got = c.get(f"/api/v3_0/sensors/{sensor}/schedules/{job}")
            assert got.status_code == 200 and len(got.json()["values"]) == 96, got.text
            if k >= 2:  # warm-up
                out.append(time.perf_counter() - t0)
    return out


def measure(db: str) -> dict[str, object]:
    """Load, count and schedule against a server over ``db`` (a DuckDB path or postgresql URL)."""
    from flex_pipelines.beliefs import open_store
    from tests.api.conftest import free_port

    ids = populate(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(db, port)
    try:
        token = httpx.post(
            f"{base}/api/requestAuthToken",
            json={"email": "bench@example.com", "password": PASSWORD},
        ).json()["auth_token"]
        loader = Loader(base, token, ids["sensors"])  # type: ignore[arg-type]
        loader.run(WARMUP_S)
        runs = [loader.run(RUN_S) for _ in range(RUNS)]
        sched = schedule_latency(base, token, ids["price"], ids["process"])  # type: ignore[arg-type]
        battery = schedule_latency(
            base, token, ids["price"], ids["battery"], {"soc-at-start": "225 kWh"}
        )  # type: ignore[arg-type]
        with httpx.Client(base_url=base, headers={"Authorization": token}) as c:
            health = c.get("/api/v3_0/health/ready").json()
    finally:
        server.terminate()
        server.wait(30)
    sensors = ", ".join(str(s) for s in ids["sensors"])  # type: ignore[union-attr]
    with open_store(db) as store:
        stored = store.count_beliefs(ids["sensors"])  # type: ignore[arg-type]
        distinct = store.query(
            "SELECT count(*) AS n FROM (SELECT DISTINCT sensor_id, event_start, belief_time, "
            f"source_id, cumulative_probability FROM beliefs WHERE sensor_id IN ({sensors})) d"
        )["n"][0]
    rates = sorted(n / el for n, _, el in runs)
    return {
        "rates": rates,
        "lat": [x for _, lat, _ in runs for x in lat],
        "errors": loader.errors,
        "acked": sum(loader.acked),
        "stored": stored,
        "distinct": int(distinct),
        "health": health,
        "sched": sched,
        "battery": battery,
    }


def rows(name: str, m: dict) -> list[str]:
    rates, lat, sched, h, bat = m["rates"], m["lat"], m["sched"], m["health"], m["battery"]
    ok = m["acked"] == m["stored"] == m["distinct"]
    return [
        f"| {name}: sustained POST /data throughput (median of {RUNS} runs of {RUN_S:.0f} s after {WARMUP_S:.0f} s warm-up; range) | **{statistics.median(rates):,.0f} beliefs/s** ({statistics.median(rates) / VALUES_PER_POST:,.0f} requests/s; {rates[0]:,.0f} – {rates[-1]:,.0f}) |",
        f"| {name}: POST latency p50 / p99 ({len(lat):,} timed requests, 8 concurrent) | {pct(lat, 0.5) * 1000:.1f} ms / {pct(lat, 0.99) * 1000:.1f} ms |",
        f"| {name}: non-200 answers under load | {m['errors']} |",
        f"| {name}: store saves / requests saved in combined saves (group commit) | {h['belief_saves']:,} / {h['requests_saved_in_groups']:,} |",
        f"| {name}: beliefs acknowledged (200 answers, warm-up included) / stored / distinct keys | {m['acked']:,} / {m['stored']:,} / {m['distinct']:,} — {'no lost or duplicated beliefs' if ok else 'MISMATCH'} |",
        f"| {name}: schedule trigger → job finished → schedule fetched, toy battery (1 day, 96 steps, storage LP), median of {len(bat)} | **{statistics.median(bat) * 1000:.0f} ms** (p90 {pct(bat, 0.9) * 1000:.0f} ms) |",
        f"| {name}: the same for the toy process (process scheduler), median of {len(sched)} | {statistics.median(sched) * 1000:.0f} ms (p90 {pct(sched, 0.9) * 1000:.0f} ms) |",
    ]


def main() -> None:
    from tests.pg import find_or_start_postgres

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["DuckDB"] = measure(str(Path(tmp) / "bench.duckdb"))
    pg, why = find_or_start_postgres()
    if pg is not None:
        try:
            results["PostgreSQL"] = measure(pg.create_database("flexpipe_bench"))
        finally:
            pg.stop()
    lines = [
        "## HTTP API (FlexMeasures v3 compatible)",
        "",
        f"Machine: {os.cpu_count()} cores (shared with other work), {platform.python_implementation()} "
        f"{platform.python_version()}, {datetime.now(UTC).date().isoformat()}. Server: one uvicorn "
        f"process on 127.0.0.1 (a subprocess) over a DuckDB file, then over PostgreSQL; {CLIENTS} "
        f"client threads (httpx, keep-alive) in the benchmark process, each POSTing "
        f"{VALUES_PER_POST} quarter-hour values per request to its own sensor. The per-user rate "
        f"limit is raised for the load (default 50 requests/s). Run: `python bench/bench_api.py`.",
        "",
        "| measure | value |",
        "|---|---|",
    ]
    for name, m in results.items():
        lines += rows(name, m)
    lines += [
        "",
        "Trigger-to-result: POST …/schedules/trigger (force-new-job-creation), poll "
        "GET /api/v3_0/jobs/<id> every 2 ms until FINISHED, GET …/schedules/<id>; with the "
        "prices posted beforehand and after two warm-up runs.",
        "",
        "Store access is serialised by one lock in the API process (DuckDB: one writer per "
        "file); concurrent POSTs are saved together in one transaction (group commit), which "
        "is what lets 8 clients outrun one-save-per-request."
        + ("" if pg is not None else f" PostgreSQL: not measured ({why})."),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
