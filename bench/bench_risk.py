"""Benchmark: risk-aware scheduling, solve time against the number of scenarios.

Run: ``nice -n 15 .venv/bin/python bench/bench_risk.py`` → ``bench/results/risk.md``.

One day at 15 minutes (96 steps): a 1 MW / 2 MWh battery (90 % round trip), an office load
(0.3 MW, 0.5 MW by day) and 600 kW of PV behind one connection. The point forecast of the price
is a day of ``bench_process.year_of_prices`` (from 3 March 2025); its quantiles (0.1, 0.5, 0.9)
widen with the lead time (σ from 4 to 16 EUR/MWh), the load's σ is 0.05 MW and the PV's 15 % of
its forecast. Scenarios are drawn the way the service draws them
(:func:`flex_pipelines.forecasting.scenarios.sample_paths`: each step's quantile function,
coupled over the lead times by an AR(1) Gaussian copula, ρ = 0.9), independently for price,
load and PV. Three price settings:

- **one price** (the demo site's: the same sensor for consumption and production);
- **feed-in 5 lower** (production price = consumption price − 5 EUR/MWh in every scenario);
- **negative midday** (the one-price day with 90 EUR/MWh less from 10:00 to 15:00: many
  scenarios go below zero there, so the exact method adds binaries where the LP would charge
  and discharge at once).

Timed: build + solve of :func:`flex_pipelines.scheduling.storage.solve` (HiGHS) on the problem
with its scenarios, median (max) of 5 runs after 1 warm-up, for S = 20, 50, 100 scenarios and
risk-aversion 0 (expected cost) and 1 (CVaR at α = 0.9), next to the deterministic solve of
the point forecast in the same run (the default method, and the LP/MILP path of the same
description). Drawing the paths is timed apart. The costs columns are in-sample: the schedules
costed over the same scenarios they were solved for (EUR, one day).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

try:
    from bench.bench_process import year_of_prices
except ImportError:  # run as a script from bench/
    from bench_process import year_of_prices

from flex_pipelines.forecasting.scenarios import QuantileForecast, sample_paths
from flex_pipelines.scheduling.build_scenarios import cvar
from flex_pipelines.scheduling.problem import Scenarios, SchedulingProblem
from flex_pipelines.scheduling.result import compute_costs
from flex_pipelines.scheduling.storage import parse_problem_json, solve

RESULTS = Path(__file__).parent / "results" / "risk.md"
START = "2025-03-03T00:00+00:00"
T = 96
WARMUP = 1
RUNS = 5
COUNTS = (20, 50, 100)
RHO = 0.9
Z90 = 1.2816
SETTINGS = ("one price", "feed-in 5 lower", "negative midday")


def _inputs(setting: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    price = year_of_prices()[61 * 96 : 61 * 96 + T].copy()
    hour = np.arange(T) / 4.0
    if setting == "negative midday":
        price[(hour >= 10) & (hour < 15)] -= 90.0
    load = 0.3 + 0.2 * ((hour > 7) & (hour < 18))
    pv = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None) * 0.6
    return price, load, pv


def _problem(setting: str) -> SchedulingProblem:
    price, load, pv = _inputs(setting)
    p = parse_problem_json(
        {
            "start": START,
            "duration": "P1D",
            "resolution": "PT15M",
            "flex-model": [
                {
                    "name": "battery",
                    "soc-at-start": "1 MWh",
                    "soc-min": "0 MWh",
                    "soc-max": "2 MWh",
                    "power-capacity": "1 MW",
                    "roundtrip-efficiency": "90%",
                }
            ],
            "flex-context": {"consumption-price": "1 EUR/MWh"},
        }
    )
    p.site.consumption_price = price
    p.site.production_price = price - 5.0 if setting == "feed-in 5 lower" else price.copy()
    p.site.inflexible_mw = load - pv
    return p


def _paths(median: np.ndarray, sigma: np.ndarray, n: int, seed: int) -> np.ndarray:
    levels = np.array([0.1, 0.5, 0.9])
    values = median[:, None] + sigma[:, None] * np.array([-Z90, 0.0, Z90])[None, :]
    starts = np.arange(T).astype("datetime64[m]").astype("datetime64[us]")
    return sample_paths(
        QuantileForecast(starts, levels, values), n, RHO, np.random.default_rng(seed)
    )


def scenarios(setting: str, n: int, lam: float) -> tuple[Scenarios, float]:
    """The scenarios of a setting, and the seconds drawing them took."""
    price, load, pv = _inputs(setting)
    t0 = time.perf_counter()
    cp = _paths(price, np.linspace(4.0, 16.0, T), n, 1)
    ld = _paths(load, np.full(T, 0.05), n, 2)
    sun = np.clip(_paths(pv, 0.15 * pv, n, 3), 0.0, None)
    secs = time.perf_counter() - t0
    pp = cp - 5.0 if setting == "feed-in 5 lower" else cp.copy()
    return Scenarios(cp, pp, ld - sun, np.full(n, 1.0 / n), lam, 0.9), secs


def _timed(fn: Callable[[], Any]) -> tuple[list[float], Any]:
    out = None
    for _ in range(WARMUP):
        out = fn()
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def _ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1e3:.0f} ({max(times) * 1e3:.0f})"


def _in_sample(p: SchedulingProblem, sc: Scenarios, power: np.ndarray) -> tuple[float, float]:
    """A schedule's expected cost and CVaR(0.9) over the scenarios (EUR)."""
    from dataclasses import replace

    costs = np.array(
        [
            compute_costs(replace(p, site=sc.site(p.site, k), scenarios=None), [power], [None])[
                "total"
            ]
            for k in range(sc.n)
        ]
    )
    return float(sc.weights @ costs), cvar(costs, sc.weights, 0.9)


