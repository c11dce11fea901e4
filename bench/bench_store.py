"""Belief store benchmark (issue 2): loading and as-of queries on 10.5M beliefs.

Data: N sensors × 1 year × 15-minute events × 3 beliefs per event (a day-ahead forecast made at
12:00 UTC the day before, an hour-ahead forecast, a measurement at the event end; two sources)
= 10.5M beliefs for N = 100. Queries go through our store API (polars frame out), median of
several runs after a warm-up, beside hand-written SQL on the same database (numpy fetch):

- Q1: one sensor, 2 days, as of a belief time, one value per event (the latest belief);
- Q2: the same for one sensor over the whole year;
- Q3: Q1 for 10 sensors at once.

Saving is timed too: the load, a re-save of one sensor's frame (every belief already stored) and
a re-send of it a second later (every belief unchanged, so nothing is stored).

Run: ``python -m bench.bench_store [--sensors 100] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from flex_pipelines.beliefs import BeliefStore, open_store

YEAR0 = datetime(2025, 1, 1, tzinfo=UTC)
LOAD_AT_START = os.getloadavg()[0]
Q = timedelta(minutes=15)
N_EVENTS = 365 * 96


def sensor_frame(
    sensor_id: int, fc_source: int, meter_source: int, rng: np.random.Generator
) -> pl.DataFrame:
    starts = pl.datetime_range(
        YEAR0, YEAR0 + N_EVENTS * Q, Q, closed="left", eager=True, time_unit="us"
    )
    base = 50 + 20 * np.sin(np.arange(N_EVENTS) / 96 * 2 * np.pi) + rng.normal(0, 5, N_EVENTS)
    day = starts.dt.truncate("1d")
    day_ahead = day - timedelta(hours=12)  # 12:00 UTC the day before
    frames = [
        pl.DataFrame(
            {
                "event_start": starts,
                "belief_time": day_ahead,
                "source_id": fc_source,
                "event_value": base + rng.normal(0, 8, N_EVENTS),
            }
        ),
        pl.DataFrame(
            {
                "event_start": starts,
                "belief_time": starts - timedelta(hours=1),
                "source_id": fc_source,
                "event_value": base + rng.normal(0, 3, N_EVENTS),
            }
        ),
        pl.DataFrame(
            {
                "event_start": starts,
                "belief_time": starts + Q,
                "source_id": meter_source,
                "event_value": base,
            }
        ),
    ]
    return (
        pl.concat(frames)
        .with_columns(
            pl.lit(sensor_id, pl.Int64).alias("sensor_id"),
            pl.lit(0.5).alias("cumulative_probability"),
        )
        .sort("event_start")
    )


def median_ms(fn, runs: int = 15, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def load(store: BeliefStore, n_sensors: int) -> dict[str, float]:
    fc = store.get_or_create_source("bench forecaster", "forecaster")
    meter = store.get_or_create_source("bench meter", "user")
    rng = np.random.default_rng(1)
    sensors = [store.add_sensor(f"s{i}", "kW", Q) for i in range(n_sensors)]
    frames = [sensor_frame(s.id, fc.id, meter.id, rng) for s in sensors]
    total = sum(f.height for f in frames)
    t = time.perf_counter()
    for f in frames:
        store.save_beliefs(f)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    again = store.save_beliefs(frames[0])
    resave_s = time.perf_counter() - t
    assert again.n_new == 0, again
    # the same values believed a second later: unchanged, so nothing is stored
    later = frames[0].with_columns(pl.col("belief_time") + timedelta(seconds=1))
    t = time.perf_counter()
    resent = store.save_beliefs(later)
    resend_s = time.perf_counter() - t
    assert resent.n_new == 0, resent
    return {
        "beliefs": total,
        "load_s": load_s,
        "rate": total / load_s,
        "resave_s": resave_s,
        "resave_rows": frames[0].height,
        "resend_s": resend_s,
        "sensor_ids": [s.id for s in sensors],
    }


def handwritten(
    store: BeliefStore, ids: list[int], start: datetime, end: datetime, as_of: datetime
) -> int:
    """The same query in hand-written SQL, fetched as numpy (the baseline)."""
    cond = f"sensor_id IN ({', '.join(map(str, ids))}) AND event_start >= ? AND event_start < ? AND belief_time <= ?"
    sql = (
        "SELECT DISTINCT ON (sensor_id, event_start) sensor_id, event_start, event_value FROM beliefs "
        f"WHERE {cond} ORDER BY sensor_id, event_start, belief_time DESC"
    )
    if store.dialect == "duckdb":
        res = store._con.execute(sql, [start, end, as_of]).fetchnumpy()  # type: ignore[attr-defined]
        return len(res["event_value"])
    with store._con.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(sql.replace("?", "%s"), [start, end, as_of])
        rows = cur.fetchall()
    return len(np.array([r[2] for r in rows]))


def queries(store: BeliefStore, ids: list[int]) -> dict[str, dict[str, float]]:
    t0 = YEAR0 + timedelta(days=180)
    as_of = t0 + timedelta(hours=12)
    cases = {
        "Q1": ([ids[0]], t0, t0 + timedelta(days=2)),
        "Q2": ([ids[0]], YEAR0, YEAR0 + timedelta(days=365)),
        "Q3": (ids[:10], t0, t0 + timedelta(days=2)),
    }
    out = {}
    for name, (sel, a, b) in cases.items():
        ao = as_of if name != "Q2" else YEAR0 + timedelta(days=400)
        n = store.search_beliefs(sel, a, b, as_of=ao, one_per_event=True).height
        ours = median_ms(
            lambda sel=sel, a=a, b=b, ao=ao: store.search_beliefs(
                sel, a, b, as_of=ao, one_per_event=True
            )
        )
        base = median_ms(lambda sel=sel, a=a, b=b, ao=ao: handwritten(store, sel, a, b, ao))
        out[name] = {"rows": n, "ours_ms": ours, "sql_ms": base}
    return out


def size_bytes(store: BeliefStore) -> int:
    if store.dialect == "duckdb":
        store.execute("CHECKPOINT")
        return Path(store.path).stat().st_size  # type: ignore[attr-defined]
    return int(store.query("SELECT pg_total_relation_size('beliefs') AS n")["n"][0])


def run_backend(url: str, n_sensors: int) -> dict:
    store = open_store(url)
    loaded = load(store, n_sensors)
    q = queries(store, loaded["sensor_ids"])
    size = size_bytes(store)
    store.close()
    return {"load": loaded, "queries": q, "size": size}


def _cell(q: dict, k: str) -> str:
    ours, sql = q[k]["ours_ms"], q[k]["sql_ms"]
    return f"{ours:.1f} / {sql:.1f} ms ({ours / sql:.2f}×)"


def report(results: dict[str, dict], n_sensors: int) -> str:
    lines = [
        "## Belief store (issue 2)",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
        f"date {datetime.now(UTC):%Y-%m-%d}; load average at start {LOAD_AT_START:.1f}. Data: {n_sensors} sensors × 1 year × 15 min × 3 beliefs "
        "(day-ahead forecast, hour-ahead forecast, measurement; 2 sources). "
        "Medians of 15 runs after 3 warm-ups; `ours` = `store.search_beliefs(..., as_of=…, one_per_event=True)` "
        "returning a polars frame; `SQL` = hand-written DISTINCT ON query with a numpy fetch on the same database.",
        "",
        "| backend | load (beliefs/s) | load total | re-save 105k (idempotent) | size on disk | Q1 ours / SQL | Q2 ours / SQL | Q3 ours / SQL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ld, q = r["load"], r["queries"]
        lines.append(
            f"| {name} | {ld['rate'] / 1e6:.2f} M/s | {ld['beliefs'] / 1e6:.1f} M in {ld['load_s']:.1f} s | "
            f"{ld['resave_s'] * 1000:.0f} ms | {r['size'] / 1e9:.2f} GB | {_cell(q, 'Q1')} | {_cell(q, 'Q2')} | {_cell(q, 'Q3')} |"
        )
    lines += [
        "",
        "Re-send of the 105k beliefs of one sensor a second later (unchanged, so nothing is "
        "stored: `save_beliefs(changed_only=True)`): "
        + ", ".join(f"{k} {r['load']['resend_s'] * 1000:.0f} ms" for k, r in results.items())
        + ".",
        "",
        "Rows returned: "
        + ", ".join(f"{k} {v['rows']}" for k, v in next(iter(results.values()))["queries"].items())
        + ".",
        "",
        "Reference (issue 2, same data on this machine): timely-beliefs on PostgreSQL Q1 12–15 ms, "
        "Q2 520–630 ms, Q3 173–186 ms, load ~40k beliefs/s and 2.74 GB; Postgres COPY ~360k/s, 1.43 GB; "
        "DuckDB 10.5M rows in 2.8 s, 0.17 GB.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensors", type=int, default=100)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["DuckDB"] = run_backend(str(Path(tmp) / "bench.duckdb"), args.sensors)
    if not args.skip_postgres:
        import psycopg

        db = f"flexpipe_bench_{os.getpid()}"
        with psycopg.connect(args.postgres, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{db}"')
        try:
            results["PostgreSQL"] = run_backend(
                args.postgres.rsplit("/", 1)[0] + "/" + db, args.sensors
            )
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    text = report(results, args.sensors)
    out = Path(__file__).parent / "results" / "store.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
