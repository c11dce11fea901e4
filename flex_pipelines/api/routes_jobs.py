"""Schedule triggers, their results, and job status (forecast and report triggers:
:mod:`flex_pipelines.api.routes_forecast_report`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    check_read_sensor,
    check_write_sensor_data,
    current_principal,
)
from flex_pipelines.api.errors import ApiError, bad_request, forbidden
from flex_pipelines.api.jobs import job_status_json
from flex_pipelines.api.models import Id, ScheduleTrigger
from flex_pipelines.api.sensor_data import (
    aware,
    values_in_unit,
    values_on_grid,
    window,
)
from flex_pipelines.beliefs.model import Asset, Sensor
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError, NotFoundError
from flex_pipelines.service import AccessDenied, SchedulePlan, prepare_schedule
from flex_pipelines.time import (
    MAX_SCHEDULE_STEPS,
    TimeError,
    add_duration,
    format_duration,
    n_steps,
    parse_duration,
)

router = APIRouter(prefix="/api/v3_0")
Auth = Annotated[Principal, Depends(current_principal)]
JobId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


def _accepted(
    job_id: str, deduplicated: bool, legacy: str, results_url: str | None
) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "ACCEPTED",
        "message": "Request has been accepted for processing."
        + (" An identical request was made recently; its job is returned." if deduplicated else ""),
        "job_id": job_id,
        "job": job_id,
        legacy: job_id,
        "job_monitor_url": f"/api/v3_0/jobs/{job_id}",
        "deduplicated": deduplicated,
    }
    if results_url:
        body["job_results_url"] = results_url
    return JSONResponse(body, status_code=202)


def _check_asset_data(p: Principal, asset: Asset) -> None:
    if p.is_admin:
        return
    if asset.account_id is None:
        raise forbidden(f"asset {asset.id} is public; only admins may trigger jobs on it")
    if asset.account_id != p.account_id:
        raise forbidden(
            f"asset {asset.id} belongs to another account; user {p.user.email} may not trigger jobs on it"
        )


def modern_flex_context(fc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The request's flex-context, its deprecated fields (``consumption-price-sensor`` …)
    checked by the flex-context parser's one rule for them (400 when unusable); they are read
    there again when the schedule runs, with a deprecation note in the run record."""
    from flex_pipelines.scheduling.flex_context import upgrade_flex_context
    from flex_pipelines.scheduling.grid import SchedulingError

    try:
        upgrade_flex_context(fc)
    except SchedulingError as exc:
        raise bad_request(str(exc)) from exc
    return fc


def _schedule_window(body: ScheduleTrigger, resolution: timedelta) -> dict[str, Any]:
    start, end = window(body.start, body.duration)
    if body.prior:
        aware("prior", body.prior)
    if resolution > timedelta(0):
        try:
            n = n_steps(start, end, resolution)
        except TimeError as exc:
            raise bad_request(str(exc), "INVALID_PERIOD") from exc
        if n > MAX_SCHEDULE_STEPS:
            raise bad_request(
                f"duration {body.duration} holds {n} steps of {format_duration(resolution)}; at most {MAX_SCHEDULE_STEPS}",
                "INVALID_PERIOD",
            )
    return {
        "start": start.isoformat(),
        "duration": body.duration,
        "flex_model": body.flex_model,
        "flex_context": modern_flex_context(body.flex_context),
        "prior": body.prior,
    }


@router.post(
    "/sensors/{sensor_id}/schedules/trigger",
    tags=["schedules"],
    status_code=202,
    summary="Trigger a schedule for a device's power sensor",
)
def trigger_sensor_schedule(
    request: Request, p: Auth, sensor_id: Id, body: ScheduleTrigger
) -> JSONResponse:
    state = api_state(request)
    if isinstance(body.flex_model, list):
        raise bad_request("field 'flex-model' of a sensor trigger is one object, not a list")
    force = body.force_new_job_creation or bool(
        (body.model_extra or {}).get("force_new_job_creation")
    )
    with state.db() as store:
        sensor = store.get_sensor(sensor_id)
        check_write_sensor_data(p, store, sensor)
        req = _schedule_window(body, sensor.event_resolution)
        _prepare(
            p,
            store,
            sensor_id=sensor.id,
            flex_model=body.flex_model,
            flex_context=req["flex_context"],
        )
        account = None if sensor.asset_id is None else store.get_asset(sensor.asset_id).account_id
    assert state.jobs is not None
    job_id, dedup = state.jobs.submit(
        "schedule", "sensor", sensor.id, account, p.user.id, req, force
    )
    return _accepted(job_id, dedup, "schedule", f"/api/v3_0/sensors/{sensor.id}/schedules/{job_id}")


def _prepare(p: Principal, store: BeliefStore, **request: Any) -> SchedulePlan:
    """The service's trigger-time checks: 403 for a sensor the user may not use, 400 for a
    request that names no device, sensors outside the asset or bad process fields."""
    try:
        return prepare_schedule(p.caller, store, **request)
    except AccessDenied as exc:
        raise forbidden(str(exc)) from exc
    except NotFoundError:
        raise
    except FlexPipelinesError as exc:
        raise bad_request(str(exc)) from exc


