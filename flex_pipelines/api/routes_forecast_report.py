"""Forecast and report triggers and forecast results (jobs run by the API's job runner; their
status under ``/jobs/{job_id}`` in :mod:`flex_pipelines.api.routes_jobs`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from flex_pipelines.api.auth import api_state, check_read_sensor, check_write_sensor_data
from flex_pipelines.api.errors import ApiError, bad_request, forbidden
from flex_pipelines.api.models import ForecastConfig, ForecastTrigger, Id, ReportTrigger
from flex_pipelines.api.routes_jobs import (
    Auth,
    JobId,
    _accepted,
    _check_asset_data,
    _job_for,
    _result_values,
)
from flex_pipelines.api.runners import report_request
from flex_pipelines.api.sensor_data import aware, timedelta_field, window
from flex_pipelines.service import AccessDenied
from flex_pipelines.service.forecast_report import (
    forecast_settings,
    prepare_forecast,
    prepare_report,
)
from flex_pipelines.time import format_duration

router = APIRouter(prefix="/api/v3_0")


@router.post(
    "/sensors/{sensor_id}/forecasts/trigger",
    tags=["forecasts"],
    status_code=202,
    summary="Trigger forecasts for a sensor",
)
def trigger_forecast(
    request: Request, p: Auth, sensor_id: Id, body: ForecastTrigger
) -> JSONResponse:
    state = api_state(request)
    given = [x for x in (body.start, body.end, body.duration) if x]
    if len(given) < 2:
        raise bad_request("give two of 'start', 'end' and 'duration'")
    if body.start and body.end:
        start, end = aware("start", body.start), aware("end", body.end)
    elif body.start:
        start, end = window(body.start, body.duration)  # type: ignore[arg-type]
    else:
        end = aware("end", body.end)  # type: ignore[arg-type]
        start = end - timedelta_field("duration", body.duration)  # type: ignore[arg-type]
    if end <= start:
        raise bad_request("forecast window end is not after its start", "INVALID_PERIOD")
    for f in ("max_forecast_horizon", "forecast_frequency"):
        if getattr(body, f) and timedelta_field(f.replace("_", "-"), getattr(body, f)) <= timedelta(
            0
        ):
            raise bad_request(f"field {f.replace('_', '-')!r} must be positive")
    req = body.model_dump(by_alias=True, exclude_none=True)
    req.update(start=start.isoformat(), end=end.isoformat(), duration=format_duration(end - start))
    with state.db() as store:
        sensor = store.get_sensor(sensor_id)
        check_write_sensor_data(p, store, sensor)
        if sensor.event_resolution <= timedelta(0):
            raise bad_request(f"sensor {sensor.id} records instants; forecasts need a resolution")
        regressors = (body.config.regressors if body.config else None) or []
        for rid in regressors:
            if not isinstance(rid, int) or not 1 <= rid <= 2**53:
                raise bad_request(f"config regressors: {rid!r} is not a sensor id")
        from flex_pipelines.forecasting.errors import ForecastingError, MissingRegressorError
        from flex_pipelines.forecasting.store_io import site_location

        cfg = body.config or ForecastConfig()
        try:  # model, model-params and plane refused now (400), not when the job runs
            chosen = forecast_settings(
                store,
                sensor.id,
                model=cfg.model,
                model_params=cfg.model_params,
                clear_sky=cfg.clear_sky,
                clear_sky_plane=cfg.clear_sky_plane,
                label=cfg.label,
            )
            if chosen.clear_sky:
                site_location(store, sensor.id)
        except MissingRegressorError as exc:
            raise bad_request(f"config clear-sky: {exc}") from exc
        except ForecastingError as exc:  # the same message as the CLI's and the pipeline's
            raise bad_request(str(exc)) from exc
        try:
            prepare_forecast(p.caller, store, sensor.id, regressors)
        except AccessDenied as exc:
            raise forbidden(str(exc)) from exc
        account = None if sensor.asset_id is None else store.get_asset(sensor.asset_id).account_id
    assert state.jobs is not None
    job_id, dedup = state.jobs.submit("forecast", "sensor", sensor.id, account, p.user.id, req)
    return _accepted(job_id, dedup, "forecast", f"/api/v3_0/sensors/{sensor.id}/forecasts/{job_id}")


@router.get(
    "/sensors/{sensor_id}/forecasts/{job_id}",
    tags=["forecasts"],
    summary="Get forecasts (202 until the job finished)",
)
def get_forecast(request: Request, p: Auth, sensor_id: Id, job_id: JobId) -> Any:
    state = api_state(request)
    with state.db() as store:
        sensor = store.get_sensor(sensor_id)
        check_read_sensor(p, store, sensor)
    job = _job_for(request, p, job_id, "forecast")
    if job is None or job["target_id"] != sensor.id:
        raise ApiError(
            400,
            "UNRECOGNIZED_UDI_EVENT",
            f"The requested UDI event (id = {job_id}, type = job) is not known.",
        )
    if job["status"] in ("QUEUED", "STARTED"):
        return JSONResponse({"status": job["status"], "message": job["message"]}, status_code=202)
    if job["status"] != "FINISHED":
        raise ApiError(400, "UNKNOWN_FORECAST", job["message"])
    with state.db() as store:
        out = _result_values(store, sensor, job, None, None)
    if out is None:
        raise ApiError(
            400, "UNKNOWN_FORECAST", "The forecasting job finished but saved no forecasts."
        )
    return {**out, "status": "PROCESSED", "message": "Request has been processed."}


@router.post(
    "/assets/{asset_id}/reports/trigger",
    tags=["reports"],
    status_code=202,
    summary="Trigger a report on an asset",
)
def trigger_report(request: Request, p: Auth, asset_id: Id, body: ReportTrigger) -> JSONResponse:
    state = api_state(request)
    req = report_request(body.reporter, body.parameters, body.config or {})
    with state.db() as store:
        asset = store.get_asset(asset_id)
        _check_asset_data(p, asset)
        out = req["output_sensor_id"]
        if out is not None:
            sensor = store.get_sensor(out)
            check_write_sensor_data(p, store, sensor)
        try:
            prepare_report(p.caller, store, req["config"], out, asset_id=asset.id)
        except AccessDenied as exc:
            raise forbidden(str(exc)) from exc
    assert state.jobs is not None
    job_id, dedup = state.jobs.submit("report", "asset", asset.id, asset.account_id, p.user.id, req)
    return _accepted(job_id, dedup, "report", None)
