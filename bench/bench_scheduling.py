"""Benchmark of the storage scheduler (issue 3): direct HiGHS vs pyomo, and the pure LP floor.

Problem (as in the issue): a battery of 1 MW / 2 MWh starting at 1 MWh, 90% roundtrip
efficiency, 15-minute steps, a synthetic day-ahead-like hourly price with some negative hours;
horizons of 1 day, 1 week, 1 month (30 days), 1 year (365 days); and 10 batteries of different
sizes behind one 4 MW site limit for 1 week.

Reported per case: parse (flex-model → arrays), build (sparse matrix), solve, total for the
default engine (``method="auto"``: the exact dynamic programme over the SoC where it applies,
else LP first with binaries only where needed), the same for the MILP method alone (gap 1e-6 and
HiGHS' default 1e-4) and for the pyomo build; the pure LP solve of the same matrix (the floor);
whether the objectives agree. Medians of several runs after a warm-up. Peak memory of the year
case is measured in a fresh subprocess (VmHWM).

The problems are in ``scheduling_problems.py``, the timers in ``scheduling_timing.py``, the
table in ``scheduling_report.py``; this module runs them and writes the results.

Run: ``.venv/bin/python -m bench.bench_scheduling`` → bench/results/scheduling.md
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.scheduling_problems import HEAT_PUMP_CASE, heat_pump_site, problem
from bench.scheduling_report import FLEXMEASURES_S, _same, render
from bench.scheduling_timing import time_highs, time_pyomo, year_memory

HORIZONS = {"day": ("P1D", 1), "week": ("P7D", 7), "month": ("P30D", 30), "year": ("P365D", 365)}
RESULTS = Path(__file__).parent / "results" / "scheduling.md"


def main(pyomo_max_days: int = 30) -> str:
    cases = [(k, d, 1) for k, (_, d) in HORIZONS.items()] + [("10 batteries, week", 7, 10)]
    cases.append((HEAT_PUMP_CASE, 7, 0))
    lines = []
    for label, days, n in cases:
        data = heat_pump_site(days) if label == HEAT_PUMP_CASE else problem(days, n)
        runs = 5 if days <= 7 else 3
        milp_runs = 5 if days <= 7 else 1
        warm = days < 30
        default = time_highs(data, runs, warmup=True)
        milp = time_highs(data, milp_runs, warmup=False, time_limit=300.0, method="milp")
        loose = None
        if days < 365:  # the exact MILP of the year already runs into the limit
            loose = time_highs(data, milp_runs, gap=1e-4, warmup=warm, method="milp")
        py = None
        if days <= pyomo_max_days:
            py = time_pyomo(data, 3 if days <= 7 else 1)
        lines.append((label, default, milp, loose, py))
        print(
            label,
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in default.items()}),
            round(milp["total"], 3),
            loose and round(loose["total"], 3),
            py and round(py["total"], 3),
            flush=True,
        )
    mem = year_memory()
    md = render(lines, mem, pyomo_max_days)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(md)
    print(md)
    return md


def supplement() -> str:
    """The same horizons with negative prices clipped to 0: the LP relaxation is exact too."""
    rows = []
    for label, days in (("month", 30), ("year", 365)):
        hs = time_highs(problem(days, nonnegative=True), 3)
        lp = time_highs(problem(days, nonnegative=True), 3, method="milp")
        same = "yes" if _same(lp["objective"], hs["objective"]) else "no"
        rows.append(
            f"| {label}, prices ≥ 0 | {days * 96} | {hs['method']} | {hs['solve']:.3f} "
            f"| **{hs['total']:.3f}** | {lp['method']} | {lp['total']:.3f} | {hs['lp']:.3f} "
            f"| {same} | {FLEXMEASURES_S[label]} (with negative prices) |"
        )
    mem = year_memory(nonnegative=True)
    md = "\n".join(
        [
            "",
            "### Without negative prices (the LP relaxation is exact as well)",
            "",
            "Same battery and price, negative hours clipped to 0 EUR/MWh: the LP relaxation is "
            "physical everywhere, so the MILP method adds no binary. Medians of 3 runs.",
            "",
            "| case | steps | default method | solve | **total** | MILP method | total | LP floor "
            "| same optimum | FlexMeasures |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Peak memory of this year solve (default method; fresh process, VmHWM): **{mem:.0f} MB**.",
            "",
        ]
    )
    with RESULTS.open("a") as fh:
        fh.write(md)
    print(md)
    return md


COMPARE_CASES = [
    ("day", 1, 1),
    ("week", 7, 1),
    ("month", 30, 1),
    ("year", 365, 1),
    ("10 batteries, week", 7, 10),
]
_TIMER = """
import json, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(1, {bench!r})
from scheduling_problems import problem
from flex_pipelines.scheduling.storage import parse_problem_json, solve
out = {{}}
for label, days, n in {cases!r}:
    data = problem(days, n)
    wall, cpu = [], []
    for i in range({runs} + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        r = solve(parse_problem_json(data))
        if i > 1:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    out[label] = [min(wall), sorted(wall)[len(wall) // 2], r.objective, r.method, min(cpu)]
print(json.dumps(out))
"""


def compare(base_root: str, runs: int = 5, rounds: int = 3) -> str:
    """Before/after in one run: the default method (parse + build + solve) of the same cases
    with the code in ``base_root`` (e.g. ``git archive <rev> flex_pipelines bench | tar -x``)
    and with this checkout, alternating fresh processes (``rounds`` each, ``runs`` timed runs
    per process after a warm-up); the fastest run of each side by CPU time and by wall-clock
    time (the least disturbed by other load on a shared machine), the medians, and the ratios
    after / before."""
    here = str(Path(__file__).resolve().parents[1])
    bench = str(Path(__file__).resolve().parent)
    res: dict[str, dict[str, list]] = {"before": {}, "after": {}}
    for _ in range(rounds):
        for side, root in (("before", base_root), ("after", here)):
            code = _TIMER.format(root=root, bench=bench, cases=COMPARE_CASES, runs=runs)
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
            )
            for label, row in json.loads(out.stdout.strip().splitlines()[-1]).items():
                res[side].setdefault(label, []).append(row)
    lines = [
        "| case | method before / after | CPU, fastest before / after (s) | ratio "
        "| wall, fastest before / after (s) | ratio | wall, median before / after (s) | ratio "
        "| same objective |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, _, _ in COMPARE_CASES:
        b, a = res["before"][label], res["after"][label]
        tb = statistics.median(r[1] for r in b)
        ta = statistics.median(r[1] for r in a)
        fb, fa = min(r[0] for r in b), min(r[0] for r in a)
        cb, ca = min(r[4] for r in b), min(r[4] for r in a)
        same = "yes" if _same(a[0][2], b[0][2]) else f"no ({a[0][2]:.6f} vs {b[0][2]:.6f})"
        lines.append(
            f"| {label} | {b[0][3]} / {a[0][3]} | {cb:.4f} / {ca:.4f} | {ca / cb:.2f} "
            f"| {fb:.4f} / {fa:.4f} | {fa / fb:.2f} "
            f"| {tb:.4f} / {ta:.4f} | {ta / tb:.2f} | {same} |"
        )
    rev = Path(base_root, "REV").read_text().strip() if Path(base_root, "REV").exists() else "?"
    load = os.getloadavg()[0]
    md = "\n".join(
        [
            "",
            "### Before / after (issue 15: one description per constraint, FlexMeasures 1.0 fields)",
            "",
            f"The default method (parse + build + solve) with the code before (commit {rev}) and "
            f"after, alternating fresh processes ({rounds} each, {runs} timed runs after two "
            f"warm-ups), measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with a load average of "
            f"{load:.1f} on the 2 cores (other jobs running). Ratios are after / before; the "
            "fastest CPU time is the least disturbed by the other load.",
            "",
            *lines,
            "",
        ]
    )
    with RESULTS.open("a") as fh:
        fh.write(md)
    print(md)
    return md


if __name__ == "__main__":
    if "--compare" in sys.argv:
        compare(sys.argv[sys.argv.index("--compare") + 1])
    elif "--supplement" in sys.argv:
        supplement()
    else:
        main()
        supplement()
