"""Benchmark: whole-pipeline backtests with value capture (issue 19).

Run: ``nice -n 15 .venv/bin/python bench/bench_backtest.py [--quick]`` →
``bench/results/backtest.md``.

Protocol (every number below is realised: schedules made at the viewpoint, settled at the
realised prices and loads by :mod:`flex_pipelines.backtest.settle`):

- **Price years** (BE 2016, FR 2016, NP 2018; the bundled epftoolbox files): a 1 MW / 2 MWh
  battery (90 % round trip, starts the year at 1 MWh) scheduled at 15 minutes against hourly
  day-ahead prices, no other load. Prices are published at 13:00 the day before (the
  forecasting benchmark's rule), the schedule is made at 12:00 the day before, so it must use a
  price forecast: the published LEAR ensemble of Lago et al. (2021) as the point forecast,
  10/50/90 % quantiles around it by rolling adaptive conformal calibration on its own past
  errors known at each viewpoint (``conformal_quantiles`` of ``flex_pipelines.forecasting.calibration``,
  56-day window), from which the risk-aware scheduler draws its scenarios. Variants: point
  forecast, perfect foresight, naive (the price a week earlier), risk-neutral scenarios
  (risk-aversion 0), risk-aware (risk-aversion 0.5, CVaR at 90 %), 20 scenarios each.
- **Demo site** (Brussels building, 250 kW peak load, 100 kWp PV, 400 kWh / 200 kW battery,
  300 kW connection; the 84 days of bundled load and PV): load and PV forecast by the pipeline's
  own forecast step (ridge, 28 training days, conformal 10/50/90 % quantiles) at 12:00 the day
  before; prices are known then (published 12:00). Every built-in variant plus risk-aware. A
  year is not possible here: the bundled load and PV cover 84 days, and the first 28 train the
  forecasts; the run covers the 56 days after.
- Days are chained: each variant starts a day from the state of charge its own schedule ended
  the day before with. Value capture = (baseline − cost) / (baseline − perfect foresight) over
  the whole period; worst decile = the 10 % of days on which a variant saved least (mean
  savings per day, and capture on those days together). Runtime per day = wall time of the
  backtest (all variants, reads, settlement) over its days; per variant: its scheduling time.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from flex_pipelines.backtest import BacktestResult, Variant
from flex_pipelines.beliefs import BeliefStore, open_store
from flex_pipelines.beliefs.knowledge import knowledge_time_expr
from flex_pipelines.pipeline.sites import day_ahead_viewpoint
from flex_pipelines.service import LOCAL_ADMIN
from flex_pipelines.service.backtest import backtest
from flex_pipelines.time import day_window

RESULTS = Path(__file__).parent / "results" / "backtest.md"
EPF_TZ = "Etc/GMT-1"
GATE = "12:00"
MARKETS = {
    "BE": (date(2016, 1, 1), date(2016, 12, 30)),
    "FR": (date(2016, 1, 1), date(2016, 12, 30)),
    "NP": (date(2018, 1, 1), date(2018, 12, 23)),
}
DEMO = (date(2016, 8, 1), date(2016, 9, 25))
CALIBRATION = timedelta(days=56)
RISK_NEUTRAL = Variant(
    "risk-neutral",
    "20 price scenarios, expected cost",
    flex_context={"risk-aversion": 0.0, "scenarios": 20},
)
RISK_AWARE = Variant(
    "risk-aware",
    "20 price scenarios, expected cost + 0.5 x CVaR(90 %)",
    flex_context={"risk-aversion": 0.5, "cvar-alpha": 0.9, "scenarios": 20},
)


def _beliefs(
    sensor_id: int,
    source_id: int,
    frame: pl.DataFrame,
    belief_time: pl.Expr,
    prob: pl.Expr | None = None,
) -> pl.DataFrame:
    return frame.select(
        pl.lit(sensor_id).cast(pl.Int64).alias("sensor_id"),
        pl.col("event_start").dt.cast_time_unit("us").dt.convert_time_zone("UTC"),
        belief_time.dt.cast_time_unit("us").dt.convert_time_zone("UTC").alias("belief_time"),
        pl.lit(source_id).cast(pl.Int64).alias("source_id"),
        (prob if prob is not None else pl.lit(0.5))
        .cast(pl.Float64)
        .alias("cumulative_probability"),
        pl.col("event_value").cast(pl.Float64),
    )


def price_year_store(store: BeliefStore, market: str, first: date, last: date) -> int:
    """A battery behind a price sensor with realised prices, the published LEAR point forecast
    and conformal quantiles around it; returns the site id."""
    from flex_pipelines.forecasting.calibration import conformal_quantiles
    from flex_pipelines.forecasting.datasets import DAY_AHEAD_PUBLICATION, epf_prices

    hist, df = epf_prices(market.lower())
    acc = store.add_account(f"Bench {market}")
    zone = store.add_asset(f"{market} day-ahead market", "transmission zone", None, timezone=EPF_TZ)
    price = store.add_sensor(
        f"{market} day-ahead price",
        "EUR/MWh",
        timedelta(hours=1),
        timezone=EPF_TZ,
        asset_id=zone.id,
        knowledge_horizon=DAY_AHEAD_PUBLICATION,
    )
    site = store.add_asset(
        f"{market} battery site",
        "building",
        acc.id,
        timezone=EPF_TZ,
        flex_context={
            "consumption-price": {"sensor": price.id},
            "production-price": {"sensor": price.id},
        },
    )
    bat = store.add_asset("battery", "battery", acc.id, parent_id=site.id, timezone=EPF_TZ)
    power = store.add_sensor(
        "battery power", "MW", timedelta(minutes=15), timezone=EPF_TZ, asset_id=bat.id
    )
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
    market_src = store.get_or_create_source(f"EPEX {market} (epftoolbox)", type="market")
    lear = store.get_or_create_source(
        "published LEAR ensemble (Lago et al. 2021)", type="forecaster", model="lear-ensemble"
    )
    frame = df.select(
        pl.col("timestamp").alias("event_start"),
        pl.col("price").alias("event_value"),
        pl.col("lear_ensemble_forecast"),
    )
    store.save_beliefs(
        _beliefs(price.id, market_src.id, frame, knowledge_time_expr(pl.col("event_start"), price))
    )
    local_day = pl.col("event_start").dt.convert_time_zone(EPF_TZ).dt.date()
    vp = (
        local_day.dt.offset_by("-1d")
        .dt.combine(pl.time(12))
        .dt.replace_time_zone(EPF_TZ)
        .dt.convert_time_zone("UTC")
    )
    point = _beliefs(
        price.id,
        lear.id,
        frame.drop("event_value").rename({"lear_ensemble_forecast": "event_value"}),
        vp,
    )
    lo, _ = day_window(first - CALIBRATION - timedelta(days=7), EPF_TZ)
    _, hi = day_window(last, EPF_TZ)
    point = point.filter((pl.col("event_start") >= lo) & (pl.col("event_start") < hi))
    start = day_ahead_viewpoint(first - timedelta(days=7), EPF_TZ, GATE)
    q = conformal_quantiles(
        point, hist, (0.1, 0.5, 0.9), start=start, window=CALIBRATION, gamma=0.002
    )
    store.save_beliefs(point.filter(pl.col("belief_time") < start))
    store.save_beliefs(q.select(point.columns))
    return site.id


def demo_store(store: BeliefStore, first: date, last: date) -> int:
    """The demo site with its measured series and the pipeline's load and PV forecasts (with
    quantiles) for ``first``..``last``; returns the site id."""
    from flex_pipelines.demo import build_demo_site, demo_series
    from flex_pipelines.pipeline.steps import forecast_days

    ids = build_demo_site(store)
    for sid, (src, frame) in demo_series(ids).items():
        sensor = store.get_sensor(sid)
        source = store.get_or_create_source(src, type="market" if sid == ids["price"] else "demo")
        store.save_beliefs(
            _beliefs(sid, source.id, frame, knowledge_time_expr(pl.col("event_start"), sensor))
        )
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    for role in ("load", "pv"):
        sensor = store.get_sensor(ids[role])
        cfg = {**sensor.attributes["forecast"], "quantiles": [0.1, 0.5, 0.9]}
        store.update_sensor(sensor.id, attributes={**sensor.attributes, "forecast": cfg})
        forecast_days(store, sensor.id, days)
    return ids["site"]


def _protocol() -> list[str]:
    """The docstring's protocol bullets, each on one line."""
    body = (__doc__ or "").split(":mod:`flex_pipelines.backtest.settle`):", 1)[-1]
    out: list[str] = []
    for line in body.strip().splitlines():
        if line.startswith("- "):
            out.append(line)
        elif out:
            out[-1] += " " + line.strip()
    return out


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f} %" if pct else f"{x:,.2f}"


