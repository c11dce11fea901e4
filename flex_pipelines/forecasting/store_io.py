"""Forecasting against a belief store: read histories, save forecasts, keep accuracy tables.

- :func:`history_from_store` reads a sensor's beliefs (all belief times, so every viewpoint can
  be cut as of its own time) into a :class:`SeriesHistory`; the target excludes forecaster and
  scheduler sources (a forecast must not learn from forecasts), a regressor keeps them (a weather
  forecast is a forecaster's belief).
- :func:`forecast_sensor` runs the cycles and saves the forecasts as beliefs of a forecaster
  source (name ``flexpipe <model>``, model and version set).
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
from flex_pipelines.forecasting.cycles import CycleConfig, forecast_cycles
from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.history import SeriesHistory
from flex_pipelines.forecasting.metrics import accuracy_table
from flex_pipelines.forecasting.models.base import get_model

__all__ = [
    "ForecastRun",
    "history_from_store",
    "forecast_sensor",
    "score_forecasts",
    "stored_accuracy",
]

NON_MEASURED = ("forecaster", "scheduler")
ACCURACY_COLUMNS = ["horizon", "n", "mae", "rmse", "smape", "pinball", "coverage"]
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


def forecast_sensor(
    store: BeliefStore,
    sensor_id: int,
    start: datetime,
    end: datetime,
    config: CycleConfig,
    *,
    model: str = "hgb",
    regressor_ids: Sequence[int] = (),
    progress: Callable[[int, int], None] | None = None,
) -> ForecastRun:
    """Forecast a sensor from every viewpoint in [start, end) and save the forecasts."""
    template = get_model(model, **config.model_params)
    spec = template.feature_spec(config.holiday_country)
    reach = config.train_period + spec.lookback(config.max_horizon) + timedelta(days=2)
    hist_start = start - reach
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
    source = store.get_or_create_source(
        f"flexpipe {model}", type="forecaster", model=model, version=template.version
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
    )
    saved = store.save_beliefs(fc, overwrite=True)
    n_vp = fc["belief_time"].n_unique() if fc.height else 0
    return ForecastRun(sensor_id, source.id, model, n_vp, fc.height, saved.n_new, fc)


def score_forecasts(
    store: BeliefStore,
    sensor_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    source_ids: Sequence[int] | None = None,
    bucket_hours: float = 1.0,
) -> pl.DataFrame:
    """Accuracy of the stored forecasts of a sensor, per forecaster source and lead-time bucket.

    Actuals are the latest non-forecast belief per event. The table is saved in
    ``forecast_accuracy`` (replacing earlier rows of the same sensor and source) and returned
    with columns ``source_id``, ``model``, ``horizon``, ``n``, ``mae``, ``rmse``, ``smape``,
    ``pinball``, ``coverage``.
    """
    fc = store.search_beliefs(
        sensor_id, start, end, source_ids=source_ids, source_types=["forecaster"]
    )
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
    return result


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
                    sensor_id, row["source_id"], row["model"], start, end, now, row["horizon"],
                    row["n"], row["mae"], row["rmse"], row["smape"], row["pinball"],
                    row["coverage"],
                ],
            )  # fmt: skip


def stored_accuracy(store: BeliefStore, sensor_id: int) -> pl.DataFrame:
    """The accuracy rows last saved for a sensor (empty if it was never scored)."""
    with store.transaction():
        store.execute(_DDL)
    return store.query(
        "SELECT source_id, model, horizon, n, mae, rmse, smape, pinball, coverage, computed_at"
        " FROM forecast_accuracy WHERE sensor_id = ? ORDER BY source_id, horizon",
        [sensor_id],
    )
