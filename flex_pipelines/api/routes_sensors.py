"""Sensors and their data (FlexMeasures' /api/v3_0/sensors)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    check_read_asset,
    check_read_sensor,
    check_write_asset,
    check_write_sensor_data,
    current_principal,
)
from flex_pipelines.api.errors import ApiError, bad_request, forbidden
from flex_pipelines.api.models import DeleteDataIn, Id, SensorDataIn, SensorIn, SensorPatch
from flex_pipelines.api.routes_assets import no_content
from flex_pipelines.api.sensor_data import (
    aware,
    beliefs_from_post,
    timedelta_field,
    values_in_unit,
    values_on_grid,
    window,
)
from flex_pipelines.api.serialize import json_field, sensor_json
from flex_pipelines.beliefs.model import KnowledgeHorizon, SaveResult, Sensor
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.beliefs.validate import BeliefValidationError
from flex_pipelines.service.beliefs import read_beliefs, save_beliefs
from flex_pipelines.service.forecast_report import check_forecast_config
from flex_pipelines.time import TimeError, format_duration, get_zone, n_steps

router = APIRouter(prefix="/api/v3_0", tags=["sensors"])
Auth = Annotated[Principal, Depends(current_principal)]
ShortText = Annotated[str, Query(max_length=64)]


def _structure_asset(p: Principal, store: BeliefStore, sensor: Sensor, what: str) -> None:
    if sensor.asset_id is None:
        if not p.is_admin:
            raise forbidden(f"sensor {sensor.id} belongs to no asset; only admins may {what} it")
        return
    check_write_asset(p, store.get_asset(sensor.asset_id), f"{what} sensors of")


@router.get("/sensors", summary="Sensors you may read")
def list_sensors(
    request: Request,
    p: Auth,
    account_id: Annotated[Id | None, Query()] = None,
    asset_id: Annotated[Id | None, Query()] = None,
    include_public_assets: bool = False,
) -> list[dict[str, Any]]:
    with api_state(request).db() as store:
        if asset_id is not None:
            check_read_asset(p, store.get_asset(asset_id))
            return [sensor_json(s) for s in store.list_sensors(asset_id=asset_id)]
        acc = p.account_id if account_id is None else account_id
        if acc != p.account_id and not p.is_admin:
            raise forbidden(f"account {acc} is not the account of user {p.user.email}")
        assets = store.list_assets(account_id=acc)
        if include_public_assets:
            assets += [a for a in store.list_assets() if a.account_id is None]
        out = []
        for a in assets:
            out.extend(sensor_json(s) for s in store.list_sensors(asset_id=a.id))
        return out


@router.get("/sensors/{sensor_id}", summary="A sensor")
def get_sensor(request: Request, p: Auth, sensor_id: Id) -> dict[str, Any]:
    with api_state(request).db() as store:
        sensor = store.get_sensor(sensor_id)
        check_read_sensor(p, store, sensor)
        return sensor_json(sensor)


@router.post("/sensors", status_code=201, summary="Create a sensor (account-admins)")
def create_sensor(request: Request, p: Auth, body: SensorIn) -> dict[str, Any]:
    resolution = timedelta_field("event_resolution", body.event_resolution)
    if resolution < timedelta(0) or resolution > timedelta(days=366):
        raise bad_request(f"event_resolution {body.event_resolution} is not between PT0S and P366D")
    attributes = json_field("attributes", body.attributes) if body.attributes is not None else {}
    kh = KnowledgeHorizon.from_json(body.knowledge_horizon) if body.knowledge_horizon else None
    with api_state(request).db() as store:
        asset = store.get_asset(body.generic_asset_id)
        check_write_asset(p, asset, "add sensors to")
        check_forecast_config(p.caller, store, None, attributes)
        sensor = store.add_sensor(
            body.name,
            body.unit,
            resolution,
            timezone=body.timezone or asset.timezone,
            asset_id=asset.id,
            knowledge_horizon=kh,
            attributes=attributes,
        )
        return sensor_json(sensor)


@router.patch("/sensors/{sensor_id}", summary="Change a sensor (account-admins)")
def patch_sensor(request: Request, p: Auth, sensor_id: Id, body: SensorPatch) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True, exclude_none=True)
    fields: dict[str, Any] = {k: given[k] for k in ("name", "unit") if k in given}
    if "timezone" in given:
        get_zone(given["timezone"])
        fields["timezone"] = given["timezone"]
    if "unit" in fields:
        from flex_pipelines.units import validate_unit

        validate_unit(fields["unit"])
    if "attributes" in given:
        fields["attributes"] = json_field("attributes", given["attributes"])
    if "knowledge_horizon" in given:
        fields["knowledge_horizon"] = KnowledgeHorizon.from_json(given["knowledge_horizon"])
    with api_state(request).db() as store:
        sensor = store.get_sensor(sensor_id)
        _structure_asset(p, store, sensor, "change")
        if "attributes" in fields:
            check_forecast_config(p.caller, store, sensor.id, fields["attributes"])
        return sensor_json(store.update_sensor(sensor_id, **fields) if fields else sensor)


@router.delete("/sensors/{sensor_id}", status_code=204, summary="Delete a sensor and its data")
def delete_sensor(request: Request, p: Auth, sensor_id: Id) -> Response:
    with api_state(request).db() as store:
        sensor = store.get_sensor(sensor_id)
        _structure_asset(p, store, sensor, "delete")
        store.delete_sensor(sensor_id)
    return no_content()


@router.post("/sensors/{sensor_id}/data", summary="Post sensor data (beliefs)")
def post_data(request: Request, p: Auth, sensor_id: Id, body: SensorDataIn) -> dict[str, Any]:
    state = api_state(request)
    payload = body.model_dump(by_alias=False)
    with state.db() as store:
        sensor = store.get_sensor(sensor_id)
        check_write_sensor_data(p, store, sensor)
        source_id = state.source_ids.get(p.user.id)
        if source_id is None:
            source_id = store.get_or_create_source(p.user.email, "user").id
            state.source_ids[p.user.id] = source_id
    frame = beliefs_from_post(sensor, payload, source_id, state.settings.max_values)
    try:
        saved, grouped = state.writer.save(frame)  # type: ignore[union-attr]
    except BeliefValidationError as exc:
        if "refusing to change" in str(exc):
            raise ApiError(403, "INVALID_REPLACEMENT", f"{exc}") from exc
        raise
    if grouped:  # saved together with a concurrent request about this sensor: group counts
        return {
            "status": "PROCESSED",
            "message": "Request has been processed.",
            "n_received": frame.height,
        }
    status, message = _save_status(saved)
    return {
        "status": status,
        "message": message,
        "n_received": frame.height,
        "n_new": saved.n_new,
        "n_existing": saved.n_existing,
    }


def _save_status(saved: SaveResult) -> tuple[str, str]:
    """FlexMeasures' status and message for a save; nothing new: already received.

    Parameters
    ----------
    saved : SaveResult
        What the store did with the posted beliefs (unchanged beliefs are not new).

    Returns
    -------
    tuple[str, str]
        The status and the message of the answer.
    """
    if saved.n_new == 0:
        return (
            "ALREADY_RECEIVED_AND_SUCCESSFULLY_PROCESSED",
            "All of the data has already been received and successfully processed.",
        )
    return "PROCESSED", "Request has been processed."


@router.get("/sensors/{sensor_id}/data", summary="Get sensor data, one value per step")
def get_data(
    request: Request,
    p: Auth,
    sensor_id: Id,
    start: ShortText,
    duration: ShortText,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    resolution: Annotated[str | None, Query(max_length=64)] = None,
    prior: Annotated[str | None, Query(max_length=64)] = None,
    horizon: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[Id | None, Query()] = None,
) -> dict[str, Any]:
    state = api_state(request)
    t0, t1 = window(start, duration)
    as_of = aware("prior", prior) if prior else None
    horizon_min = timedelta_field("horizon", horizon) if horizon else None
    with state.db() as store:
        sensor = store.get_sensor(sensor_id)
        check_read_sensor(p, store, sensor)
        res = sensor.event_resolution
        step = timedelta_field("resolution", resolution) if resolution else res
        if step <= timedelta(0):
            raise bad_request(
                f"sensor {sensor.id} records instants; give a positive 'resolution' to sample them"
            )
        if res > timedelta(0) and (step < res or step % res):
            raise bad_request(
                f"resolution {format_duration(step)} is not a multiple of the {format_duration(res)} resolution of sensor {sensor.id}",
                "INVALID_RESOLUTION",
            )
        try:
            n = n_steps(t0, t1, step)
        except TimeError as exc:
            raise bad_request(str(exc), "INVALID_PERIOD") from exc
        if n > state.settings.max_query_steps:
            raise bad_request(
                f"{n} steps requested; at most {state.settings.max_query_steps} per request"
            )
        frame = read_beliefs(
            p.caller,
            store,
            sensor.id,
            t0,
            t1,
            as_of=as_of,
            source_ids=[source] if source else None,
            horizon_min=horizon_min,
            one_per_event=True,
            resolution=step if res > timedelta(0) and step != res else None,
        )
    values = values_on_grid(frame, t0, n, step)
    values, out_unit = values_in_unit(values, sensor, unit, step)
    return {
        "values": values,
        "start": t0.isoformat(),
        "duration": duration,
        "unit": out_unit,
        "resolution": format_duration(step),
        "status": "PROCESSED",
        "message": "Request has been processed.",
    }


@router.delete(
    "/sensors/{sensor_id}/data", status_code=204, summary="Delete sensor data, keeping the sensor"
)
def delete_data(
    request: Request, p: Auth, sensor_id: Id, body: DeleteDataIn | None = None
) -> Response:
    body = body or DeleteDataIn()
    start = aware("start", body.start) if body.start else None
    until = aware("until", body.until) if body.until else None
    with api_state(request).db() as store:
        sensor = store.get_sensor(sensor_id)
        _structure_asset(p, store, sensor, "delete data of")
        store.delete_beliefs(sensor_id, start, until, [body.source] if body.source else None)
    return no_content()


_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "uploaded-files": {"type": "string", "format": "binary"},
                        "belief-time-measured-instantly": {
                            "type": "string",
                            "enum": ["True", "False"],
                        },
                        "unit": {"type": "string"},
                    },
                    "required": ["uploaded-files"],
                }
            }
        },
    }
}


def _form_parts(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(field name, file name, bytes) of a multipart/form-data body (stdlib parser)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        raise bad_request("upload data as multipart/form-data (field 'uploaded-files')")
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not msg.is_multipart():
        raise bad_request("the multipart body cannot be read")
    parts = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        parts.append((str(name or ""), part.get_filename(), payload))
    return parts


@router.post(
    "/sensors/{sensor_id}/data/upload",
    summary="Upload CSV files of sensor data",
    openapi_extra=_UPLOAD_DOC,
)
async def upload_data(request: Request, p: Auth, sensor_id: Id) -> dict[str, Any]:
    """FlexMeasures' file upload: CSV with the event start in column 1 and the value in 2."""
    from datetime import UTC, datetime

    from starlette.concurrency import run_in_threadpool

    from flex_pipelines.beliefs.ingest import CSVOptions, read_csv_beliefs

    parts = _form_parts(request.headers.get("content-type", ""), await request.body())
    fields = {n: v.decode("utf-8", "replace").strip() for n, f, v in parts if f is None}
    files = [(f, v) for n, f, v in parts if n == "uploaded-files" and f is not None]
    if not files:
        raise bad_request("no file in field 'uploaded-files'")
    instant = fields.get("belief-time-measured-instantly", "False").lower() in ("true", "1", "yes")
    unit = fields.get("unit") or None
    state = api_state(request)

    def save() -> dict[str, Any]:
        import polars as pl

        with state.db() as store:
            sensor = store.get_sensor(sensor_id)
            check_write_sensor_data(p, store, sensor)
            for name, _ in files:
                if not str(name).lower().endswith((".csv", ".txt")):
                    raise bad_request(f"file {name!r}: only CSV files are supported")
            # the user's source is created with the beliefs or not at all (a refused file
            # leaves every table as it was)
            with store.transaction():
                source_id = store.get_or_create_source(p.user.email, "user").id
                opts = CSVOptions(unit=unit, belief_time=None if instant else datetime.now(UTC))
                frames = [
                    read_csv_beliefs(data, sensor, source_id, opts, name=str(name))
                    for name, data in files
                ]
                saved = save_beliefs(p.caller, store, pl.concat(frames))
        status = _save_status(saved)[0]
        return {
            "status": status,
            "message": f"Processed {len(files)} file(s).",
            "n_new": saved.n_new,
            "n_existing": saved.n_existing,
        }

    return await run_in_threadpool(save)
