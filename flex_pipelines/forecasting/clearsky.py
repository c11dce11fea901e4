"""Clear-sky irradiance: a regressor that is known in advance for any place and time.

Computed with pvlib (Holmgren, Hansen & Mikofski 2018, *pvlib python: a python package for
modeling solar energy systems*, JOSS 3(29):884): solar position by the NREL SPA (Reda & Andreas
2004, *Solar position algorithm for solar radiation applications*, Solar Energy 76:577) and
clear-sky global horizontal irradiance by the Ineichen–Perez model (Ineichen & Perez 2002, *A new
airmass independent formulation for the Linke turbidity coefficient*, Solar Energy 73:151) with
pvlib's monthly Linke turbidity climatology (Remund et al. 2003) at the site's altitude. It
depends only on the place and the time, so its values are "believed" a year ahead: an honest
day-ahead input for PV forecasts without any weather forecast.

For a tilted array, :func:`clear_sky_poa` transposes the clear-sky beam, diffuse and
ground-reflected irradiance to the plane of the array (pvlib ``get_total_irradiance``, isotropic
sky diffuse: Liu & Jordan 1963, *The long-term average performance of flat-plate solar-energy
collectors*, Solar Energy 7:53); its daily shape follows the array's, not the horizontal's.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import UTC_DT, KnowledgeHorizon
from flex_pipelines.forecasting.history import SeriesHistory

__all__ = [
    "clear_sky_ghi",
    "clear_sky_poa",
    "clear_sky_history",
    "CLEAR_SKY_NAME",
    "CLEAR_SKY_POA_NAME",
]

#: the regressor's name in feature columns and run settings
CLEAR_SKY_NAME = "clear-sky-ghi"
#: the plane-of-array regressor's name (``clear_sky_history`` with a tilt and azimuth)
CLEAR_SKY_POA_NAME = "clear-sky-poa"


def _site(latitude: float, longitude: float, altitude_m: float | None) -> object:
    from pvlib.location import Location, lookup_altitude

    if altitude_m is None:
        altitude_m = float(lookup_altitude(latitude, longitude))
    return Location(latitude, longitude, tz="UTC", altitude=altitude_m)


def _index(times_utc: pl.Series) -> object:
    import pandas as pd

    return pd.DatetimeIndex(times_utc.cast(UTC_DT).to_numpy()).tz_localize("UTC")


def clear_sky_ghi(
    times_utc: pl.Series, latitude: float, longitude: float, altitude_m: float | None = None
) -> np.ndarray:
    """Ineichen–Perez clear-sky GHI at the given times.

    Parameters
    ----------
    times_utc : polars.Series
        Instants (tz-aware or UTC).
    latitude, longitude : float
        Site location in degrees (north and east positive).
    altitude_m : float, optional
        Site altitude in m above sea level; by default pvlib's lookup from its elevation map.

    Returns
    -------
    numpy.ndarray
        GHI in W/m² (0 with the sun below the horizon).
    """
    site = _site(latitude, longitude, altitude_m)
    with warnings.catch_warnings():  # pvlib 0.16 uses pandas attributes pandas 3 deprecates
        warnings.simplefilter("ignore")
        cs = site.get_clearsky(_index(times_utc), model="ineichen")  # type: ignore[attr-defined]
    return np.nan_to_num(cs["ghi"].to_numpy(dtype=float), nan=0.0)


def clear_sky_poa(
    times_utc: pl.Series,
    latitude: float,
    longitude: float,
    surface_tilt: float,
    surface_azimuth: float,
    altitude_m: float | None = None,
) -> np.ndarray:
    """Ineichen–Perez clear-sky irradiance on a tilted plane (isotropic sky diffuse).

    Parameters
    ----------
    times_utc : polars.Series
        Instants (tz-aware or UTC).
    latitude, longitude : float
        Site location in degrees (north and east positive).
    surface_tilt : float
        The array's tilt from horizontal, degrees (0 flat, 90 vertical).
    surface_azimuth : float
        The direction the array faces, degrees east of north (180 south).
    altitude_m : float, optional
        Site altitude in m above sea level; by default pvlib's lookup from its elevation map.

    Returns
    -------
    numpy.ndarray
        Plane-of-array global irradiance in W/m² (0 with the sun below the horizon).
    """
    from pvlib.irradiance import get_total_irradiance

    site = _site(latitude, longitude, altitude_m)
    idx = _index(times_utc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = site.get_clearsky(idx, model="ineichen")  # type: ignore[attr-defined]
        sun = site.get_solarposition(idx)  # type: ignore[attr-defined]
        poa = get_total_irradiance(
            surface_tilt,
            surface_azimuth,
            sun["apparent_zenith"],
            sun["azimuth"],
            cs["dni"],
            cs["ghi"],
            cs["dhi"],
        )["poa_global"]
    return np.nan_to_num(poa.to_numpy(dtype=float), nan=0.0)


def clear_sky_history(
    event_starts: pl.Series,
    resolution: timedelta,
    latitude: float,
    longitude: float,
    timezone: str = "UTC",
    altitude_m: float | None = None,
    surface_tilt: float | None = None,
    surface_azimuth: float | None = None,
) -> SeriesHistory:
    """Clear-sky GHI per event (W/m², evaluated at mid-event) as a regressor known a year ahead;
    with ``surface_tilt`` and ``surface_azimuth`` (degrees) the irradiance on that plane instead
    (named :data:`CLEAR_SKY_POA_NAME`).

    Parameters
    ----------
    event_starts : polars.Series
        Event starts (UTC).
    resolution : timedelta
        Event duration; the value is taken at ``start + resolution / 2``.
    latitude, longitude : float
        Site location in degrees (north and east positive).
    timezone : str
        Time zone of the history (for calendar features).
    altitude_m : float, optional
        Site altitude in m (default: pvlib's lookup).

    Returns
    -------
    SeriesHistory
        One belief per event, believed 365 days before the event.
    """
    mid = event_starts.cast(UTC_DT) + resolution / 2
    if surface_tilt is None or surface_azimuth is None:
        values, name = clear_sky_ghi(mid, latitude, longitude, altitude_m), CLEAR_SKY_NAME
    else:
        values = clear_sky_poa(mid, latitude, longitude, surface_tilt, surface_azimuth, altitude_m)
        name = CLEAR_SKY_POA_NAME
    return SeriesHistory.from_values(
        event_starts,
        values,
        resolution=resolution,
        knowledge_horizon=KnowledgeHorizon(kind="ex_ante", offset=timedelta(days=365)),
        timezone=timezone,
        unit="W/m²",
        name=name,
    )