def _frame(sid: int, src: int, starts: list, belief: list, probs: list, values: list) -> Any:
    import polars as pl

    return pl.DataFrame(
        {
            "sensor_id": [sid] * len(starts),
            "event_start": starts,
            "belief_time": belief,
            "source_id": [src] * len(starts),
            "cumulative_probability": probs,
            "event_value": values,
        },
        schema_overrides={
            "event_start": pl.Datetime("us", "UTC"),
            "belief_time": pl.Datetime("us", "UTC"),
        },
    )


def service_store(path: Path) -> tuple[Any, int, datetime, datetime]:
    """A DuckDB store: a site with a 15-minute price and load (quantile forecasts 0.1/0.5/0.9
    made at 12:00 the day before, for 14 past days and the day scheduled, and the measured
    values), a 1 MW / 2 MWh battery. Returns (store, site asset id, day, viewpoint)."""
    from datetime import timedelta

    import polars as pl

    from flex_pipelines.beliefs import open_store

    store = open_store(str(path))
    acc = store.add_account("bench")
    q = timedelta(minutes=15)
    price = store.add_sensor("price", "EUR/MWh", q)
    load = store.add_sensor("load", "MW", q)
    site = store.add_asset(
        "site",
        "building",
        acc.id,
        flex_context={
            "consumption-price": {"sensor": price.id},
            "inflexible-consumption": [{"sensor": load.id}],
        },
    )
    bat = store.add_asset("battery", "battery", acc.id, parent_id=site.id)
    power = store.add_sensor("battery power", "MW", q, asset_id=bat.id)
    store.update_asset(
        bat.id,
        flex_model={
            "sensor": power.id,
            "soc-at-start": "1 MWh",
            "soc-min": "0 MWh",
            "soc-max": "2 MWh",
            "power-capacity": "1 MW",
            "roundtrip-efficiency": "90%",
        },
    )
    fc = store.get_or_create_source("bench forecaster", type="forecaster", model="bench")
    meas = store.get_or_create_source("bench meter", type="market")
    day = datetime(2025, 3, 18, tzinfo=UTC)
    prices = year_of_prices()
    rng = np.random.default_rng(4)
    frames = []
    for d in range(14, -1, -1):
        start = day - timedelta(days=d)
        starts = [start + i * q for i in range(T)]
        i0 = (61 + 15 - d) * 96
        for sid, med, sig in (
            (price.id, prices[i0 : i0 + T], np.linspace(4.0, 16.0, T)),
            (load.id, _inputs("one price")[1], np.full(T, 0.05)),
        ):
            made = [start - timedelta(hours=12)] * T
            for p, k in ((0.1, -Z90), (0.5, 0.0), (0.9, Z90)):
                frames.append(_frame(sid, fc.id, starts, made, [p] * T, list(med + k * sig)))
            if d:
                err = np.cumsum(rng.normal(0, 1, T)) * sig / 4
                frames.append(
                    _frame(
                        sid, meas.id, starts, [t + q for t in starts], [0.5] * T, list(med + err)
                    )
                )
    store.save_beliefs(pl.concat(frames), changed_only=False)
    return store, site.id, day, day - timedelta(hours=12)


def service_rows() -> list[tuple[str, str, str]]:
    """Timed ``service.schedule`` (save=False) on :func:`service_store`'s site."""
    import tempfile
    from datetime import timedelta

    from flex_pipelines.service import LOCAL_ADMIN
    from flex_pipelines.service.schedule import schedule

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store, site, day, view = service_store(Path(tmp) / "risk.duckdb")
        for n in (None, 20, 50, 100):
            ctx = {} if n is None else {"risk-aversion": 0.5, "scenarios": n}

            def run(ctx: dict = ctx) -> Any:
                return schedule(
                    LOCAL_ADMIN,
                    store,
                    day,
                    day + timedelta(days=1),
                    asset_id=site,
                    flex_context=ctx,
                    as_of=view,
                    save=False,
                )

            times, (rec,) = _timed(run)
            res = rec.runs[0].result.result
            rows.append(
                (
                    "deterministic" if n is None else f"{n} scenarios, λ 0.5",
                    _ms(times),
                    f"{res.method} in {res.timings.get('solve', 0) * 1e3:.0f} ms",
                )
            )
            print(rows[-1], flush=True)
        store.close()
    return rows


