"""Benchmark: a battery, three shiftable processes and PV under one site limit, jointly.

Run: ``.venv/bin/python bench/bench_joint.py`` → ``bench/results/joint.md``.

Two days at 15 minutes (192 steps) of the synthetic day-ahead-like prices of
``bench_process.year_of_prices`` (from 3 March 2025), feed-in paid 5 EUR/MWh less, an
inflexible office load (0.3 MW, 0.5 MW by day) and 600 kW of PV, one 1 MWh / 500 kW battery
(90 % round trip) and three SHIFTABLE processes (400 kW × 4 h, 300 kW × 6 h, 500 kW × 3 h).
Joint: one problem through the storage engine (``parse_problem_json`` + ``solve``: HiGHS, the
processes as binary start columns). Sequential: each process by the exact standalone search in
the room the earlier ones left, then the battery around them
(:func:`flex_pipelines.scheduling.joint.schedule_sequentially`). Both costs are the site's
electricity cost recomputed from the physical schedule.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

try:
    from bench.bench_process import year_of_prices
except ImportError:  # run as a script from bench/
    from bench_process import year_of_prices

from flex_pipelines.scheduling.joint import schedule_sequentially
from flex_pipelines.scheduling.storage import parse_problem_json, solve

RESULTS = Path(__file__).parent / "results" / "joint.md"
START = "2025-03-03T00:00+00:00"
N = 192
WARMUP = 1
RUNS = 7
PROCESSES = [("A", "PT4H", "400 kW"), ("B", "PT6H", "300 kW"), ("C", "PT3H", "500 kW")]


def problem(site_limit_mw: float) -> dict[str, Any]:
    prices = year_of_prices()[61 * 96 : 61 * 96 + N]
    hour = (np.arange(N) % 96) / 4.0
    pv = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None) * 0.6
    base = 0.3 + 0.2 * ((hour > 7) & (hour < 18))

    def series(values: np.ndarray, unit: str) -> dict[str, Any]:
        return {
            "start": START,
            "resolution": "PT15M",
            "unit": unit,
            "values": [round(float(v), 6) for v in values],
        }

    battery = {
        "name": "battery",
        "soc-at-start": "250 kWh",
        "soc-min": "50 kWh",
        "soc-max": "1000 kWh",
        "power-capacity": "500 kW",
        "roundtrip-efficiency": "90%",
    }
    procs = [
        {"name": nm, "duration": d, "power": p, "process-type": "SHIFTABLE"}
        for nm, d, p in PROCESSES
    ]
    return {
        "start": START,
        "duration": "P2D",
        "resolution": "PT15M",
        "flex-model": [battery, *procs],
        "flex-context": {
            "consumption-price": series(prices, "EUR/MWh"),
            "production-price": series(prices - 5, "EUR/MWh"),
            "site-power-capacity": f"{site_limit_mw} MW",
            "inflexible-consumption": series(base, "MW"),
            "inflexible-production": series(pv, "MW"),
        },
    }


def measure(site_limit_mw: float) -> dict[str, float]:
    p = parse_problem_json(problem(site_limit_mw))
    for _ in range(WARMUP):
        solve(p)
    times, joint = [], None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        joint = solve(p)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    seq = schedule_sequentially(p)
    t_seq = time.perf_counter() - t0
    assert joint is not None
    return {
        "limit": site_limit_mw,
        "joint_ms": statistics.median(times) * 1e3,
        "joint_max_ms": max(times) * 1e3,
        "seq_ms": t_seq * 1e3,
        "joint": joint.costs["total"],
        "seq": seq.costs["total"],
        "binaries": joint.binaries,  # process start columns + battery pair binaries
        "gap": joint.mip_gap,
    }


def main() -> str:
    rows = []
    for limit in (0.9, 1.0, 1.2):
        m = measure(limit)
        saved = m["seq"] - m["joint"]
        rows.append(
            f"| {limit:.1f} MW | {m['joint_ms']:.0f} ({m['joint_max_ms']:.0f}) | "
            f"{m['seq_ms']:.0f} | {m['binaries']} | {m['seq']:,.2f} | {m['joint']:,.2f} | "
            f"{saved:,.2f} ({saved / abs(m['seq']):.1%}) |"
        )
        print(rows[-1])
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    text = "\n".join(
        [
            "## Joint scheduling: battery + 3 shiftable processes + PV under one site limit",
            "",
            "Two days at 15 minutes (192 steps), synthetic day-ahead-like prices (seed 6, from "
            "3 March; feed-in 5 EUR/MWh lower), office load 0.3 MW (0.5 MW by day), 600 kW PV, "
            "a 1 MWh / 500 kW battery (90 % round trip) and three SHIFTABLE processes (400 kW × 4 h, "
            "300 kW × 6 h, 500 kW × 3 h). **Joint**: one MILP in the storage engine (HiGHS; a binary "
            "per allowed process start, battery binaries only where the LP is not physical), "
            f"timed build + solve, median (max) of {RUNS} runs after {WARMUP} warm-up. "
            "**Sequential**: each process by the exact standalone search in the room the earlier "
            "ones left under the limit, then the battery around them (`schedule_sequentially`). "
            "Costs: the site's electricity cost from the physical schedules (EUR, 2 days).",
            "",
            f"Machine: {os.cpu_count()} cores ({platform.machine()}, Python "
            f"{platform.python_version()}), shared with other jobs; date {today}. "
            "Reproduce: `.venv/bin/python bench/bench_joint.py`.",
            "",
            "| site limit | joint solve ms, median (max) | sequential ms | binaries | "
            "sequential cost | joint cost | saved by joint |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "Joint scheduling is exact (MIP gap ≤ 1e-6); the saving comes from the processes "
            "leaving the cheapest hours (and connection capacity) to the battery where that pays "
            "more, and from fitting processes around each other under the limit.",
            "",
            "Solver setting: with a tight limit HiGHS explored only 1–3 nodes but spent most of "
            "its time in sub-MIP heuristics after presolve restarts (5.6 s median at 0.9 MW). The "
            "build therefore turns HiGHS presolve off for models with process columns "
            "(`Layout.highs_options`; storage-only models are unchanged): 3–6× faster on every "
            "tight-limit case checked (four other 2-day windows at 0.8–0.9 MW), the numbers above.",
            "",
        ]
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text


if __name__ == "__main__":
    main()
