"""The rest of FlexMeasures' v3 listing: the service list, public assets, an asset's sensors,
data sources, sensor stats and status, the deprecated entity-address data routes, and the UI
routes that do not apply here (answered 410 NOT_APPLICABLE, see docs/api.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    check_read_asset,
    check_read_sensor,
    current_principal,
)
from flex_pipelines.api.errors import ApiError, bad_request
from flex_pipelines.api.models import Id, SensorDataIn
from flex_pipelines.api.serialize import asset_json, sensor_json
from flex_pipelines.beliefs.model import Source
from flex_pipelines.service.beliefs import read_beliefs
from flex_pipelines.time import format_duration

router = APIRouter(prefix="/api/v3_0")
Auth = Annotated[Principal, Depends(current_principal)]
ShortText = Annotated[str, Query(max_length=64)]
_EA = re.compile(r"^ea1\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9.:-]+:fm1\.([0-9]{1,15})$")
NOT_APPLICABLE = {
    410: {"description": "NOT_APPLICABLE: a route of FlexMeasures' web UI; see docs/api.md"}
}


def not_applicable(what: str) -> ApiError:
    return ApiError(410, "NOT_APPLICABLE", f"{what} (see docs/api.md, 'Not applicable here')")


@router.get("", tags=["meta"], summary="The services of API v3 (FlexMeasures' service listing)")
def services(request: Request) -> dict[str, Any]:
    root = str(request.base_url).rstrip("/")
    out = []
    for route in request.app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/v3_0"):
            continue
        methods = "/".join(sorted(m for m in getattr(route, "methods", ()) if m != "HEAD"))
        out.append(
            {
                "url": root + path,
                "name": f"{methods} {path.removeprefix('/api/v3_0')}",
                "description": getattr(route, "summary", "") or "",
            }
        )
    return {"services": out, "version": "3.0"}


@router.get("/assets/public", tags=["assets"], summary="Public assets (no account)")
def public_assets(request: Request, p: Auth) -> list[dict[str, Any]]:
    with api_state(request).db() as store:
        return [asset_json(store, a) for a in store.list_assets() if a.account_id is None]


@router.get("/assets/{asset_id}/sensors", tags=["assets"], summary="The sensors of an asset")
def asset_sensors(
    request: Request,
    p: Auth,
    asset_id: Id,
    page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    per_page: Annotated[int | None, Query(alias="per-page", ge=1, le=1000)] = None,
    filter: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """FlexMeasures' paginated answer: ``data``, ``num-records``, ``filtered-records``."""
    with api_state(request).db() as store:
        check_read_asset(p, store.get_asset(asset_id))
        sensors = store.list_sensors(asset_id=asset_id)
    total = len(sensors)
    if filter:
        terms = [t.lower() for t in filter.split()]
        sensors = [s for s in sensors if any(t in s.name.lower() for t in terms)]
    default = max(len(sensors), 1) if page is None else 10  # no page: all of them
    size = per_page or default
    first = ((page or 1) - 1) * size
    return {
        "data": [sensor_json(s) for s in sensors[first : first + size]],
        "num-records": total,
        "filtered-records": len(sensors),
    }


@router.get(
    "/assets/{asset_id}/chart",
    tags=["assets"],
    summary="Not applicable: a UI chart",
    responses=NOT_APPLICABLE,
)  # noqa: E501
def asset_chart(request: Request, p: Auth, asset_id: Id) -> None:
    raise not_applicable(
        "Vega-Lite chart specs are drawn by FlexMeasures' web UI; read the data from GET /assets/{id}/chart_data"
    )  # noqa: E501


@router.post(
    "/assets/default_asset_view",
    tags=["assets"],
    summary="Not applicable: a UI setting",
    responses=NOT_APPLICABLE,
)  # noqa: E501
def default_asset_view(request: Request, p: Auth) -> None:
    raise not_applicable("the default asset view is a setting of FlexMeasures' web UI")


@router.post(
    "/assets/keep_legends_below_graphs",
    tags=["assets"],
    summary="Not applicable: a UI setting",
    responses=NOT_APPLICABLE,
)  # noqa: E501
def keep_legends_below_graphs(request: Request, p: Auth) -> None:
    raise not_applicable("legend placement is a setting of FlexMeasures' web UI")


def _source_json(s: Source) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "type": s.type,
        "model": s.model,
        "version": s.version,
        "description": f"{s.name} ({s.type}{' ' + s.model if s.model else ''})",
    }


@router.get("/sources", tags=["sources"], summary="Data sources you may see")
def sources(
    request: Request,
    p: Auth,
    type: Annotated[str | None, Query(max_length=64)] = None,
    only_latest: bool = True,
) -> list[dict[str, Any]]:
    """Every source but the users of other accounts (admins: all). ``only_latest`` keeps the
    latest version of each name, type and model (as FlexMeasures)."""
    with api_state(request).db() as store:
        found = store.list_sources([type] if type else None)
        own = {u.email for u in store.list_users(None if p.is_admin else p.account_id)}
    if not p.is_admin:
        found = [s for s in found if s.type != "user" or s.name in own]
    if only_latest:
        latest: dict[tuple, Source] = {}
        for s in found:  # ids grow with time: the last one seen is the latest version
            latest[(s.name, s.type, s.model)] = s
        found = sorted(latest.values(), key=lambda s: s.id)
    return [_source_json(s) for s in found]


