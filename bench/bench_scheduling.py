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

Run: ``.venv/bin/python bench/bench_scheduling.py`` → bench/results/scheduling.md
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from flex_pipelines.scheduling.build_highs import formulate
from flex_pipelines.scheduling.exact import run_highs
from flex_pipelines.scheduling.storage import parse_problem_json, solve

START = "2026-01-05T00:00+00:00"
HORIZONS = {"day": ("P1D", 1), "week": ("P7D", 7), "month": ("P30D", 30), "year": ("P365D", 365)}
HEAT_PUMP_CASE = "heat-pump site, week"
FLEXMEASURES_S = {
    "day": 0.07,
    "week": 0.93,
    "month": 6.6,
    "year": 143.0,
    "10 batteries, week": 16.4,
    HEAT_PUMP_CASE: None,  # not measured with FlexMeasures
}
RESULTS = Path(__file__).parent / "results" / "scheduling.md"


def synthetic_prices(days: int, seed: int = 7) -> list[float]:
    """Hourly day-ahead-like prices (EUR/MWh): morning and evening peaks, a midday solar dip
    that goes negative on sunny summer days, windy nights below zero, weekly and seasonal
    swings, noise."""
    rng = np.random.default_rng(seed)
    h = np.arange(days * 24)
    hod, day = h % 24, h // 24
    base = 70 + 15 * np.cos(2 * np.pi * day / 365)
    shape = 25 * np.exp(-((hod - 8) ** 2) / 4) + 35 * np.exp(-((hod - 19) ** 2) / 5)
    solar = (40 + 30 * np.sin(2 * np.pi * (day - 80) / 365)) * np.exp(-((hod - 13) ** 2) / 6)
    weekend = np.where((day % 7) >= 5, -12, 0)
    noise = rng.normal(0, 6, h.size)
    sunny = rng.random(days)[day] < 0.35  # some days the midday dip is deeper than the base
    windy = rng.random(days)[day] < 0.2  # some windy nights push prices below zero
    wind = np.where(windy & ((hod <= 5) | (hod >= 23)), 85, 0)
    price = base + shape - solar * np.where(sunny, 2.2, 1.0) + weekend + noise - wind
    return [round(float(v), 2) for v in price]


def battery(name: str = "battery", mw: float = 1.0, mwh: float = 2.0) -> dict[str, Any]:
    return {
        "name": name,
        "soc-at-start": f"{mwh / 2} MWh",
        "soc-min": "0 MWh",
        "soc-max": f"{mwh} MWh",
        "power-capacity": f"{mw} MW",
        "roundtrip-efficiency": "90%",
    }


def problem(days: int, n_batteries: int = 1, nonnegative: bool = False) -> dict[str, Any]:
    values = synthetic_prices(days)
    if nonnegative:
        values = [max(v, 0.0) for v in values]
    prices = {"start": START, "resolution": "PT1H", "unit": "EUR/MWh", "values": values}
    if n_batteries == 1:
        fms = [battery()]
        fc: dict[str, Any] = {"consumption-price": prices}
    else:
        sizes = [(0.5 + 0.25 * i, 1.0 + 0.6 * i) for i in range(n_batteries)]
        fms = [battery(f"battery {i + 1}", mw, mwh) for i, (mw, mwh) in enumerate(sizes)]
        fc = {"consumption-price": prices, "site-power-capacity": "4 MW"}
    return {
        "start": START,
        "duration": f"P{days}D",
        "resolution": "PT15M",
        "flex-model": fms,
        "flex-context": fc,
    }