def table(result: BacktestResult) -> list[str]:
    cur = result.currency
    lines = [
        f"| variant | savings ({cur}) | value capture | worst-decile savings/day ({cur}) | "
        f"worst-decile capture | savings on the point forecast's worst-decile days ({cur}/day) | "
        "over limit (MWh) | schedule ms/day |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    days = result.days
    k = max(1, len(days) // 10)
    worst = (
        sorted(days, key=lambda d: d.savings("forecast"))[:k]
        if "forecast" in result.variant_names
        else []
    )
    for t in result.totals():
        on_worst = float(np.mean([d.savings(t.variant) for d in worst])) if worst else None
        lines.append(
            f"| {t.variant} | {_fmt(t.savings)} | {_fmt(t.value_capture, True)} | "
            f"{_fmt(t.worst_decile_savings)} | {_fmt(t.worst_decile_capture, True)} | "
            f"{_fmt(on_worst)} | {t.over_limit_mwh:.3f} | {1000 * t.solve_s_per_day:.0f} |"
        )
    return lines


def run_one(
    name: str, build, first: date, last: date, variants: list
) -> tuple[BacktestResult, float]:
    with tempfile.TemporaryDirectory() as tmp, open_store(str(Path(tmp) / "bt.duckdb")) as store:
        t0 = time.perf_counter()
        site = build(store, first, last)
        prep = time.perf_counter() - t0
        print(f"{name}: store ready in {prep:.0f} s", flush=True)
        result = backtest(
            LOCAL_ADMIN,
            store,
            site,
            first,
            last,
            variants=variants,
            gate_closure=GATE,
            progress=lambda d, n, day: (
                print(f"  {name} {day} ({d}/{n})", flush=True) if d % 30 == 0 or d == n else None
            ),
        )
    return result, prep


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="14 days per market, 7 demo days")
    ap.add_argument("--markets", default="BE,FR,NP")
    args = ap.parse_args(argv)
    import flex_pipelines.scheduling.scenario_store  # noqa: F401  (imports out of the timings)

    started = datetime.now(UTC)
    load0 = os.getloadavg()[0]
    runs: list[tuple[str, BacktestResult, float]] = []
    first, last = DEMO
    if args.quick:
        last = first + timedelta(days=6)
    res, prep = run_one(
        "demo",
        demo_store,
        first,
        last,
        ["forecast", "naive", "price-actual", "load-actual", "pv-actual", RISK_AWARE],
    )
    runs.append(("demo site", res, prep))
    write(runs, started, load0, args.quick)
    for market in [m for m in args.markets.split(",") if m]:
        first, last = MARKETS[market]
        if args.quick:
            last = first + timedelta(days=13)
        res, prep = run_one(
            market,
            lambda s, f, e, m=market: price_year_store(s, m, f, e),
            first,
            last,
            ["forecast", "naive", RISK_NEUTRAL, RISK_AWARE],
        )
        runs.append((f"{market} price year", res, prep))
        write(runs, started, load0, args.quick)


def summary(runs: list[tuple[str, BacktestResult, float]]) -> list[str]:
    """One row per run: value capture per variant, and risk-aware against the point forecast."""
    lines = [
        "| backtest | days | point forecast | naive | risk-neutral | risk-aware | risk-aware − point, "
        "savings | risk-aware − point, worst-decile savings/day | s per day |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for title, res, _ in runs:
        tot = {t.variant: t for t in res.totals()}

        def cap(v: str, tot: dict = tot) -> str:
            return _fmt(tot[v].value_capture, True) if v in tot else "–"

        diff = wdiff = "–"
        if "risk-aware" in tot and "forecast" in tot:
            diff = f"{tot['risk-aware'].savings - tot['forecast'].savings:+,.2f} {res.currency}"
            wd = tot["risk-aware"].worst_decile_savings - tot["forecast"].worst_decile_savings
            wdiff = f"{wd:+,.2f} {res.currency}"
        lines.append(
            f"| {title} | {len(res.days)} | {cap('forecast')} | {cap('naive')} | "
            f"{cap('risk-neutral')} | {cap('risk-aware')} | {diff} | {wdiff} | "
            f"{res.seconds / max(1, len(res.days)):.2f} |"
        )
    return lines


def write(
    runs: list[tuple[str, BacktestResult, float]], started: datetime, load0: float, quick: bool
) -> None:
    """Write bench/results/backtest.md with the runs done so far."""
    sections: list[str] = []
    for title, res, prep in runs:
        per_day = res.seconds / max(1, len(res.days))
        sections += [
            f"### {title}: {res.site_name}, {res.first} to {res.last}",
            "",
            f"{len(res.days)} days backtested ({len(res.skipped)} skipped), "
            f"{per_day:.2f} s per day for all {len(res.variants)} variants "
            f"({res.seconds:.0f} s; building the store and forecasts took {prep:.0f} s).",
            "",
            *table(res),
            "",
        ]
        split = res.error_split()
        if split is not None:
            shares = ", ".join(f"{r} {_fmt(split.share(r), True)}" for r in split.per_input)
            sections += [
                f"Gap of the point-forecast schedule to perfect foresight: {split.gap:.2f} "
                f"{res.currency}; realising one input at a time closes: {shares} "
                f"(together {_fmt(split.explained, True)} of the gap).",
                "",
            ]
        for d, why in res.skipped[:3]:
            sections.append(f"- skipped {d}: {why}")
        if res.skipped:
            sections.append("")
    host = (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}"
    )
    text = [
        "## Backtests: value capture (issue 19)",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `bench/bench_backtest.py`"
        f"{' --quick' if quick else ''} on {host}; load average {load0:.1f} at the start "
        "(the machine is shared by several jobs: runtimes are pessimistic).",
        "",
        "Protocol (every number is realised: schedules made at the viewpoint, settled at the "
        "realised prices and loads by `flex_pipelines.backtest.settle`):",
        "",
        *_protocol(),
        "",
        "Value capture per variant (perfect foresight = 100 %):",
        "",
        *summary(runs),
        "",
        *sections,
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(text) + "\n")
    print(f"wrote {RESULTS}", flush=True)


if __name__ == "__main__":
    main()
