"""A synthetic fleet for trying and benchmarking batch scheduling: N sites, each with a battery,
rooftop PV and a building load of its own, behind one shared day-ahead price.

Every site's series are the demo's real ones (:mod:`flex_pipelines.demo`: BE day-ahead prices,
NREL PV, GB demand shape; sources in data/forecasting/ATTRIBUTION.md), varied per site by a
deterministic scale (PV 20–200 kWp, load 50–500 kW peak) and a shift of whole quarter hours
(up to ±2 h for the load, ±30 min for PV), so no two sites have the same optimum. Battery sizes
vary too (100–1,000 kWh, 0.5 C). Site ``i`` gets the same values on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from flex_pipelines.beliefs import BeliefStore, KnowledgeHorizon
from flex_pipelines.demo import FIRST_DAY, TZ, load_series, price_series, pv_series
from flex_pipelines.time import day_window

__all__ = ["Fleet", "build_fleet"]

Q = timedelta(minutes=15)


@dataclass(frozen=True)
class Fleet:
    """What :func:`build_fleet` made: the account, the shared price sensor, the site ids."""

    account_id: int
    price_sensor_id: int
    site_ids: list[int]
    days: list[date]


def _site_params(i: int) -> dict[str, float]:
    rng = np.random.default_rng(1000 + i)
    return {
        "pv_kwp": float(rng.uniform(20, 200)),
        "load_kw": float(rng.uniform(50, 500)),
        "load_shift_q": int(rng.integers(-8, 9)),
        "pv_shift_q": int(rng.integers(-2, 3)),
        "battery_kwh": float(rng.uniform(100, 1000)),
    }


def build_fleet(
    store: BeliefStore,
    n_sites: int,
    first_day: date = FIRST_DAY + timedelta(days=1),
    n_days: int = 1,
) -> Fleet:
    """Create ``n_sites`` sites with data for ``n_days`` local days from ``first_day``.

    Parameters
    ----------
    store
        The belief store (DuckDB or PostgreSQL).
    n_sites
        How many sites.
    first_day, n_days
        The local days (Europe/Brussels) with prices, PV and load; the demo's data cover
        2016-07-04 … 2016-09-25 (the first day lacks the hours a shifted load moves in).

    Returns
    -------
    Fleet
        Ids of what was created. Everything is saved in one transaction per table kind.
    """
    start, _ = day_window(first_day, TZ)
    _, end = day_window(first_day + timedelta(days=n_days - 1), TZ)
    known = start - timedelta(hours=12)
    prices = price_series().filter(pl.col("event_start").is_between(start, end, closed="left"))
    pv = pv_series().filter(pl.col("event_start").is_between(start - 3 * Q, end + 3 * Q))
    load = load_series().filter(pl.col("event_start").is_between(start - 9 * Q, end + 9 * Q))
    with store.transaction():
        acc = store.add_account(f"Fleet of {n_sites}")
        market = store.add_asset("fleet market", "transmission zone", None, timezone=TZ)
        price = store.add_sensor(
            "fleet day-ahead price",
            "EUR/MWh",
            timedelta(hours=1),
            timezone=TZ,
            asset_id=market.id,
            knowledge_horizon=KnowledgeHorizon("day_ahead", hour=12),
        )
        src = store.get_or_create_source("fleet data", "demo")
        frames = [_frame(price.id, src.id, prices, known)]
        site_ids = []
        for i in range(n_sites):
            p = _site_params(i)
            site = store.add_asset(f"fleet site {i}", "building", acc.id, timezone=TZ)
            load_s = store.add_sensor("load", "kW", Q, timezone=TZ, asset_id=site.id)
            pv_s = store.add_sensor("pv", "kW", Q, timezone=TZ, asset_id=site.id)
            bat = store.add_asset(f"battery {i}", "battery", acc.id, parent_id=site.id, timezone=TZ)
            power = store.add_sensor("battery power", "kW", Q, timezone=TZ, asset_id=bat.id)
            soc = store.add_sensor("battery soc", "kWh", timedelta(0), timezone=TZ, asset_id=bat.id)
            kwh = p["battery_kwh"]
            store.update_asset(
                bat.id,
                flex_model={
                    "sensor": power.id,
                    "state-of-charge": {"sensor": soc.id},
                    "soc-at-start": f"{kwh / 2:.1f} kWh",
                    "soc-min": f"{kwh * 0.05:.1f} kWh",
                    "soc-max": f"{kwh:.1f} kWh",
                    "power-capacity": f"{kwh / 2:.1f} kW",
                    "roundtrip-efficiency": "90%",
                },
            )
            store.update_asset(
                site.id,
                flex_context={
                    "consumption-price": {"sensor": price.id},
                    "production-price": {"sensor": price.id},
                    "inflexible-consumption": [{"sensor": load_s.id}],
                    "inflexible-production": [{"sensor": pv_s.id}],
                    "site-power-capacity": f"{p['load_kw'] + kwh:.0f} kW",
                },
            )
            frames.append(
                _shifted(
                    load_s.id,
                    src.id,
                    load,
                    p["load_shift_q"],
                    p["load_kw"] / 250.0,
                    start,
                    end,
                    known,
                )
            )
            frames.append(
                _shifted(
                    pv_s.id, src.id, pv, p["pv_shift_q"], p["pv_kwp"] / 100.0, start, end, known
                )
            )
            site_ids.append(site.id)
        store.save_beliefs(pl.concat(frames))
    days = [first_day + timedelta(days=d) for d in range(n_days)]
    return Fleet(acc.id, price.id, site_ids, days)


def _frame(sensor_id: int, source_id: int, series: pl.DataFrame, known: datetime) -> pl.DataFrame:
    return series.select(
        pl.lit(sensor_id, pl.Int64).alias("sensor_id"),
        pl.col("event_start"),
        pl.lit(known).cast(pl.Datetime("us", "UTC")).alias("belief_time"),
        pl.lit(source_id, pl.Int64).alias("source_id"),
        pl.lit(0.5).alias("cumulative_probability"),
        pl.col("event_value").cast(pl.Float64),
    )


def _shifted(
    sensor_id: int,
    source_id: int,
    series: pl.DataFrame,
    shift_q: int,
    scale: float,
    start: datetime,
    end: datetime,
    known: datetime,
) -> pl.DataFrame:
    moved = series.with_columns(
        pl.col("event_start") + shift_q * Q, pl.col("event_value") * scale
    ).filter(pl.col("event_start").is_between(start, end, closed="left"))
    return _frame(sensor_id, source_id, moved, known)
