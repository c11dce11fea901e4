"""Readers for the real series bundled in ``data/forecasting`` (see its ATTRIBUTION.md).

Used by the tests and the benchmark. Each returns :class:`SeriesHistory` objects whose belief
times follow the series' knowledge horizon.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from flex_pipelines.beliefs.model import KnowledgeHorizon
from flex_pipelines.forecasting.history import SeriesHistory

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "forecasting"

#: fixed zones matching the offsets written in the files (see ATTRIBUTION.md)
EPF_TIMEZONE = "Etc/GMT-1"
PV_TIMEZONE = "Etc/GMT+7"
#: day-ahead auction results are published around 12:40–12:45 local time, so a forecast made
#: at 12:00 the day before does not know them; we model publication at 13:00.
DAY_AHEAD_PUBLICATION = KnowledgeHorizon(kind="day_ahead", hour=13)
EPF_HOLIDAYS = {"np": "NO", "be": "BE", "fr": "FR"}
#: day-ahead load/generation forecasts are published before the auction: ENTSO-E's rule is at
#: the latest two hours before the day-ahead gate closure (12:00), so 10:00 the day before
EXOGENOUS_PUBLICATION = KnowledgeHorizon(kind="day_ahead", hour=10)
#: the exogenous file of each market (Belgium uses France's forecasts, as Lago et al. 2021 did)
EPF_EXOGENOUS_FILE = {"np": "np", "be": "fr", "fr": "fr"}


def read_csv(name: str) -> pl.DataFrame:
    df = pl.read_csv(DATA_DIR / name, try_parse_dates=False)
    return df.with_columns(
        pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%S%:z").dt.convert_time_zone("UTC")
    )


def epf_prices(market: str) -> tuple[SeriesHistory, pl.DataFrame]:
    """Day-ahead prices of ``np``, ``be`` or ``fr`` (EUR/MWh), and the file as a frame.

    The frame has ``timestamp`` (UTC), ``price``, ``lear_ensemble_forecast``,
    ``dnn_ensemble_forecast``.
    """
    df = read_csv(f"epf_{market.lower()}_dayahead_price_with_benchmark_forecasts.csv")
    hist = SeriesHistory.from_values(
        df["timestamp"],
        df["price"],
        resolution=timedelta(hours=1),
        knowledge_horizon=DAY_AHEAD_PUBLICATION,
        timezone=EPF_TIMEZONE,
        unit="EUR/MWh",
        name=f"{market.lower()}-day-ahead-price",
    )
    return hist, df


def epf_exogenous(market: str) -> list[SeriesHistory]:
    """The day-ahead forecasts (MW) the published models of ``np``, ``be`` or ``fr`` used.

    One history per column (NP: grid load and wind power; BE and FR: France's generation and
    system load), each value believed at 10:00 (UTC+1) on the day before delivery
    (:data:`EXOGENOUS_PUBLICATION`), i.e. known at a 12:00 viewpoint the day before.
    """
    df = read_csv(f"epf_{EPF_EXOGENOUS_FILE[market.lower()]}_exogenous_dayahead_forecasts.csv.gz")
    return [
        SeriesHistory.from_values(
            df["timestamp"],
            df[col].cast(pl.Float64),
            resolution=timedelta(hours=1),
            knowledge_horizon=EXOGENOUS_PUBLICATION,
            timezone=EPF_TIMEZONE,
            unit="MW",
            name=col,
        )
        for col in df.columns
        if col != "timestamp"
    ]


def gb_demand() -> SeriesHistory:
    """GB national demand, half-hourly, MW (measurements known at the end of each event)."""
    df = read_csv("gb_demand_taylor_2000_30min.csv")
    return SeriesHistory.from_values(
        df["timestamp"],
        df["demand_mw"].cast(pl.Float64),
        resolution=timedelta(minutes=30),
        timezone="UTC",
        unit="MW",
        name="gb-demand",
    )


def pv_serf() -> tuple[SeriesHistory, SeriesHistory, SeriesHistory]:
    """(AC power in W, clear-sky GHI, measured GHI) of NREL SERF East, 15-minute.

    Clear-sky GHI is a model value known in advance (belief time one year before the event);
    measured GHI is believed at each event's end: as a day-ahead regressor it would be unknown,
    so benchmarks that use it as a perfect forecast re-date it explicitly.
    """
    pv = read_csv("pv_nrel_serf_east_2016_15min.csv")
    wx = read_csv("weather_psm3_serf_east_2016_15min.csv")
    res = timedelta(minutes=15)
    power = SeriesHistory.from_values(
        pv["timestamp"],
        pv["ac_power"],
        resolution=res,
        timezone=PV_TIMEZONE,
        unit="W",
        name="pv-ac-power",
    )
    clear = SeriesHistory.from_values(
        wx["timestamp"],
        wx["ghi_clear_w_m2"],
        resolution=res,
        knowledge_horizon=KnowledgeHorizon(kind="ex_ante", offset=timedelta(days=365)),
        timezone=PV_TIMEZONE,
        unit="W/m²",
        name="ghi-clear-sky",
    )
    ghi = SeriesHistory.from_values(
        wx["timestamp"],
        wx["ghi_w_m2"],
        resolution=res,
        timezone=PV_TIMEZONE,
        unit="W/m²",
        name="ghi",
    )
    return power, clear, ghi