@router.get(
    "/sensors/{sensor_id}/stats",
    tags=["sensors"],
    summary="Statistics of a sensor's data per source",
)  # noqa: E501
def sensor_stats(
    request: Request,
    p: Auth,
    sensor_id: Id,
    event_start_time: Annotated[str | None, Query(max_length=64)] = None,
    event_end_time: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """FlexMeasures' stats: per source name, the first and last event, min, max, mean, sum and
    count of the most recent beliefs about each event."""
    from flex_pipelines.api.sensor_data import aware

    t0 = aware("event_start_time", event_start_time) if event_start_time else None
    t1 = aware("event_end_time", event_end_time) if event_end_time else None
    with api_state(request).db() as store:
        sensor = store.get_sensor(sensor_id)
        check_read_sensor(p, store, sensor)
        frame = read_beliefs(p.caller, store, sensor.id, t0, t1, most_recent=True)  # type: ignore[arg-type]  # noqa: E501
        names = {s.id: s.name for s in store.list_sources()}
    out: dict[str, Any] = {}
    for (source_id,), part in frame.group_by(["source_id"], maintain_order=True):
        vals = part["event_value"]
        out[names.get(int(source_id), str(source_id))] = {
            "First event start": part["event_start"].min().isoformat(),  # type: ignore[union-attr]
            "Last event end": (part["event_start"].max() + sensor.event_resolution).isoformat(),  # type: ignore[operator]  # noqa: E501
            "Last recorded": part["belief_time"].max().isoformat(),  # type: ignore[union-attr]
            "Min value": vals.min(),
            "Max value": vals.max(),
            "Mean value": vals.mean(),
            "Sum over values": vals.sum(),
            "Number of values": vals.len(),
        }
    return out


@router.get("/sensors/{sensor_id}/status", tags=["sensors"], summary="How fresh a sensor's data is")  # noqa: E501
def sensor_status(request: Request, p: Auth, sensor_id: Id) -> dict[str, Any]:
    """Staleness: the time since the knowledge time of the latest event known now (as
    FlexMeasures' sensor status; stale when it exceeds twice the resolution, or a day for
    instantaneous sensors)."""
    now = datetime.now(UTC)
    with api_state(request).db() as store:
        sensor = store.get_sensor(sensor_id)
        check_read_sensor(p, store, sensor)
        latest = store.query(
            "SELECT max(event_start) AS event_start, max(belief_time) AS belief_time "
            "FROM beliefs WHERE sensor_id = ? AND belief_time <= ?",
            [sensor.id, now],
        )
        asset = store.get_asset(sensor.asset_id) if sensor.asset_id is not None else None
    last = latest["event_start"][0] if latest.height else None
    base = {
        "id": sensor.id,
        "name": sensor.name,
        "resolution": format_duration(sensor.event_resolution),
        "asset_name": asset.name if asset else None,
    }
    if last is None:
        return base | {
            "staleness": None,
            "stale": True,
            "reason": "no data recorded",
            "staleness_since": None,
        }  # noqa: E501
    known = last + sensor.event_resolution
    allowed = 2 * sensor.event_resolution or timedelta(days=1)
    staleness = max(now - known, timedelta(0))
    stale = staleness > allowed
    return base | {
        "staleness": format_duration(staleness),
        "stale": stale,
        "reason": (
            f"the latest event ended {format_duration(staleness)} ago, more than {format_duration(allowed)}"  # noqa: E501
            if stale
            else "recent data"
        ),
        "staleness_since": known.isoformat(),
    }


def _entity_sensor(value: str) -> int:
    m = _EA.match(value.strip())
    if not m:
        raise bad_request(
            f"sensor {value!r} is not an entity address ea1.<yyyy-mm>.<naming authority>:fm1.<sensor id>"
        )  # noqa: E501
    return int(m.group(1))


@router.get("/sensors/data", tags=["sensors"], summary="Deprecated: GET /sensors/{id}/data")
def get_data_deprecated(
    request: Request,
    p: Auth,
    sensor: ShortText,
    start: ShortText,
    duration: ShortText,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    resolution: Annotated[str | None, Query(max_length=64)] = None,
    prior: Annotated[str | None, Query(max_length=64)] = None,
    horizon: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[Id | None, Query()] = None,
) -> dict[str, Any]:
    from flex_pipelines.api.routes_sensors import get_data

    sid = _entity_sensor(sensor)
    return get_data(request, p, sid, start, duration, unit, resolution, prior, horizon, source)


class DeprecatedDataIn(SensorDataIn):
    sensor: Annotated[str, Field(max_length=128, description="ea1.…:fm1.<sensor id>")]


@router.post("/sensors/data", tags=["sensors"], summary="Deprecated: POST /sensors/{id}/data")
def post_data_deprecated(request: Request, p: Auth, body: DeprecatedDataIn) -> JSONResponse:
    from flex_pipelines.api.routes_sensors import post_data

    sid = _entity_sensor(body.sensor)
    payload = SensorDataIn.model_validate(body.model_dump(by_alias=True, exclude={"sensor"}))
    return JSONResponse(post_data(request, p, sid, payload))
