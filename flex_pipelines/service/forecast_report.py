"""Forecast a sensor and run a report: the use cases behind the API's forecast and report
triggers, the CLI's and the pipeline's forecasting and reporting steps.

Both check access first (:func:`prepare_forecast`, :func:`prepare_report`, also called by the
API at trigger time): the sensor a run saves on needs write access, every sensor it reads (the
forecast's regressors, every ``{"sensor": id}`` in a reporter config, SQL reporter inputs
included) read access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.references import (
    SensorReference,
    canonical_ids,
    json_references,
    sensor_id_of,
)
from flex_pipelines.service.access import Caller, authorize
from flex_pipelines.service.records import RunWarning
from flex_pipelines.sites import AssetTree

__all__ = [
    "ForecastRecord",
    "ForecastSettings",
    "forecast",
    "forecast_settings",
    "prepare_forecast",
    "prepare_report",
    "report",
]

#: the model of a forecast whose request and sensor config name none
DEFAULT_MODEL = "ridge"


@dataclass
class ForecastRecord:
    """What forecasting one sensor over a window of viewpoints did."""

    sensor_id: int
    source_id: int
    model: str
    start: datetime  # first forecast event
    end: datetime  # end of the last forecast event
    n_viewpoints: int
    n_new: int
    regressor_ids: list[int] = field(default_factory=list)
    warnings: list[RunWarning] = field(default_factory=list)
    #: the run's forecaster source: model, inputs and a hash of its settings
    source_name: str = ""
    clear_sky: bool = False


@dataclass(frozen=True)
class ForecastSettings:
    """A forecast's model and inputs, from the request and else the sensor's forecast config."""

    model: str
    model_params: dict[str, object]
    clear_sky: bool
    #: "fit" or (tilt, azimuth) in degrees: the clear-sky input on the array's plane
    clear_sky_plane: str | tuple[float, float] | None
    label: str | None


def forecast_settings(
    store: BeliefStore,
    sensor_id: int,
    *,
    model: str | None = None,
    model_params: object = None,
    clear_sky: bool | None = None,
    clear_sky_plane: object = None,
    label: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> ForecastSettings:
    """Resolve and check a forecast's model, ``model-params``, ``clear-sky``,
    ``clear-sky-plane`` and ``label``: what every door (API trigger and job, pipeline) forecasts
    with.

    Each one not given comes from the sensor's ``attributes["forecast"]`` (same keys), the model
    then defaulting to :data:`DEFAULT_MODEL`. The config's ``model-params`` belong to the
    config's model: a request naming another model without parameters uses none. Parameters
    and plane are checked by :mod:`~flex_pipelines.forecasting.options` (the CLI's parser too),
    so a bad one raises the same
    :class:`~flex_pipelines.forecasting.options.ForecastOptionError` message at every door; an
    unknown model raises :class:`~flex_pipelines.forecasting.errors.UnknownModelError`. A plane
    implies ``clear_sky``. ``config`` checks a forecast config before it is stored (instead of
    the sensor's stored one).
    """
    from flex_pipelines.forecasting.options import parse_clear_sky_plane, parse_model_params

    attrs = store.get_sensor(sensor_id).attributes.get("forecast") if config is None else config
    attrs = attrs or {}
    if not isinstance(attrs, Mapping):
        attrs = {}
    name = str(model or attrs.get("model") or DEFAULT_MODEL)
    if model_params is None and name == str(attrs.get("model") or DEFAULT_MODEL):
        model_params = attrs.get("model-params")
    params = parse_model_params(name, model_params)
    plane = parse_clear_sky_plane(
        attrs.get("clear-sky-plane") if clear_sky_plane is None else clear_sky_plane
    )
    with_clear_sky = bool(attrs.get("clear-sky", False) if clear_sky is None else clear_sky)
    return ForecastSettings(
        name,
        params,
        with_clear_sky or plane is not None,
        plane,
        label or attrs.get("label"),
    )


def forecast_regressors(
    store: BeliefStore, sensor_id: int, given: Sequence[int] | None
) -> list[int]:
    """The regressors a forecast uses: the request's, else the sensor's forecast config's."""
    if given:
        return [sensor_id_of(r, f"config.regressors[{i}]") for i, r in enumerate(given)]
    attrs = store.get_sensor(sensor_id).attributes.get("forecast") or {}
    stored = attrs.get("regressors") or []
    return [sensor_id_of(r, f"forecast regressors[{i}]") for i, r in enumerate(stored)]


def prepare_forecast(
    caller: Caller, store: BeliefStore, sensor_id: int, regressor_ids: Sequence[int] | None = None
) -> list[int]:
    """Check the caller may write forecasts on the sensor and read each regressor (the
    request's, else the stored config's); returns the regressors."""
    regs = forecast_regressors(store, sensor_id, regressor_ids)
    where = "config.regressors" if regressor_ids else "the sensor's forecast regressors"
    authorize(caller, store, _forecast_references(sensor_id, regs, where))
    return regs


def _forecast_references(
    sensor_id: int | None, regressor_ids: Sequence[int], where: str
) -> list[SensorReference]:
    """Write the forecast sensor (None: one still to be created), read each regressor."""
    refs = [] if sensor_id is None else [SensorReference("sensor", sensor_id, "write")]
    return refs + [SensorReference(f"{where}[{i}]", r, "read") for i, r in enumerate(regressor_ids)]


def check_forecast_config(
    caller: Caller, store: BeliefStore, sensor_id: int | None, attributes: Mapping[str, Any]
) -> None:
    """Check a sensor's forecast config (``attributes["forecast"]``) before it is stored.

    The model, ``model-params`` and ``clear-sky-plane`` are read as every door reads them
    (:func:`forecast_settings`), and each regressor must exist and be readable by the caller;
    with a ``sensor_id`` (a change) the caller must also be allowed to write that sensor's
    forecasts. ``sensor_id`` is None for a sensor still to be created. Raises
    :class:`~flex_pipelines.errors.FlexPipelinesError` naming the field and value.
    """
    cfg = attributes.get("forecast")
    if cfg is None:
        return
    if not isinstance(cfg, Mapping):
        raise FlexPipelinesError(f"attributes.forecast {cfg!r} is not an object")
    forecast_settings(store, sensor_id or 0, config=cfg)
    regs = cfg.get("regressors") or []
    if not isinstance(regs, Sequence) or isinstance(regs, str):
        raise FlexPipelinesError(f"attributes.forecast.regressors {regs!r} is not a list")
    where = "attributes.forecast.regressors"
    ids = [sensor_id_of(r, f"{where}[{i}]") for i, r in enumerate(regs)]
    # the new config's regressors only, never the stored one's
    authorize(caller, store, _forecast_references(sensor_id, ids, where))


def forecast(
    caller: Caller,
    store: BeliefStore,
    sensor_id: int,
    start: datetime,
    end: datetime,
    *,
    model: str | None = None,
    regressor_ids: Sequence[int] | None = None,
    max_horizon: timedelta | None = None,
    frequency: timedelta | None = None,
    train_period: timedelta | None = None,
    quantiles: Sequence[float] | None = None,
    clear_sky: bool | None = None,
    label: str | None = None,
    model_params: Mapping[str, object] | None = None,
    clear_sky_plane: object = None,
) -> ForecastRecord:
    """Forecast a sensor from every viewpoint in [start, end) and save the forecasts.

    Settings not given come from the sensor's ``attributes["forecast"]`` (model, model-params,
    regressors, max-horizon, train-period, quantiles, clear-sky, clear-sky-plane, label), then
    the forecasting library's defaults; model, parameters and clear sky as
    :func:`forecast_settings` resolves and checks them (``clear_sky_plane``: ``"fit"``,
    ``"TILT,AZIMUTH"`` or a pair of numbers). History is read as known at each viewpoint
    (:func:`~flex_pipelines.forecasting.store_io.forecast_sensor`, the pipeline's integration
    too); the forecasts are saved under the source of the run's settings, so a run with other
    settings does not replace them.
    """
    from flex_pipelines.forecasting.cycles import CycleConfig
    from flex_pipelines.forecasting.store_io import forecast_sensor
    from flex_pipelines.time import parse_timedelta

    sensor = store.get_sensor(sensor_id)
    attrs = dict(sensor.attributes.get("forecast") or {})
    regs = [
        int(r)
        for r in (regressor_ids if regressor_ids is not None else attrs.get("regressors") or [])
    ]
    prepare_forecast(caller, store, sensor_id, regs)
    chosen = forecast_settings(
        store,
        sensor_id,
        model=model,
        model_params=model_params,
        clear_sky=clear_sky,
        clear_sky_plane=clear_sky_plane,
        label=label,
    )
    cfg = CycleConfig(
        max_horizon=max_horizon or parse_timedelta(attrs.get("max-horizon") or "PT48H"),
        frequency=frequency or timedelta(days=1),
        train_period=train_period or parse_timedelta(attrs.get("train-period") or "P30D"),
        quantiles=tuple(quantiles or attrs.get("quantiles") or (0.5,)),
        model_params=chosen.model_params,
    )
    run = forecast_sensor(
        store,
        sensor_id,
        start,
        end,
        cfg,
        model=chosen.model,
        regressor_ids=regs,
        clear_sky=chosen.clear_sky,
        clear_sky_plane=chosen.clear_sky_plane,
        label=chosen.label,
    )
    frame = run.forecasts
    first = frame["event_start"].min() if frame.height else start
    last = frame["event_start"].max() if frame.height else start
    return ForecastRecord(
        sensor_id,
        run.source_id,
        run.model,
        first,
        last + sensor.event_resolution,  # type: ignore[arg-type,operator]
        run.n_viewpoints,
        run.n_new,
        regs,
        source_name=run.source_name,
        clear_sky=chosen.clear_sky,
    )


def report_references(
    config: Mapping[str, Any], output_sensor_id: int | None
) -> list[SensorReference]:
    """Every sensor a reporter config reads (any ``{"sensor": id}`` in it) and its output."""
    refs = list(json_references(dict(config), "config"))
    if output_sensor_id is not None:
        refs.append(SensorReference("output", int(output_sensor_id), "write"))
    return refs


def prepare_report(
    caller: Caller,
    store: BeliefStore,
    config: Mapping[str, Any],
    output_sensor_id: int | None,
    asset_id: int | None = None,
) -> None:
    """Check the caller may read every input of a report and write its output; a report on
    ``asset_id`` must write to a sensor of that asset or of an asset below it."""
    if asset_id is not None and output_sensor_id is not None:
        sensor = store.get_sensor(output_sensor_id)
        if not AssetTree.load(store).is_below(sensor.asset_id or 0, asset_id):
            raise FlexPipelinesError(
                f"output sensor {output_sensor_id} is not a sensor of asset {asset_id} or of an "
                "asset below it"
            )
    authorize(caller, store, report_references(config, output_sensor_id))


def report(
    caller: Caller,
    store: BeliefStore,
    reporter: str,
    config: Mapping[str, Any],
    start: datetime,
    end: datetime,
    *,
    output_sensor_id: int | None = None,
    as_of: datetime | None = None,
) -> Any:
    """Run one reporter over [start, end) (saving on ``output_sensor_id`` when given).

    Returns the reporter's :class:`~flex_pipelines.reporting.base.ReportResult`; its notes are
    the run's warnings.
    """
    from flex_pipelines.reporting.run import run_report

    prepare_report(caller, store, config, output_sensor_id)
    config = canonical_ids(dict(config), "config")  # exactly the ids the check saw
    return run_report(
        store, reporter, config, start, end, output_sensor_id=output_sensor_id, as_of=as_of
    )