def main() -> str:
    rows = []
    for setting in SETTINGS:
        det_auto, r_auto = _timed(lambda s=setting: solve(_problem(s)))
        det_milp, r_milp = _timed(lambda s=setting: solve(_problem(s), method="milp"))
        base = statistics.median(det_milp)
        print(
            f"{setting}: deterministic {r_auto.method} {_ms(det_auto)} ms, {r_milp.method} {_ms(det_milp)} ms",
            flush=True,
        )
        for n in COUNTS:
            for lam in (0.0, 1.0):
                sc, draw_s = scenarios(setting, n, lam)

                def run(s: str = setting, sc: Scenarios = sc) -> Any:
                    p = _problem(s)
                    p.scenarios = sc
                    return solve(p)

                times, res = _timed(run)
                det_e, det_cvar = _in_sample(_problem(setting), sc, r_milp.devices[0].power_mw)
                rows.append(
                    (
                        setting,
                        n,
                        lam,
                        _ms(times),
                        statistics.median(times) / base,
                        draw_s * 1e3,
                        res.method,
                        res.binaries,
                        det_e,
                        det_cvar,
                        res.risk.expected_cost,
                        res.risk.cvar,
                    )
                )
                print(rows[-1], flush=True)
        rows.append((setting, "det", r_auto.method, _ms(det_auto), _ms(det_milp)))
    text = render(rows, service_rows())
    RESULTS.write_text(text)
    return text


def render(rows: list[tuple], service: list[tuple[str, str, str]]) -> str:
    load = os.getloadavg()[0]
    head = [
        "## Risk-aware scheduling: solve time against the number of scenarios",
        "",
        "One day at 15 minutes (96 steps): a 1 MW / 2 MWh battery (90 % round trip), an office "
        "load and 600 kW PV behind one connection; price, load and PV uncertain (quantiles "
        "0.1/0.5/0.9 widening with the lead time, paths by the service's Gaussian copula, "
        "ρ = 0.9). One schedule of the battery for all scenarios; per scenario its own grid "
        "cost (with its own import and export where the two prices differ); objective expected cost + λ·CVaR₀.₉ (Rockafellar–Uryasev rows). "
        "Timed: build + solve (HiGHS), median (max) of 5 runs after 1 warm-up; **ratio** = to the "
        "deterministic LP/MILP solve of the point forecast in the same run. Costs are in-sample "
        "(the schedules costed over the scenarios they were solved for; EUR per day): the "
        "deterministic schedule's expected cost and CVaR next to the scenario schedule's.",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}), shared with other jobs (load {load:.1f} at the end); "
        f"date {datetime.now(UTC):%Y-%m-%d}. Reproduce: `nice -n 15 .venv/bin/python "
        "bench/bench_risk.py`.",
        "",
    ]
    det = [r for r in rows if r[1] == "det"]
    lines = [
        "| prices | deterministic, default method | ms | deterministic LP/MILP ms |",
        "|---|---|---:|---:|",
    ]
    for s, _, method, auto, milp in det:
        lines.append(f"| {s} | {method} | {auto} | {milp} |")
    lines += [
        "",
        "| prices | scenarios | λ | solve ms, median (max) | ratio | drawing paths ms | method "
        "| binaries | det. schedule: E / CVaR | scenario schedule: E / CVaR |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        if r[1] == "det":
            continue
        s, n, lam, ms, ratio, draw, method, nb, de, dc, se, scv = r
        lines.append(
            f"| {s} | {n} | {lam:g} | {ms} | {ratio:.0f}× | {draw:.1f} | {method} | {nb} | "
            f"{de:.2f} / {dc:.2f} | {se:.2f} / {scv:.2f} |"
        )
    lines += [
        "",
        "Reading: with one price for both directions a scenario keeps the deterministic "
        "build's form (its energy cost on the battery's flows), so the LP grows only by the "
        "CVaR rows; with a feed-in price below the consumption price each scenario needs its own "
        "import, export and balance (2 columns and a row per step), and the LP grows with the "
        "scenarios. On the negative-price day only the battery gets binaries (a scenario's "
        "import and export are netted where that is free), never one per scenario. In-sample, "
        "λ = 1 lowers the CVaR over the scenarios and raises the expected cost slightly; "
        "whether that holds out of sample is the backtest's question (issue 19, part 3).",
        "",
        "The service path (`flex_pipelines.service.schedule`, save off) on a DuckDB store: a "
        "15-minute price and load with quantile forecasts for 14 past days and the day, their "
        "measurements, the battery; the risk-aware run reads the quantiles and the residual "
        "history of both sensors as of the viewpoint, draws the paths, parses the problem once "
        "per scenario and solves. Median (max) of 5 runs after 1 warm-up:",
        "",
        "| run | ms, median (max) | of which the solver |",
        "|---|---:|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in service],
    ]
    return "\n".join(head + lines) + "\n"


if __name__ == "__main__":
    print(main())
