"""Forecasting against a belief store: read histories, save forecasts, keep accuracy tables.

- :func:`history_from_store` reads a sensor's beliefs (all belief times, so every viewpoint can
  be cut as of its own time) into a :class:`SeriesHistory`; the target excludes forecaster and
  scheduler sources (a forecast must not learn from forecasts), a regressor keeps them (a weather
  forecast is a forecaster's belief).
- :func:`forecast_sensor` runs the cycles and saves the forecasts as beliefs of the forecaster
  source of the run's settings (:mod:`~flex_pipelines.forecasting.runs`: a readable name plus a
  hash of model, parameters and inputs, so runs with other settings do not replace each other).
  It is the one store integration of forecasting (the service, the CLI and the pipeline call it).
- :func:`score_forecasts` compares stored forecasts with the latest measured values and keeps the
  accuracy table in the table ``forecast_accuracy`` (created on first use; one row per sensor,
  source and lead-time bucket, replaced on every scoring).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.forecasting.clearsky import clear_sky_history
from flex_pipelines.forecasting.cycles import CycleConfig, forecast_cycles
from flex_pipelines.forecasting.errors import ForecastingError, MissingRegressorError
from flex_pipelines.forecasting.history import SeriesHistory
from flex_pipelines.forecasting.metrics import accuracy_table
from flex_pipelines.forecasting.models.base import get_model
from flex_pipelines.forecasting.options import (
    Plane,
    parse_clear_sky_plane,
    parse_model_params,
    plane_setting,
)
from flex_pipelines.forecasting.orientation import fit_orientation
from flex_pipelines.forecasting.runs import RunSettings, run_descriptions, run_source

__all__ = [
    "ForecastRun",
    "history_from_store",
    "forecast_sensor",
    "score_forecasts",
    "stored_accuracy",
]

NON_MEASURED = ("forecaster", "scheduler")
ACCURACY_COLUMNS = ["horizon", "n", "mae", "rmse", "smape", "pinball", "coverage"]
DESCRIPTION_COLUMNS = ["source", "inputs"]
_DDL = (
    "CREATE TABLE IF NOT EXISTS forecast_accuracy ("
    " sensor_id BIGINT NOT NULL, source_id BIGINT NOT NULL, model TEXT,"
    " window_start TIMESTAMPTZ, window_end TIMESTAMPTZ, computed_at TIMESTAMPTZ,"
    " horizon TEXT NOT NULL, n BIGINT, mae DOUBLE PRECISION, rmse DOUBLE PRECISION,"
    " smape DOUBLE PRECISION, pinball DOUBLE PRECISION, coverage DOUBLE PRECISION)"
)


def history_from_store(
    store: BeliefStore,
    sensor_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    as_of: datetime | None = None,
    measured_only: bool = True,
) -> SeriesHistory:
    """A sensor's beliefs about events in [start, end) known by ``as_of``, as a history."""
    sensor = store.get_sensor(sensor_id)
    frame = store.search_beliefs(
        sensor_id,
        start,
        end,
        as_of=as_of,
        exclude_source_types=list(NON_MEASURED) if measured_only else None,
    )
    return SeriesHistory(
        frame.select("event_start", "belief_time", "event_value", "cumulative_probability"),
        resolution=sensor.event_resolution,
        timezone=sensor.timezone,
        unit=sensor.unit,
        name=sensor.name,
    )


@dataclass
class ForecastRun:
    """What :func:`forecast_sensor` did."""

    sensor_id: int
    source_id: int
    model: str
    n_viewpoints: int
    n_beliefs: int
    n_new: int
    forecasts: pl.DataFrame
    source_name: str = ""
    settings: RunSettings | None = None


#: how much past power ``clear_sky_plane="fit"`` fits the array's plane on
PLANE_FIT_PERIOD = timedelta(days=365)


def site_location(store: BeliefStore, sensor_id: int) -> tuple[float, float]:
    """(latitude, longitude) of the sensor's asset or its nearest ancestor that has one."""
    sensor = store.get_sensor(sensor_id)
    asset_id = sensor.asset_id
    while asset_id is not None:
        asset = store.get_asset(asset_id)
        if asset.latitude is not None and asset.longitude is not None:
            return float(asset.latitude), float(asset.longitude)
        asset_id = asset.parent_id
    raise MissingRegressorError(
        f"sensor {sensor_id} ({sensor.name!r}): the clear-sky regressor needs a location, but "
        "neither its asset nor any ancestor asset has a latitude and longitude"
    )


