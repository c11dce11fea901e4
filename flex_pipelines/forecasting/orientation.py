"""The tilt and azimuth of a PV array, fitted from its own past power and the clear-sky sun.

On clear days an array's power is nearly proportional to the irradiance on its own plane, so
the ratio of power to the clear-sky plane-of-array irradiance (:func:`~flex_pipelines.
forecasting.clearsky.clear_sky_poa`) has a flat upper envelope over the day for the array's
true plane and a bent one for any other. :func:`fit_orientation` tries a grid of planes and
keeps the one whose envelope (a high quantile of the ratio at each time of day, over the days
known at ``as_of``) varies least relative to its mean. Only past power known at ``as_of`` is
read: the fit can run at a viewpoint without leakage. No weather data is used.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import UTC_DT
from flex_pipelines.forecasting.clearsky import _index, _site
from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.history import SeriesHistory, known_at

__all__ = ["Orientation", "fit_orientation"]

#: below this clear-sky plane irradiance (W/m²) the ratio is too noisy to use
MIN_POA_W_M2 = 50.0


@dataclass(frozen=True)
class Orientation:
    """A fitted array plane: tilt and azimuth in degrees, and how flat its envelope was."""

    tilt_deg: float
    azimuth_deg: float
    #: coefficient of variation of the envelope over the day (lower: a better fit)
    spread: float
    n_events: int


def fit_orientation(
    power: SeriesHistory,
    latitude: float,
    longitude: float,
    as_of: datetime,
    *,
    tilts_deg: Sequence[float] = tuple(range(0, 61, 5)),
    azimuths_deg: Sequence[float] = tuple(range(60, 301, 15)),
    envelope: float = 0.9,
    altitude_m: float | None = None,
) -> Orientation:
    """Fit the plane of a PV array from the power known at ``as_of``.

    Parameters
    ----------
    power : SeriesHistory
        The array's power (any power unit; only ratios matter).
    latitude, longitude : float
        Site location in degrees (north and east positive).
    as_of : datetime
        Only power believed at or before this time is read.
    tilts_deg, azimuths_deg : sequence of float
        The planes tried: tilt from horizontal and azimuth east of north (180 south), degrees.
    envelope : float
        Quantile of the power/irradiance ratio at each time of day taken as the clear-day level.
    altitude_m : float, optional
        Site altitude in m (default: pvlib's lookup).

    Returns
    -------
    Orientation
        The plane with the flattest envelope.
    """
    from pvlib.irradiance import get_total_irradiance

    frame = known_at(power, as_of).frame.filter(pl.col("event_value").is_not_null())
    if frame.height == 0:
        raise ForecastingError(
            f"fit_orientation: no power of {power.name!r} is known at {as_of.isoformat()}"
        )
    mid = frame["event_start"].cast(UTC_DT) + power.resolution / 2
    idx = _index(mid)
    site = _site(latitude, longitude, altitude_m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = site.get_clearsky(idx, model="ineichen")  # type: ignore[attr-defined]
        sun = site.get_solarposition(idx)  # type: ignore[attr-defined]
    values = frame["event_value"].to_numpy()
    minute = mid.dt.hour().to_numpy() * 60 + mid.dt.minute().to_numpy()
    best: Orientation | None = None
    for tilt in tilts_deg:
        for azimuth in azimuths_deg:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                poa = get_total_irradiance(
                    tilt,
                    azimuth,
                    sun["apparent_zenith"],
                    sun["azimuth"],
                    cs["dni"],
                    cs["ghi"],
                    cs["dhi"],
                )["poa_global"].to_numpy(dtype=float)
            ok = np.nan_to_num(poa) > MIN_POA_W_M2
            if ok.sum() < 10:
                continue
            ratio = pl.DataFrame({"m": minute[ok], "r": values[ok] / poa[ok]})
            env = ratio.group_by("m").agg(pl.col("r").quantile(envelope)).sort("m")["r"].to_numpy()
            mean = float(np.mean(env))
            if mean <= 0:
                continue
            spread = float(np.std(env) / mean)
            if best is None or spread < best.spread:
                best = Orientation(float(tilt), float(azimuth), spread, int(ok.sum()))
    if best is None:
        raise ForecastingError(
            f"fit_orientation: too few daylight values of {power.name!r} known at "
            f"{as_of.isoformat()} to fit a plane"
        )
    return best
