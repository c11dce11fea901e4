"""The timers of the storage-scheduling benchmark (``bench_scheduling.py``): median parse,
build and solve times of the direct HiGHS backend (with its LP floor) and of the pyomo build,
and the peak memory of the year case in a fresh process.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flex_pipelines.scheduling.build_highs import formulate
from flex_pipelines.scheduling.exact import run_highs
from flex_pipelines.scheduling.storage import parse_problem_json, solve


def time_highs(
    data: dict[str, Any],
    runs: int,
    gap: float | None = None,
    warmup: bool = True,
    time_limit: float = 600.0,
    method: str = "auto",
) -> dict[str, Any]:
    """Median parse/build/solve times of the direct HiGHS backend (``method``), plus the LP
    floor."""
    rows = []
    for i in range(runs + (1 if warmup else 0)):
        t0 = time.perf_counter()
        p = parse_problem_json(data)
        t1 = time.perf_counter()
        r = solve(p, "highs", mip_rel_gap=gap, time_limit=time_limit, method=method)
        t2 = time.perf_counter()
        lp = run_highs(formulate(p)[0])
        if i or not warmup:
            rows.append((t1 - t0, r.timings["build"], r.timings["solve"], t2 - t0, lp.seconds))
    med = [statistics.median(c) for c in zip(*rows, strict=True)]
    return {
        "parse": med[0],
        "build": med[1],
        "solve": med[2],
        "total": med[3],
        "lp": med[4],
        "objective": r.objective,
        "binaries": r.binaries,
        "iterations": r.iterations,
        "status": r.status,
        "gap": r.mip_gap,
        "runs": len(rows),
        "method": r.method,
    }


def time_pyomo(data: dict[str, Any], runs: int) -> dict[str, Any]:
    rows = []
    warm = runs > 1
    for i in range(runs + (1 if warm else 0)):
        t0 = time.perf_counter()
        p = parse_problem_json(data)
        r = solve(p, "pyomo")
        tot = time.perf_counter() - t0
        if i or not warm:
            rows.append((r.timings["build"], r.timings["solve"], tot))
    med = [statistics.median(c) for c in zip(*rows, strict=True)]
    return {
        "build": med[0],
        "solve": med[1],
        "total": med[2],
        "objective": r.objective,
        "binaries": r.binaries,
    }


def year_memory(nonnegative: bool = False) -> float:
    """Peak RSS (MB) of a fresh process that parses, builds and solves the year.

    Read from ``VmHWM`` (reset by exec), not ``ru_maxrss``: the latter survives exec and would
    report the forking benchmark process's own peak."""
    code = (
        "import sys; sys.path.insert(0, 'bench');"
        "from scheduling_problems import problem;"
        f"data = problem(365, nonnegative={nonnegative});"
        "from flex_pipelines.scheduling.storage import parse_problem_json, solve;"
        "r = solve(parse_problem_json(data));"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0