def forecast_sensor(
    store: BeliefStore,
    sensor_id: int,
    start: datetime,
    end: datetime,
    config: CycleConfig,
    *,
    model: str = "hgb",
    regressor_ids: Sequence[int] = (),
    clear_sky: bool = False,
    clear_sky_plane: Plane | None = None,
    label: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastRun:
    """Forecast a sensor from every viewpoint in [start, end) and save the forecasts.

    Parameters
    ----------
    store : BeliefStore
        Where the target, the regressors and the forecasts are.
    sensor_id : int
        The sensor to forecast (its measured beliefs are the history; forecasts are not).
    start, end : datetime
        Viewpoints ``start + k * frequency`` before ``end``.
    config : CycleConfig
        Horizons or local days, training window, retraining, quantiles, calibration.
    model : str
        A registered model name.
    regressor_ids : sequence of int
        Regressor sensors, each read with all its beliefs (forecasters' included) and used as
        known at each sample's viewpoint.
    clear_sky : bool
        Add the built-in clear-sky GHI (W/m²) of the sensor's site location as a regressor.
    clear_sky_plane : "fit" or (tilt, azimuth), optional
        Instead of the GHI, the clear-sky irradiance on the array's plane (degrees; azimuth east
        of north): given, or ``"fit"``: fitted from the sensor's power of the
        :data:`PLANE_FIT_PERIOD` before ``start`` as known at ``start``
        (:func:`~flex_pipelines.forecasting.orientation.fit_orientation`). Implies ``clear_sky``.
        It and ``config.model_params`` are checked by :mod:`~flex_pipelines.forecasting.options`
        (every door's parser) before any work.
    label : str, optional
        Names the run's source (``<label> [<hash>]``) instead of the model and inputs.
    progress : callable, optional
        ``progress(done, total)`` after each cycle.

    Returns
    -------
    ForecastRun
        The source, counts and the forecast belief frame (values in the sensor's unit).
    """
    parsed_plane = parse_clear_sky_plane(clear_sky_plane)
    template = get_model(model, **parse_model_params(model, config.model_params))
    spec = template.feature_spec(config.holiday_country)
    reach = config.train_period + spec.lookback(config.max_horizon) + timedelta(days=2)
    if config.calibration == "conformal":
        reach += config.calibration_window
    try:
        hist_start = start - reach
    except OverflowError:
        raise ForecastingError(f"model {model!r} would read history from before year 1") from None
    last_vp = end
    target = history_from_store(
        store, sensor_id, hist_start, end + config.max_horizon, as_of=last_vp
    )
    regs = []
    for rid in regressor_ids:
        reg = history_from_store(
            store, rid, hist_start, end + config.max_horizon, as_of=last_vp, measured_only=False
        )
        if reg.frame.height == 0:
            raise ForecastingError(
                f"regressor sensor {rid} ({reg.name!r}) has no beliefs between "
                f"{hist_start.isoformat()} and {(end + config.max_horizon).isoformat()}"
            )
        regs.append(reg)
    clear_sky = clear_sky or parsed_plane is not None
    if clear_sky:
        lat, lon = site_location(store, sensor_id)
        res = target.resolution
        starts = pl.datetime_range(
            hist_start.astimezone(UTC), end + config.max_horizon, res, closed="left", eager=True
        ).dt.cast_time_unit("us")
        plane: tuple[float | None, float | None] = (None, None)
        if parsed_plane == "fit":
            year = history_from_store(
                store, sensor_id, start - PLANE_FIT_PERIOD, start, as_of=start
            )
            fitted = fit_orientation(year, lat, lon, as_of=start)
            plane = (fitted.tilt_deg, fitted.azimuth_deg)
        elif isinstance(parsed_plane, tuple):
            plane = parsed_plane
        regs.append(
            clear_sky_history(
                starts,
                res,
                lat,
                lon,
                target.timezone,
                surface_tilt=plane[0],
                surface_azimuth=plane[1],
            )
        )
    settings = RunSettings(
        model,
        template.version,
        config,
        tuple(int(r) for r in regressor_ids),
        clear_sky,
        plane_setting(parsed_plane),
    )
    source = run_source(store, sensor_id, settings, label)
    past = None
    if config.calibration == "conformal":
        past = store.search_beliefs(
            sensor_id, start - config.calibration_window, end, source_ids=[source.id]
        )
    fc = forecast_cycles(
        model,
        target,
        start,
        end,
        config,
        regressors=regs,
        sensor_id=sensor_id,
        source_id=source.id,
        progress=progress,
        past_forecasts=past,
    )
    # a forecaster's beliefs are read per horizon: every belief is kept (conventions.md)
    saved = store.save_beliefs(fc, overwrite=True, changed_only=False)
    n_vp = fc["belief_time"].n_unique() if fc.height else 0
    return ForecastRun(
        sensor_id, source.id, model, n_vp, fc.height, saved.n_new, fc, source.name, settings
    )


def score_forecasts(
    store: BeliefStore,
    sensor_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    source_ids: Sequence[int] | None = None,
    bucket_hours: float = 1.0,
    made_from: datetime | None = None,
    made_before: datetime | None = None,
) -> pl.DataFrame:
    """Accuracy of the stored forecasts of a sensor, per forecaster source and lead-time bucket.

    Parameters
    ----------
    store : BeliefStore
        The belief store.
    sensor_id : int
        The forecast sensor.
    start, end : datetime, optional
        Events in [start, end).
    source_ids : sequence of int, optional
        Only these forecaster sources (default: all).
    bucket_hours : float
        Width of the lead-time buckets in hours.
    made_from, made_before : datetime, optional
        Only forecasts whose belief time (viewpoint) is in [made_from, made_before).

    Returns
    -------
    polars.DataFrame
        ``source_id``, ``source`` (its name: model, inputs and settings hash), ``inputs``
        (the regressors the run used), ``model``, ``horizon``, ``n``, ``mae``, ``rmse``,
        ``smape`` (%), ``pinball``, ``coverage`` (share); errors in the sensor's unit. Actuals
        are the latest non-forecast belief per event. Saved in ``forecast_accuracy``
        (replacing earlier rows of the same sensor and source).
    """
    fc = store.search_beliefs(
        sensor_id, start, end, source_ids=source_ids, source_types=["forecaster"]
    )
    made = pl.col("belief_time").dt.convert_time_zone("UTC")
    if made_from is not None:
        fc = fc.filter(made >= made_from.astimezone(UTC))
    if made_before is not None:
        fc = fc.filter(made < made_before.astimezone(UTC))
    actuals = store.search_beliefs(
        sensor_id, start, end, exclude_source_types=list(NON_MEASURED), one_per_event=True
    ).select("event_start", "event_value")
    if fc.height == 0:
        raise ForecastingError(
            f"sensor {sensor_id} has no stored forecasts"
            + (f" between {start.isoformat()} and {end.isoformat()}" if start and end else "")
        )
    if actuals.height == 0:
        raise ForecastingError(
            f"sensor {sensor_id} has no measured values to score its forecasts against"
        )
    tables = []
    for sid in sorted(fc["source_id"].unique().to_list()):
        src = store.get_source(int(sid))
        sub = fc.filter(pl.col("source_id") == sid)
        table = accuracy_table(sub, actuals, bucket_hours)
        if table.height == 0:
            continue
        for col in ACCURACY_COLUMNS:
            if col not in table.columns:
                table = table.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
        tables.append(
            table.select(ACCURACY_COLUMNS).with_columns(
                pl.lit(int(sid)).alias("source_id"), pl.lit(src.model or src.name).alias("model")
            )
        )
    if not tables:
        raise ForecastingError(
            f"sensor {sensor_id}: no stored forecast overlaps a measured value yet"
        )
    result = pl.concat(tables).select(["source_id", "model", *ACCURACY_COLUMNS])
    _save_accuracy(store, sensor_id, result, start, end)
    described = result.join(
        run_descriptions(store, result["source_id"].unique().to_list()),
        on="source_id",
        how="left",
        maintain_order="left",
    )
    return described.select(["source_id", *DESCRIPTION_COLUMNS, "model", *ACCURACY_COLUMNS])


def _save_accuracy(
    store: BeliefStore,
    sensor_id: int,
    table: pl.DataFrame,
    start: datetime | None,
    end: datetime | None,
) -> None:
    now = datetime.now(UTC)
    with store.transaction():
        store.execute(_DDL)
        for sid in table["source_id"].unique().to_list():
            store.execute(
                "DELETE FROM forecast_accuracy WHERE sensor_id = ? AND source_id = ?",
                [sensor_id, int(sid)],
            )
        for row in table.iter_rows(named=True):
            store.execute(
                "INSERT INTO forecast_accuracy (sensor_id, source_id, model, window_start,"
                " window_end, computed_at, horizon, n, mae, rmse, smape, pinball, coverage)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sensor_id,
                    row["source_id"],
                    row["model"],
                    start,
                    end,
                    now,
                    row["horizon"],
                    row["n"],
                    row["mae"],
                    row["rmse"],
                    row["smape"],
                    row["pinball"],
                    row["coverage"],
                ],
            )


def stored_accuracy(store: BeliefStore, sensor_id: int) -> pl.DataFrame:
    """The accuracy rows last saved for a sensor (empty if it was never scored), with each
    source's name and inputs."""
    with store.transaction():
        store.execute(_DDL)
    rows = store.query(
        "SELECT source_id, model, horizon, n, mae, rmse, smape, pinball, coverage, computed_at"
        " FROM forecast_accuracy WHERE sensor_id = ? ORDER BY source_id, horizon",
        [sensor_id],
    )
    if rows.height == 0:
        return rows
    desc = run_descriptions(store, rows["source_id"].unique().to_list())
    cols = ["source_id", *DESCRIPTION_COLUMNS, *[c for c in rows.columns if c != "source_id"]]
    return rows.join(desc, on="source_id", how="left", maintain_order="left").select(cols)