@router.post(
    "/assets/{asset_id}/schedules/trigger",
    tags=["schedules"],
    status_code=202,
    summary="Trigger schedules for the devices of a site",
)
def trigger_asset_schedule(
    request: Request, p: Auth, asset_id: Id, body: ScheduleTrigger
) -> JSONResponse:
    state = api_state(request)
    force = body.force_new_job_creation or bool(
        (body.model_extra or {}).get("force_new_job_creation")
    )
    with state.db() as store:
        asset = store.get_asset(asset_id)
        _check_asset_data(p, asset)
        fm = body.flex_model
        if isinstance(fm, dict):
            if "sensor" not in fm:
                raise bad_request(
                    "field 'flex-model' of an asset trigger is a list of device flex-models, each with a \"sensor\""
                )
            body.flex_model = fm = [fm]
        for entry in fm or []:
            sid = entry.get("sensor")
            if not isinstance(sid, int) or isinstance(sid, bool) or not 1 <= sid <= 2**53:
                raise bad_request(f'flex-model entry has no valid "sensor" id: {sid!r}')
        plan = _prepare(
            p,
            store,
            asset_id=asset.id,
            flex_model=fm,
            flex_context=modern_flex_context(body.flex_context),
        )
        resolution = min(store.get_sensor(s).event_resolution for s in plan.power_sensor_ids)
        req = _schedule_window(body, resolution)
    assert state.jobs is not None
    job_id, dedup = state.jobs.submit(
        "schedule", "asset", asset.id, asset.account_id, p.user.id, req, force
    )
    return _accepted(job_id, dedup, "schedule", None)


def _job_for(request: Request, p: Auth, job_id: str, kind: str) -> dict[str, Any] | None:
    jobs = api_state(request).jobs
    assert jobs is not None
    job = jobs.get(job_id)
    if job is None or job["kind"] != kind:
        return None
    if not p.is_admin and job["account_id"] != p.account_id:
        raise forbidden(f"job {job_id} belongs to another account")
    return job


def _unknown_schedule(message: str) -> ApiError:
    return ApiError(400, "UNKNOWN_SCHEDULE", message)


def _result_values(
    store: BeliefStore, sensor: Sensor, job: dict[str, Any], duration: str | None, unit: str | None
) -> dict[str, Any] | None:
    result = job["result"] or {}
    start = aware("start", result["start"])
    end = aware("end", result["end"])
    if duration:
        try:
            end = min(end, add_duration(start, parse_duration(duration)))
        except (TimeError, ValueError) as exc:
            raise bad_request(f"field 'duration' {duration!r}: {exc}") from exc
    step = sensor.event_resolution
    if step <= timedelta(0) or end <= start:
        return None
    as_of = aware("belief_time", result["belief_time"]) if result.get("belief_time") else None
    frame = store.search_beliefs(
        sensor.id,
        start,
        end,
        as_of=as_of,
        source_ids=result.get("source_ids") or None,
        one_per_event=True,
    )
    if frame.is_empty():
        return None
    n = n_steps(start, end, step)
    values = values_on_grid(frame, start, n, step)
    values, out_unit = values_in_unit(values, sensor, unit, step)
    return {
        "values": values,
        "start": start.isoformat(),
        "duration": format_duration(end - start),
        "unit": out_unit,
    }


@router.get(
    "/sensors/{sensor_id}/schedules/{job_id}",
    tags=["schedules"],
    summary="Get a schedule (400 with FlexMeasures' 'not ready' messages until it is)",
)
def get_schedule(
    request: Request,
    p: Auth,
    sensor_id: Id,
    job_id: JobId,
    duration: Annotated[str | None, Query(max_length=64)] = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    state = api_state(request)
    with state.db() as store:
        sensor = store.get_sensor(sensor_id)
        check_read_sensor(p, store, sensor)
    job = _job_for(request, p, job_id, "schedule")
    if job is None:
        raise ApiError(
            400,
            "UNRECOGNIZED_UDI_EVENT",
            f"The requested UDI event (id = {job_id}, type = job) is not known.",
        )
    info = (job["result"] or {}).get("scheduler", "")
    if job["status"] != "FINISHED":
        raise _unknown_schedule(f"{job['message']} {info}".strip())
    if sensor.id not in (job["result"] or {}).get("sensor_ids", []):
        raise _unknown_schedule(
            f"A scheduling job has been processed with your job ID, but it did not schedule sensor {sensor.id}."
        )
    with state.db() as store:
        out = _result_values(store, sensor, job, duration, unit)
    if out is None:
        raise _unknown_schedule(
            "A scheduling job has been processed with your job ID, but the schedule was not found in the database."
        )
    warnings = (job["result"] or {}).get("warnings") or []
    return {
        **out,
        "scheduler_info": {"scheduler": info},
        "warnings": warnings,
        "status": "PROCESSED",
        "message": "Request has been processed.",
    }


@router.get("/jobs/{job_id}", tags=["jobs"], summary="Status of a background job")
def get_job(request: Request, p: Auth, job_id: JobId) -> Any:
    jobs = api_state(request).jobs
    assert jobs is not None
    job = jobs.get(job_id)
    if job is None:
        return JSONResponse(
            {"status": "ERROR", "message": f"Job {job_id} not found."}, status_code=404
        )
    if not p.is_admin and job["account_id"] != p.account_id:
        raise forbidden(f"job {job_id} belongs to another account")
    return job_status_json(job)
