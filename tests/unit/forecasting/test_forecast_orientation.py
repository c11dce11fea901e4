"""Clear-sky irradiance on a tilted plane and the array plane fitted from past power."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from flex_pipelines.forecasting.clearsky import (
    CLEAR_SKY_POA_NAME,
    clear_sky_ghi,
    clear_sky_history,
    clear_sky_poa,
)
from flex_pipelines.forecasting.datasets import PV_TIMEZONE, pv_serf
from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.history import SeriesHistory
from flex_pipelines.forecasting.orientation import fit_orientation

LAT, LON = 39.742, -105.18
MST = timezone(timedelta(hours=-7))


def _times(day: datetime, days: int = 1) -> pl.Series:
    return pl.datetime_range(
        day, day + timedelta(days=days), timedelta(minutes=15), closed="left", eager=True
    ).dt.cast_time_unit("us")


def test_flat_plane_is_ghi_and_a_south_tilt_gains_in_autumn() -> None:
    """Tilt 0: the plane's irradiance is the GHI. A 45° south-facing plane at Golden, CO gets
    more than the horizontal at October noon (low sun) and none before sunrise."""
    oct_day = _times(datetime(2016, 10, 10, tzinfo=UTC))
    ghi = clear_sky_ghi(oct_day, LAT, LON)
    flat = clear_sky_poa(oct_day, LAT, LON, 0, 180)
    assert flat == pytest.approx(ghi, abs=1e-6)
    south = clear_sky_poa(oct_day, LAT, LON, 45, 180)
    noon = 19 * 4  # 19:00 UTC = 12:00 MST
    assert south[noon] > 1.15 * ghi[noon]
    night = 10 * 4  # 10:00 UTC = 03:00 MST
    assert south[night] == 0.0 and ghi[night] == 0.0
    hist = clear_sky_history(
        oct_day, timedelta(minutes=15), LAT, LON, surface_tilt=45, surface_azimuth=180
    )
    assert hist.name == CLEAR_SKY_POA_NAME and hist.frame.height == 96


def _synthetic(tilt: float, azimuth: float) -> SeriesHistory:
    """30 days of power proportional to a plane's clear-sky irradiance, a third of the days
    cloudy (scaled by 0.1–0.6), known at the end of each quarter hour."""
    times = _times(datetime(2016, 8, 1, tzinfo=UTC), 30)
    poa = clear_sky_poa(times + timedelta(minutes=7, seconds=30), LAT, LON, tilt, azimuth)
    rng = np.random.default_rng(0)
    day_scale = np.where(rng.random(30) < 0.33, rng.uniform(0.1, 0.6, 30), 1.0)
    power = 4.0 * poa * np.repeat(day_scale, 96)
    return SeriesHistory.from_values(
        times, power, resolution=timedelta(minutes=15), timezone="UTC", unit="W", name="pv"
    )


@pytest.mark.parametrize(("tilt", "azimuth"), [(30, 195), (50, 135), (10, 240)])
def test_fit_finds_the_plane_of_synthetic_power(tilt: float, azimuth: float) -> None:
    plane = fit_orientation(_synthetic(tilt, azimuth), LAT, LON, datetime(2016, 9, 1, tzinfo=UTC))
    assert (plane.tilt_deg, plane.azimuth_deg) == (tilt, azimuth)
    assert plane.spread < 0.01


def test_fit_on_real_pv_reads_only_what_is_known() -> None:
    """NREL SERF East, power known at 10 Aug 2016: a south-facing tilted plane; power believed
    later (here: made east-facing) changes nothing."""
    power, _, _ = pv_serf()
    as_of = datetime(2016, 8, 10, 12, tzinfo=MST)
    plane = fit_orientation(power, LAT, LON, as_of)
    assert 30 <= plane.tilt_deg <= 60 and 150 <= plane.azimuth_deg <= 210
    later = power.frame.with_columns(
        pl.when(pl.col("belief_time") > as_of)
        .then(pl.col("event_value") * pl.col("event_start").dt.hour().cast(pl.Float64))
        .otherwise(pl.col("event_value"))
    )
    assert fit_orientation(power.with_frame(later), LAT, LON, as_of) == plane
    with pytest.raises(ForecastingError, match="no power of 'pv-ac-power' is known"):
        fit_orientation(power, LAT, LON, datetime(2016, 6, 1, tzinfo=UTC))
    assert power.timezone == PV_TIMEZONE


def test_store_run_with_the_clear_sky_on_the_fitted_plane(tmp_path) -> None:  # noqa: ANN001
    """Through a real DuckDB store: ``clear_sky_plane="fit"`` fits the plane from the power
    known at the first viewpoint and gives ``clear-sky-quantile`` the plane's clear sky; its
    source differs from the GHI run's and the given-plane run's; a bad plane is refused."""
    from flex_pipelines.beliefs import open_store
    from flex_pipelines.forecasting import CycleConfig, forecast_cycles
    from flex_pipelines.forecasting.store_io import forecast_sensor

    power, _, _ = pv_serf()
    vp = datetime(2016, 9, 20, 12, tzinfo=MST)
    cfg = CycleConfig(local_days=1, train_period=timedelta(days=7), calibration="none")
    with open_store(str(tmp_path / "plane.duckdb")) as store:
        account = store.add_account("solar")
        site = store.add_asset("SERF", "building", account.id, latitude=LAT, longitude=LON)
        pv = store.add_sensor(
            "pv", "W", timedelta(minutes=15), timezone=PV_TIMEZONE, asset_id=site.id
        )
        meter = store.get_or_create_source("inverter", "user")
        store.save_beliefs(
            power.frame.with_columns(
                pl.lit(pv.id).alias("sensor_id"),
                pl.lit(meter.id).alias("source_id"),
                pl.lit(0.5).alias("cumulative_probability"),
            )
        )
        runs = {
            plane: forecast_sensor(
                store,
                pv.id,
                vp,
                vp + timedelta(hours=1),
                cfg,
                model="clear-sky-quantile",
                clear_sky=True,
                clear_sky_plane=plane,
            )
            for plane in (None, "fit", (50.0, 165.0))
        }
        with pytest.raises(ForecastingError, match="clear-sky-plane"):
            forecast_sensor(store, pv.id, vp, vp + timedelta(hours=1), cfg, clear_sky_plane=(30.0,))  # type: ignore[arg-type]
    names = {k: r.source_name for k, r in runs.items()}
    assert names[None].startswith("flexpipe clear-sky-quantile + clear-sky [")
    assert names["fit"].startswith("flexpipe clear-sky-quantile + clear-sky on fitted plane [")
    assert names[(50.0, 165.0)].startswith("flexpipe clear-sky-quantile + clear-sky on 50,165 [")
    assert len({r.source_id for r in runs.values()}) == 3
    # the same forecast from the library: the plane fitted as of the viewpoint (tilt 50, az 165)
    plane = fit_orientation(power, LAT, LON, vp)
    poa = clear_sky_history(
        power.frame["event_start"],
        timedelta(minutes=15),
        LAT,
        LON,
        PV_TIMEZONE,
        surface_tilt=plane.tilt_deg,
        surface_azimuth=plane.azimuth_deg,
    )
    ref = forecast_cycles(
        "clear-sky-quantile", power, vp, vp + timedelta(hours=1), cfg, regressors=[poa]
    )
    got = runs["fit"].forecasts.sort("event_start")["event_value"].to_numpy()
    assert got == pytest.approx(ref.sort("event_start")["event_value"].to_numpy())
    ghi = runs[None].forecasts.sort("event_start")["event_value"].to_numpy()
    assert np.abs(got - ghi).max() > 50  # W: the plane changes the forecast
