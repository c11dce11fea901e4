"""The demo site: a Belgian commercial building with rooftop PV and a battery, from real data.

Data (bundled in ``data/forecasting/``; sources, licences and time-zone caveats in its
ATTRIBUTION.md):

- **prices**: EPEX Belgium day-ahead prices 2015–2016 (EUR/MWh, hourly), as published with the
  epftoolbox benchmark. The file is in local wall-clock time with 24 values every day; stamps are
  re-read as Europe/Brussels wall-clock hours (the 02:00 hour that does not exist on the spring
  DST day is dropped, the repeated autumn hour is stored once).
- **PV**: NREL SERF East (Golden, CO) 15-minute AC power, Jul–Oct 2016, scaled from its 5.4 kW
  peak to a 100 kWp roof and re-stamped to the same local clock time at the demo site.
- **building load**: GB national demand (Taylor, 30-min, Jun–Aug 2000) scaled to a 250 kW peak,
  moved by whole weeks to 2016 so that weekdays stay weekdays, at the same local clock time,
  and held for both quarter hours of each half hour.

The site's 84 days run from Monday 2016-07-04 to Sunday 2016-09-25 (all three series overlap).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from flex_pipelines.beliefs import BeliefStore, KnowledgeHorizon

TZ = "Europe/Brussels"
FIRST_DAY = date(2016, 7, 4)
LAST_DAY = date(2016, 9, 25)
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "forecasting"
Q = timedelta(minutes=15)
PV_PEAK_KW = 100.0
LOAD_PEAK_KW = 250.0


def _local_clock(name: str, value: pl.Expr, shift: timedelta = timedelta(0)) -> pl.DataFrame:
    """Read a bundled CSV; keep each row's local clock reading (plus ``shift``) and interpret it
    in the demo timezone (DST-safe: non-existent spring hours dropped, the repeated autumn hour
    kept once). Returns event_start (UTC) and event_value, sorted."""
    df = pl.read_csv(DATA_DIR / name)
    clock = (
        pl.col("timestamp").str.slice(0, 19).str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us")
    )
    local = (clock + shift).dt.replace_time_zone(TZ, ambiguous="earliest", non_existent="null")
    return (
        df.select(local.alias("event_start"), value.alias("event_value"))
        .drop_nulls()
        .unique("event_start", keep="first")
        .with_columns(pl.col("event_start").dt.convert_time_zone("UTC"))
        .sort("event_start")
    )


def price_series() -> pl.DataFrame:
    """Hourly BE day-ahead prices (event_start UTC, event_value EUR/MWh), whole file."""
    return _local_clock("epf_be_dayahead_price_with_benchmark_forecasts.csv", pl.col("price"))


def pv_series() -> pl.DataFrame:
    """15-min PV production (kW, positive), scaled to a 100 kWp roof."""
    ac = pl.col("ac_power")
    return _local_clock(
        "pv_nrel_serf_east_2016_15min.csv", ac.clip(lower_bound=0) / ac.max() * PV_PEAK_KW
    )


def load_series() -> pl.DataFrame:
    """15-min building load (kW, positive): GB demand shape moved to 2016, 250 kW peak.

    Each half-hourly value is held for both quarter hours."""
    shift = FIRST_DAY - date(2000, 6, 5)  # both Mondays: a whole number of weeks
    demand = pl.col("demand_mw")
    half = _local_clock(
        "gb_demand_taylor_2000_30min.csv", demand / demand.max() * LOAD_PEAK_KW, shift
    )
    second = half.with_columns(pl.col("event_start") + timedelta(minutes=15))
    return pl.concat([half, second]).sort("event_start")


def clear_sky_series() -> pl.DataFrame:
    """15-min clear-sky GHI (W/m²) at the PV site, re-stamped like the PV."""
    return _local_clock("weather_psm3_serf_east_2016_15min.csv", pl.col("ghi_clear_w_m2"))


def build_demo_site(store: BeliefStore) -> dict[str, int]:
    """Create (or find) the demo account, assets and sensors; returns their ids by role."""
    existing = [a for a in store.list_accounts() if a.name == "Demo Energy Co"]
    if existing:
        return _ids_of_existing(store, existing[0].id)
    q, h = Q, timedelta(hours=1)
    with store.transaction():
        acc = store.add_account("Demo Energy Co")
        store.add_user(acc.id, "demo@flexpipelines.test", roles=["account-admin"])
        market = store.add_asset("BE day-ahead market", "transmission zone", None, timezone=TZ)
        price = store.add_sensor(
            "BE day-ahead price",
            "EUR/MWh",
            h,
            timezone=TZ,
            asset_id=market.id,
            knowledge_horizon=KnowledgeHorizon("day_ahead", hour=12),
        )
        site = store.add_asset(
            "Demo site Brussels", "building", acc.id, latitude=50.85, longitude=4.35, timezone=TZ
        )
        load = store.add_sensor("building load", "kW", q, timezone=TZ, asset_id=site.id)
        grid = store.add_sensor("grid connection power", "kW", q, timezone=TZ, asset_id=site.id)
        pv_asset = store.add_asset("rooftop PV", "solar", acc.id, parent_id=site.id, timezone=TZ)
        pv = store.add_sensor("PV production", "kW", q, timezone=TZ, asset_id=pv_asset.id)
        sky = store.add_sensor(
            "clear-sky irradiance",
            "W/m²",
            q,
            timezone=TZ,
            asset_id=pv_asset.id,
            knowledge_horizon=KnowledgeHorizon("ex_ante", offset=timedelta(days=7)),
        )
        bat = store.add_asset("battery", "battery", acc.id, parent_id=site.id, timezone=TZ)
        power = store.add_sensor("battery power", "kW", q, timezone=TZ, asset_id=bat.id)
        soc = store.add_sensor(
            "battery state of charge", "kWh", timedelta(0), timezone=TZ, asset_id=bat.id
        )
        store.update_asset(
            bat.id,
            flex_model={
                "sensor": power.id,
                "state-of-charge": {"sensor": soc.id},
                "soc-at-start": "200 kWh",
                "soc-min": "20 kWh",
                "soc-max": "400 kWh",
                "power-capacity": "200 kW",
                "roundtrip-efficiency": "90%",
                "storage-efficiency": "99.99%",
            },
        )
        store.update_asset(
            site.id,
            flex_context={
                "consumption-price": {"sensor": price.id},
                "production-price": {"sensor": price.id},
                "site-power-capacity": "300 kW",
                "inflexible-consumption": [{"sensor": load.id}],
                "inflexible-production": [{"sensor": pv.id}],
            },
            attributes={"grid-power-sensor": grid.id},
        )
        store.update_sensor(
            price.id,
            attributes={
                "forecast": {"model": "lear", "max-horizon": "PT36H", "train-period": "P56D"}
            },
        )
        store.update_sensor(
            load.id,
            attributes={
                "forecast": {"model": "ridge", "max-horizon": "PT36H", "train-period": "P28D"}
            },
        )
        store.update_sensor(
            pv.id,
            attributes={
                "forecast": {
                    "model": "ridge",
                    "max-horizon": "PT36H",
                    "train-period": "P28D",
                    "regressors": [sky.id],
                }
            },
        )
    return _ids_of_existing(store, acc.id)


def _ids_of_existing(store: BeliefStore, account_id: int) -> dict[str, int]:
    ids: dict[str, int] = {"account": account_id}
    names = {
        "BE day-ahead price": "price",
        "building load": "load",
        "grid connection power": "grid",
        "PV production": "pv",
        "clear-sky irradiance": "clear_sky",
        "battery power": "battery_power",
        "battery state of charge": "battery_soc",
    }
    assets = {
        "Demo site Brussels": "site",
        "rooftop PV": "pv_asset",
        "battery": "battery",
        "BE day-ahead market": "market",
    }
    for a in store.list_assets():
        if a.name in assets and (a.account_id == account_id or a.account_id is None):
            ids[assets[a.name]] = a.id
    for s in store.list_sensors():
        if s.name in names and s.asset_id in ids.values():
            ids[names[s.name]] = s.id
    return ids


def demo_series(ids: dict[str, int]) -> dict[int, tuple[str, pl.DataFrame]]:
    """The measured series per sensor id: (source name, frame of event_start/event_value)."""
    return {
        ids["price"]: ("EPEX BE (epftoolbox)", price_series()),
        ids["pv"]: ("NREL SERF East (pvanalytics)", pv_series()),
        ids["load"]: ("GB demand, Taylor (pmdarima)", load_series()),
        ids["clear_sky"]: ("NSRDB PSM3 clear-sky (pvanalytics)", clear_sky_series()),
    }


def write_inbox_files(ids: dict[str, int], inbox: Path) -> list[Path]:
    """Write the demo series as inbox CSV files (``<sensor_id>__<source>.csv`` + sidecar JSON)."""
    inbox.mkdir(parents=True, exist_ok=True)
    out = []
    for sensor_id, (source, frame) in demo_series(ids).items():
        slug = "".join(c if c.isalnum() else "-" for c in source.split(" (")[0]).strip("-")
        path = inbox / f"{sensor_id}__{slug}.csv"
        frame.select(
            pl.col("event_start").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").alias("event_start"),
            pl.col("event_value"),
        ).write_csv(path)
        source_type = "market" if sensor_id == ids["price"] else "demo"
        path.with_suffix(".json").write_text(
            json.dumps({"source": source, "source_type": source_type})
        )
        out.append(path)
    return out


def summary_of(ids: dict[str, int]) -> list[dict[str, Any]]:
    return [{"role": k, "id": v} for k, v in ids.items()]
