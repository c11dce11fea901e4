"""Clear-sky irradiance: a regressor that is known in advance for any place and time.

Solar position from the NOAA general solar position approximations (Spencer 1971 Fourier series
for the equation of time and declination); clear-sky global horizontal irradiance from the
Haurwitz model (Haurwitz 1945; as in pvlib ``clearsky.haurwitz``):
``ghi_w_m2 = 1098 · cos(z) · exp(−0.059 / cos(z))`` for a sun above the horizon.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import UTC_DT, KnowledgeHorizon
from flex_pipelines.forecasting.history import SeriesHistory

__all__ = ["solar_zenith_cos", "clear_sky_ghi", "clear_sky_history"]


def solar_zenith_cos(times_utc: pl.Series, latitude: float, longitude: float) -> np.ndarray:
    """Cosine of the solar zenith angle at UTC times; latitude/longitude in degrees (east +)."""
    t = times_utc.cast(UTC_DT)
    doy = t.dt.ordinal_day().to_numpy().astype(float)
    hour = t.dt.hour().to_numpy() + t.dt.minute().to_numpy() / 60 + t.dt.second().to_numpy() / 3600
    g = 2 * np.pi / 365.0 * (doy - 1 + (hour - 12) / 24)
    eqtime_min = 229.18 * (
        0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g)
        - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g)
    )  # fmt: skip
    decl = (
        0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g)
    )  # fmt: skip
    true_solar_min = hour * 60 + eqtime_min + 4 * longitude
    hour_angle = np.radians(true_solar_min / 4 - 180)
    lat = np.radians(latitude)
    return np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)


def clear_sky_ghi(times_utc: pl.Series, latitude: float, longitude: float) -> np.ndarray:
    """Haurwitz clear-sky GHI in W/m² at the given UTC times (0 at night)."""
    cz = solar_zenith_cos(times_utc, latitude, longitude)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ghi = 1098.0 * cz * np.exp(-0.059 / cz)
    return np.where(cz > 0, ghi, 0.0)


def clear_sky_history(
    event_starts: pl.Series,
    resolution: timedelta,
    latitude: float,
    longitude: float,
    timezone: str = "UTC",
) -> SeriesHistory:
    """Clear-sky GHI per event (evaluated at mid-event) as a regressor known a year ahead."""
    mid = event_starts.cast(UTC_DT) + resolution / 2
    return SeriesHistory.from_values(
        event_starts,
        clear_sky_ghi(mid, latitude, longitude),
        resolution=resolution,
        knowledge_horizon=KnowledgeHorizon(kind="ex_ante", offset=timedelta(days=365)),
        timezone=timezone,
        unit="W/m²",
        name="clear-sky-ghi",
    )