def heat_pump_site(days: int = 7) -> dict[str, Any]:
    """The worked multi-commodity site of docs/extending-the-scheduler.md over ``days`` at 15
    minutes: a heat pump (3 kW electricity, COP 3.5, its heat and electricity ports coupled), a
    20 kWh heat buffer draining a heat demand, 6 kWp PV, a 10 kWh / 5 kW battery and a house
    load behind a 9 kW connection; heat is an internal node. Prices: ``synthetic_prices``
    (feed-in 20 EUR/MWh lower)."""
    q = np.arange(days * 96)
    hour = (q % 96) / 4
    pv = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None) * 6.0
    demand = 4 + 2 * np.cos(2 * np.pi * (hour - 4) / 24)
    load = 0.6 + 0.8 * ((hour >= 7) & (hour < 10)) + 1.2 * ((hour >= 17) & (hour < 22))

    def series(values: np.ndarray | list[float], unit: str, res: str = "PT15M") -> dict:
        vals = [round(float(v), 3) for v in values]
        return {"start": START, "resolution": res, "unit": unit, "values": vals}

    prices = np.array(synthetic_prices(days))
    fms = [
        {
            "name": "battery",
            "soc-at-start": "5 kWh",
            "soc-min": "0 kWh",
            "soc-max": "10 kWh",
            "power-capacity": "5 kW",
            "roundtrip-efficiency": "90%",
        },
        {"name": "pv", "production-capacity": series(pv, "kW")},
        {
            "name": "heat pump (electricity)",
            "coupling": "heat pump",
            "consumption-capacity": "3 kW",
        },
        {
            "name": "heat pump (heat)",
            "commodity": "heat",
            "coupling": "heat pump",
            "coupling-coefficient": 3.5,
            "production-capacity": "10.5 kW",
        },
        {
            "name": "heat buffer",
            "commodity": "heat",
            "soc-at-start": "10 kWh",
            "soc-min": "2 kWh",
            "soc-max": "20 kWh",
            "consumption-capacity": "12 kW",
            "storage-efficiency": "99.9%",
            "soc-usage": [series(demand, "kW")],
        },
    ]
    fc = {
        "consumption-price": series(prices, "EUR/MWh", "PT1H"),
        "production-price": series(prices - 20, "EUR/MWh", "PT1H"),
        "site-power-capacity": "9 kW",
        "inflexible-consumption": [series(load, "kW")],
        "commodities": [{"commodity": "heat"}],
    }
    return {
        "start": START,
        "duration": f"P{days}D",
        "resolution": "PT15M",
        "flex-model": fms,
        "flex-context": fc,
    }


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
        "from bench_scheduling import problem;"
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


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def render(
    lines: list[tuple[str, dict, dict, dict | None, dict | None]],
    mem_mb: float,
    pyomo_max_days: int,
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "## Storage scheduling (issue 3)",
        "",
        f"Machine: 2 cores (where the FlexMeasures figures were measured; compare the LP floors "
        f"with the issue's to see how fast it ran), Python "
        f"{platform.python_version()}, HiGHS 1.15 via highspy, pyomo "
        f"6.10 (appsi); measured {now}. Medians of 5 runs after a warm-up (day, week, 10 "
        "batteries) or 3 (month, year); the MILP method of the month and year: 1 run.",
        "",
        "Problem: battery 1 MW / 2 MWh, start 1 MWh, 90% roundtrip, 15-minute steps, synthetic "
        "hourly day-ahead-like price (`synthetic_prices`) with negative hours (windy nights, sunny "
        "middays: 0 in the day, 3 h in the week, 33 h in the month, 905 h in the year); 10 "
        "batteries (0.5–2.75 MW, 1–6.4 MWh) behind a 4 MW site limit; the heat-pump site of "
        "docs/extending-the-scheduler.md over a week (`heat_pump_site`: heat pump with coupled "
        "electricity and heat ports, heat buffer, PV, battery, heat as an internal node; not "
        "run with FlexMeasures). Times in seconds.",
        "",
        "- *default*: `method=auto`, what `solve` and every interface run. *dp*: the exact "
        "dynamic programme over the SoC (scheduling/dp.py; no binaries, negative prices included), "
        "used where each device's steps meet only in its stock; *lp*/*milp*: LP first, binaries "
        "only where the LP charges and discharges at once (the 10 batteries share a site limit, "
        "so they take this path). *total* = parse + build + solve.",
        "- *MILP method*: the lazy-binary MILP forced (`method=milp`), solved to a relative gap "
        "of 1e-6, and to HiGHS' default 1e-4 (what FlexMeasures runs with); 300 s time limit.",
        "- *LP floor*: HiGHS on the pure LP relaxation of the same matrix (not a valid schedule "
        "when the prices are negative).",
        "- *same optimum*: the MILP method's (gap 1e-6) and pyomo's objectives equal the default's "
        "within 1e-6 (relative).",
        "",
        "| case | steps | method | parse | build | solve | **total** | FlexMeasures | speed-up "
        "| LP floor | MILP method, gap 1e-6 (binaries, gap reached) | MILP, gap 1e-4 "
        "| pyomo build / solve / total | same optimum (MILP / pyomo) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, hs, mi, lo, py in lines:
        days = {"day": 1, "week": 7, "month": 30, "year": 365}.get(label, 7)
        fm = FLEXMEASURES_S[label]
        status = "" if mi["status"] == "optimal" else f", {mi['status']} at the limit"
        milp = f"{mi['total']:.3f} ({mi['binaries']}, {mi['gap']:.1e}{status})"
        loose = "— (not run)" if lo is None else f"{lo['total']:.3f}"
        if _same(mi["objective"], hs["objective"]):
            same_m = "yes"
        elif mi["status"] != "optimal" and mi["objective"] > hs["objective"]:
            same_m = f"stopped at the limit, worse ({mi['objective']:.1f})"
        else:
            same_m = f"no ({mi['objective']:.4f})"
        if py is not None:
            same_p = (
                "yes"
                if _same(py["objective"], hs["objective"])
                else (f"no ({py['objective']:.4f})")
            )
            pyc = f"{py['build']:.3f} / {py['solve']:.3f} / {py['total']:.3f}"
        else:
            same_p, pyc = "—", f"not run (> {pyomo_max_days} days)"
        speed = f"{fm / hs['total']:.0f}×" if fm else "—"
        out.append(
            f"| {label} | {days * 96} | {hs['method']} | {hs['parse']:.4f} | {hs['build']:.4f} "
            f"| {hs['solve']:.3f} | **{hs['total']:.3f}** | {fm or '—'} | {speed} "
            f"| {hs['lp']:.3f} | {milp} | {loose} | {pyc} | {same_m} / {same_p} |"
        )
    out += [
        "",
        f"Peak memory of the year (parse, build, solve with the default method; fresh "
        f"process, VmHWM): **{mem_mb:.0f} MB** (FlexMeasures: 2.4 GB).",
        "",
    ]
    return "\n".join(out)


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
from bench_scheduling import problem
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
