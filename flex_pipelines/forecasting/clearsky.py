"""Clear-sky irradiance: a regressor that is known in advance for any place and time.

Computed with pvlib (Holmgren, Hansen & Mikofski 2018, *pvlib python: a python package for
modeling solar energy systems*, JOSS 3(29):884): solar position by the NREL SPA (Reda & Andreas
2004, *Solar position algorithm for solar radiation applications*, Solar Energy 76:577) and
clear-sky global horizontal irradiance by the Ineichen–Perez model (Ineichen & Perez 2002, *A new
airmass independent formulation for the Linke turbidity coefficient*, Solar Energy 73:151) with
pvlib's monthly Linke turbidity climatology (Remund et al. 2003) at the site's altitude. It
depends only on the place and the time, so its values are "believed" a year ahead: an honest
day-ahead input for PV forecasts without any weather forecast.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import UTC_DT, KnowledgeHorizon
from flex_pipelines.forecasting.history import SeriesHistory

__all__ = ["clear_sky_ghi", "clear_sky_history", "CLEAR_SKY_NAME"]

#: the regressor's name in feature columns and run settings
CLEAR_SKY_NAME = "clear-sky-ghi"


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
    import pandas as pd
    from pvlib.location import Location, lookup_altitude

    if altitude_m is None:
        altitude_m = float(lookup_altitude(latitude, longitude))
    idx = pd.DatetimeIndex(times_utc.cast(UTC_DT).to_numpy()).tz_localize("UTC")
    site = Location(latitude, longitude, tz="UTC", altitude=altitude_m)
    with warnings.catch_warnings():  # pvlib 0.16 uses pandas attributes pandas 3 deprecates
        warnings.simplefilter("ignore")
        cs = site.get_clearsky(idx, model="ineichen")
    return np.nan_to_num(cs["ghi"].to_numpy(dtype=float), nan=0.0)


def clear_sky_history(
    event_starts: pl.Series,
    resolution: timedelta,
    latitude: float,
    longitude: float,
    timezone: str = "UTC",
    altitude_m: float | None = None,
) -> SeriesHistory:
    """Clear-sky GHI per event (W/m², evaluated at mid-event) as a regressor known a year ahead.

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
    return SeriesHistory.from_values(
        event_starts,
        clear_sky_ghi(mid, latitude, longitude, altitude_m),
        resolution=resolution,
        knowledge_horizon=KnowledgeHorizon(kind="ex_ante", offset=timedelta(days=365)),
        timezone=timezone,
        unit="W/m²",
        name=CLEAR_SKY_NAME,
    )
