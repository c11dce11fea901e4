"""Benchmark: daily KPIs for 1,000 sites × 1 year of 15-minute data (35M power values + prices).

Set-up (not timed): sites, sensors and sources are created through the store API; the beliefs
are generated **directly in SQL** (``INSERT INTO beliefs SELECT … FROM range(…)`` in DuckDB,
``generate_series`` in PostgreSQL) because pushing 35M rows through ``save_beliefs`` (validation,
idempotency anti-join, ingestion log) would take far longer than the thing we measure. The rows
are the same as saved ones: one belief per event, ordered by sensor and time.

Each site has a 15-minute net site power sensor (kW, consumption positive, with midday export)
and shares an hourly consumption price and an hourly production price (EUR/MWh). Measured:
:func:`flex_pipelines.reporting.kpis.kpis_for_specs` over the whole year (one SQL query per
store), the median of several runs after a warm-up. Site specs are resolved once beforehand
(timed separately).

PostgreSQL gets a reduced set (``--pg-sites``, default 100 sites × 1 year = 3.5M power values):
loading 35M rows with a primary key takes much longer than the measurement; the report
extrapolates linearly, which is what a full scan + hash aggregate costs.

Run: ``.venv/bin/python bench/bench_reporting.py`` (``--help`` for sizes); writes
``bench/results/reporting.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flex_pipelines.beliefs import BeliefStore, open_store
from flex_pipelines.reporting.kpis import kpis_for_specs
from flex_pipelines.reporting.site import site_specs

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = int((END - START).total_seconds() // 900)  # 35,040 quarter hours
HOURS = STEPS // 4
RESULTS = Path(__file__).parent / "results" / "reporting.md"
DUCK_PATH = Path("/tmp/flexpipe_bench_reporting.duckdb")
PG_URL = os.environ.get(
    "FLEXPIPE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres?schema=bench_reporting"
)


def build_sites(store: BeliefStore, n_sites: int) -> tuple[list[int], list[int], int, int]:
    """Create the market, prices and sites; returns (site ids, power sensor ids, price ids…)."""
    with store.transaction():
        market = store.add_asset("bench market", "market", None, timezone="UTC")
        cp = store.add_sensor(
            "consumption price", "EUR/MWh", timedelta(hours=1), asset_id=market.id
        )
        pp = store.add_sensor("production price", "EUR/MWh", timedelta(hours=1), asset_id=market.id)
        account = store.add_account("bench")
        sites, sensors = [], []
        for i in range(n_sites):
            site = store.add_asset(
                f"site {i}",
                "building",
                account.id,
                timezone="Europe/Amsterdam",
                flex_context={
                    "consumption-price": {"sensor": cp.id},
                    "production-price": {"sensor": pp.id},
                },
            )
            meter = store.add_sensor("grid meter", "kW", timedelta(minutes=15), asset_id=site.id)
            store.update_asset(site.id, attributes={"kpis": {"site-power": {"sensor": meter.id}}})
            sites.append(site.id)
            sensors.append(meter.id)
    return sites, sensors, cp.id, pp.id


# kW: a daily load curve, midday PV export, and per-site/per-step noise from a hash
_POWER_DUCK = (
    "60 + 30 * sin(2 * pi() * (s.i % 96) / 96.0) "
    "- 90 * greatest(sin(2 * pi() * ((s.i % 96) - 28) / 80.0), 0) "
    "+ (hash(m.id, s.i) % 2000) / 100.0"
)
_POWER_PG = (
    "60 + 30 * sin(2 * pi() * (s.i % 96) / 96.0) "
    "- 90 * greatest(sin(2 * pi() * ((s.i % 96) - 28) / 80.0), 0) "
    "+ (abs(hashint8(m.id * 100003 + s.i)) % 2000) / 100.0"
)


def load_beliefs(store: BeliefStore, sensors: list[int], cp: int, pp: int) -> float:
    """Bulk-insert the year of beliefs in SQL; returns seconds taken."""
    src = store.get_or_create_source("bench meter", type="user")
    bt = "TIMESTAMPTZ '2024-12-31 00:00:00+00'"
    t0 = time.perf_counter()
    ids = ", ".join(f"({s})" for s in sensors)
    if store.dialect == "duckdb":
        steps, hours = f"range({STEPS}) s(i)", f"range({HOURS}) s(i)"
        ts = "TIMESTAMPTZ '2025-01-01 00:00:00+00' + s.i * INTERVAL '{} seconds'"
        power = _POWER_DUCK
    else:
        steps = f"generate_series(0, {STEPS - 1}) s(i)"
        hours = f"generate_series(0, {HOURS - 1}) s(i)"
        ts = "TIMESTAMPTZ '2025-01-01 00:00:00+00' + s.i * INTERVAL '{} seconds'"
        power = _POWER_PG
    cols = "sensor_id, event_start, belief_time, source_id, cumulative_probability, event_value, belief_horizon_s, ingestion_id"
    with store.transaction():
        store.execute(
            f"INSERT INTO beliefs ({cols}) SELECT m.id, {ts.format(900)}, {bt}, {src.id}, 0.5, "
            f"{power}, 0, 0 FROM (VALUES {ids}) m(id) CROSS JOIN {steps} ORDER BY m.id, s.i"
        )
        for sid, expr in (
            (cp, "40 + 30 * sin(2 * pi() * (s.i % 24) / 24.0)"),
            (pp, "30 + 20 * sin(2 * pi() * (s.i % 24) / 24.0)"),
        ):
            store.execute(
                f"INSERT INTO beliefs ({cols}) SELECT {sid}, {ts.format(3600)}, {bt}, {src.id}, "
                f"0.5, {expr}, 0, 0 FROM {hours}"
            )
    if store.dialect == "postgresql":
        store.execute("ANALYZE beliefs")
    return time.perf_counter() - t0


def _pg_backend(store: BeliefStore) -> int | None:
    """The PostgreSQL server process serving this store (None for DuckDB, which runs in ours)."""
    if store.dialect != "postgresql":
        return None
    return int(store.query("SELECT pg_backend_pid() AS pid")["pid"][0])


def _cpu(backend: int | None) -> float:
    """CPU seconds: ours (DuckDB's threads run in-process) or the PostgreSQL backend's (from
    /proc; its parallel workers are not included, so this is a lower bound)."""
    if backend is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(store: BeliefStore, sites: list[int], runs: int) -> dict[str, float]:
    t0 = time.perf_counter()
    specs = site_specs(store, sites)
    t_spec = time.perf_counter() - t0
    kpis_for_specs(store, specs, START, END)  # warm-up
    times, cpus, loads = [], [], []
    backend = _pg_backend(store)
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        t0, c0 = time.perf_counter(), _cpu(backend)
        frame = kpis_for_specs(store, specs, START, END)
        times.append(time.perf_counter() - t0)
        cpus.append(_cpu(backend) - c0)
    return {
        "cpu_s": statistics.median(cpus),
        "load": statistics.median(loads),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs": runs,
        "spec_s": t_spec,
        "rows": frame.height,
        "cost_sum": float(frame["cost"].sum()),
    }


def bench_duckdb(n_sites: int, runs: int) -> dict[str, float]:
    if DUCK_PATH.exists():
        DUCK_PATH.unlink()
    store = open_store(DUCK_PATH)
    try:
        sites, sensors, cp, pp = build_sites(store, n_sites)
        load_s = load_beliefs(store, sensors, cp, pp)
        n = store.count_beliefs()
        out = measure(store, sites, runs)
    finally:
        store.close()
    out.update(load_s=load_s, n_beliefs=n, size_mb=DUCK_PATH.stat().st_size / 1e6)
    return out


def bench_postgres(n_sites: int, runs: int) -> dict[str, float]:
    schema = PG_URL.rsplit("schema=", 1)[-1] if "schema=" in PG_URL else None
    base = PG_URL.split("?")[0]
    if schema:
        admin = open_store(base, init=False)
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
    store = open_store(PG_URL)
    try:
        sites, sensors, cp, pp = build_sites(store, n_sites)
        load_s = load_beliefs(store, sensors, cp, pp)
        n = store.count_beliefs()
        out = measure(store, sites, runs)
        version = store.query("SHOW server_version").row(0)[0]
    finally:
        store.close()
    out.update(load_s=load_s, n_beliefs=n, version=version)
    return out


def _md(duck: dict, pg: dict | None, n_duck: int, n_pg: int) -> str:
    import duckdb

    lines = [
        "## Reporting: daily KPIs for many sites (bench/bench_reporting.py)",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.machine()}), {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "Query: `kpis_for_specs` (flex_pipelines/reporting/kpis.py) — one SQL statement per store "
        "for all sites: one value per event (a one-sensor site is read directly, with a "
        "duplicate check that re-runs with de-duplication — `arg_max` in DuckDB, `DISTINCT ON` "
        "in PostgreSQL — if any event has several beliefs), hourly prices repeated over quarter "
        "hours, net power, local "
        "(Europe/Amsterdam) days, energy bought/sold, cost, baseline cost/savings, peak. Data: "
        "one 15-minute net site power sensor per site for 2025 (35,040 events) + hourly "
        "consumption and production prices, generated in SQL (set-up not timed). Median of the "
        "timed runs after one warm-up.",
        "",
        "| store | sites | power values | beliefs | median wall | min–max | CPU | "
        "load avg | KPI rows | set-up load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| DuckDB (file) | {n_duck:,} | {n_duck * STEPS:,} | {duck['n_beliefs']:,} | "
        f"**{duck['median_s']:.2f} s** | {duck['min_s']:.2f}–{duck['max_s']:.2f} s "
        f"({duck['runs']} runs) | {duck['cpu_s']:.2f} s | {duck['load']:.1f} | {duck['rows']:,} | "
        f"{duck['load_s']:.1f} s |",
    ]
    if pg:
        lines.append(
            f"| PostgreSQL {pg['version'].split()[0]} | {n_pg:,} | {n_pg * STEPS:,} | "
            f"{pg['n_beliefs']:,} | **{pg['median_s']:.2f} s** | {pg['min_s']:.2f}–{pg['max_s']:.2f} s "
            f"({pg['runs']} runs) | {pg['cpu_s']:.2f} s (backend) | {pg['load']:.1f} | {pg['rows']:,} | "
            f"{pg['load_s']:.1f} s |"
        )
    if duck["median_s"] < 5:
        verdict = f"met (median {duck['median_s']:.1f} s)"
    else:
        verdict = (
            f"not met in wall time on this loaded machine (median {duck['median_s']:.1f} s at "
            f"load {duck['load']:.1f}); the query needs {duck['cpu_s']:.1f} s of CPU over 2 threads"
        )
    lines += [
        "",
        f"- The machine is shared with other sessions' tests and benchmarks: 'load avg' is the "
        f"1-minute load average when each run started (2 cores; at a load of 4 our query gets "
        f"about half of the machine), so these wall times are pessimistic. 'CPU' is the "
        f"CPU time spent on the query: DuckDB's own threads (it runs in-process) and, for "
        f"PostgreSQL, its backend process (parallel workers not counted). With both cores free "
        f"DuckDB would take about CPU / 2 ≈ {duck['cpu_s'] / 2:.1f} s (DuckDB parallelises the "
        f"scan, joins and aggregation over both threads).",
        f"- DuckDB: {n_duck * STEPS / duck['median_s'] / 1e6:.1f}M power values per second; "
        f"the file is {duck['size_mb']:.0f} MB. Resolving the {n_duck:,} site specs from the "
        f"asset tree (not in the median) took {duck['spec_s']:.1f} s.",
    ]
    if pg:
        per_site = pg["median_s"] / n_pg
        lines.append(
            f"- PostgreSQL ran on {n_pg} sites only (loading 35M rows with the primary key takes "
            f"long); linear extrapolation to {n_duck:,} sites: ~{per_site * n_duck:.0f} s "
            f"({n_pg * STEPS / pg['median_s'] / 1e6:.2f}M power values per second; default "
            f"server settings, the query sets work_mem 256 MB and turns off merge joins and "
            f"sorts for itself, up to 2 parallel workers)."
        )
    lines += [
        f"- Aim (issue 7): under 5 s on DuckDB for the whole year of 1,000 sites: {verdict}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--pg-sites", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    duck = bench_duckdb(args.sites, args.runs)
    print("duckdb", duck)
    pg = None if args.no_pg else bench_postgres(args.pg_sites, args.runs)
    print("postgres", pg)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(_md(duck, pg, args.sites, args.pg_sites))
    print(RESULTS.read_text())
    DUCK_PATH.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
