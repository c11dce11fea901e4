"""An asset's chart data, daily KPIs and jobs, and copying an asset tree.

Thin adapters: beliefs are read through :func:`flex_pipelines.service.beliefs.read_beliefs`
(the access rule), KPIs by the reporting library (:func:`flex_pipelines.reporting.kpis.site_kpis`)
for the sites at or below the asset (the site model, :class:`flex_pipelines.sites.AssetTree`),
after a read check on every sensor they use.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from flex_pipelines.api.auth import (
    Principal,
    api_state,
    check_read_asset,
    check_write_asset,
    current_principal,
)
from flex_pipelines.api.errors import bad_request, forbidden
from flex_pipelines.api.models import CopyAssetIn, Id
from flex_pipelines.api.routes_assets import _authorize_config
from flex_pipelines.api.sensor_data import aware
from flex_pipelines.api.serialize import asset_json
from flex_pipelines.beliefs.model import Asset
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.scheduling.references import SensorReference, json_references
from flex_pipelines.service.access import authorize
from flex_pipelines.service.beliefs import read_beliefs
from flex_pipelines.sites import AssetTree

router = APIRouter(prefix="/api/v3_0", tags=["assets"])
Auth = Annotated[Principal, Depends(current_principal)]
Time = Annotated[str, Query(max_length=64)]
MAX_CHART_ROWS = 200_000


def shown_sensor_ids(store: BeliefStore, asset: Asset) -> list[int]:
    """The asset's ``sensors_to_show`` (ids, ``{"sensor": id}`` or ``{"sensors": [ids]}``
    entries), or else the sensors of the asset itself."""
    ids: list[int] = []
    for i, entry in enumerate(asset.attributes.get("sensors_to_show") or []):
        group = entry.get("sensors") if isinstance(entry, dict) else None
        refs = json_references(
            group if group is not None else entry, f"sensors_to_show[{i}]", bare_ids=True
        )  # noqa: E501
        ids += [r.sensor_id for r in refs if r.sensor_id not in ids]
    return ids or [s.id for s in store.list_sensors(asset_id=asset.id)]


@router.get("/assets/{asset_id}/chart_data", summary="Data of the sensors an asset shows")
def chart_data(
    request: Request,
    p: Auth,
    asset_id: Id,
    event_starts_after: Time,
    event_ends_before: Time,
    beliefs_before: Annotated[str | None, Query(max_length=64)] = None,
    most_recent_beliefs_only: bool = True,
) -> list[dict[str, Any]]:
    """One record per belief (the latest per event by default), as FlexMeasures' chart data:
    ``event_start``, ``event_value``, ``belief_time``, ``belief_horizon`` (s), ``sensor``,
    ``source``."""
    t0, t1 = (
        aware("event_starts_after", event_starts_after),
        aware("event_ends_before", event_ends_before),
    )  # noqa: E501
    if t1 <= t0:
        raise bad_request(
            f"event_ends_before {event_ends_before} is not after event_starts_after {event_starts_after}"
        )  # noqa: E501
    as_of = aware("beliefs_before", beliefs_before) if beliefs_before else None
    out: list[dict[str, Any]] = []
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        check_read_asset(p, asset)
        sources = {s.id: s for s in store.list_sources()}
        for sid in shown_sensor_ids(store, asset):
            sensor = store.get_sensor(sid)
            frame = read_beliefs(
                p.caller, store, sid, t0, t1, as_of=as_of, one_per_event=most_recent_beliefs_only
            )
            for r in frame.iter_rows(named=True):
                src = sources.get(r["source_id"])
                out.append(
                    {
                        "event_start": r["event_start"].isoformat(),
                        "event_value": r["event_value"],
                        "belief_time": r["belief_time"].isoformat(),
                        "cumulative_probability": r["cumulative_probability"],
                        "sensor": {"id": sid, "name": sensor.name, "unit": sensor.unit},
                        "source": {
                            "id": r["source_id"],
                            "name": src.name if src else None,
                            "type": src.type if src else None,
                        },  # noqa: E501
                    }
                )
            if len(out) > MAX_CHART_ROWS:
                raise bad_request(
                    f"more than {MAX_CHART_ROWS} beliefs in the window; ask for a shorter one"
                )  # noqa: E501
    return out


@router.get("/assets/{asset_id}/kpis", summary="Daily KPIs of the sites at or below an asset")
def kpis(request: Request, p: Auth, asset_id: Id, start: Time, end: Time) -> dict[str, Any]:
    """Per site and local day: energy bought and sold, cost, baseline cost, savings,
    self-consumption, peaks, cycles (:mod:`flex_pipelines.reporting.kpis`), with totals."""
    from flex_pipelines.reporting.kpis import kpi_totals, kpis_for_specs
    from flex_pipelines.reporting.site import site_specs

    t0, t1 = aware("start", start), aware("end", end)
    if t1 <= t0:
        raise bad_request(f"end {end} is not after start {start}")
    if (t1 - t0).days > 3660:
        raise bad_request("ask for KPIs of ten years at most")
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        check_read_asset(p, asset)
        sites = [site.id for site, _devices in AssetTree.load(store).sites_for(asset.id)]
        specs = site_specs(store, sites)
        refs = [SensorReference("kpis", c.sensor_id, "read") for s in specs for c in s.components]
        authorize(p.caller, store, refs)
        frame = kpis_for_specs(store, specs, t0, t1)
    rows = [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
        for r in frame.to_dicts()
    ]
    return {"data": rows, "sites": sites, "totals": kpi_totals(frame) if rows else {}}


@router.get("/assets/{asset_id}/jobs", summary="Jobs triggered for an asset or its sensors")
def asset_jobs(request: Request, p: Auth, asset_id: Id) -> dict[str, Any]:
    with api_state(request).db() as store:
        asset = store.get_asset(asset_id)
        check_read_asset(p, asset)
        sensor_ids = [s.id for s in store.list_sensors(asset_id=asset.id)] or [-1]
        rows = store.query(
            "SELECT id, kind, target_type, target_id, status, message, enqueued_at, started_at, "
            "ended_at FROM api_jobs WHERE (target_type = 'asset' AND target_id = ?) OR "
            f"(target_type = 'sensor' AND target_id IN ({', '.join(str(i) for i in sensor_ids)})) "
            "ORDER BY enqueued_at DESC LIMIT 1000",
            [asset.id],
        )
    jobs = []
    for r in rows.iter_rows(named=True):
        jobs.append(
            {
                "job_id": r["id"],
                "queue": r["kind"],
                "asset_or_sensor_type": r["target_type"],
                "asset_id" if r["target_type"] == "asset" else "sensor_id": r["target_id"],
                "status": r["status"],
                "err": r["message"] if r["status"] == "FAILED" else None,
                "enqueued_at": r["enqueued_at"].isoformat() if r["enqueued_at"] else None,
                "started_at": r["started_at"].isoformat() if r["started_at"] else None,
                "ended_at": r["ended_at"].isoformat() if r["ended_at"] else None,
            }
        )
    return {"jobs": jobs, "redis_connection_err": None}


@router.post(
    "/assets/{asset_id}/copy",
    status_code=201,
    summary="Copy an asset with its children and sensors (no data)",
)  # noqa: E501
def copy_asset(
    request: Request, p: Auth, asset_id: Id, body: CopyAssetIn | None = None
) -> dict[str, Any]:  # noqa: E501
    """The copy (named ``<name> (Copy)``) goes to the given account and parent, by default the
    original's. Flex-models, flex-contexts and attributes are copied as they are (they still
    name the original's sensors), so they are checked like a new configuration."""
    body = body or CopyAssetIn()
    with api_state(request).db() as store:
        root = store.get_asset(asset_id)
        check_read_asset(p, root)
        parent_id = body.parent_asset_id if body.parent_asset_id is not None else root.parent_id
        account_id = body.account_id if body.account_id is not None else root.account_id
        if parent_id is not None:
            parent = store.get_asset(parent_id)
            check_write_asset(p, parent, "add children to")
            account_id = parent.account_id
        elif not p.is_admin and (account_id != p.account_id or not p.is_account_admin):
            raise forbidden(f"user {p.user.email} may not create assets in account {account_id}")
        tree = AssetTree.load(store)
        originals = list(tree.subtree(root.id))
        for a in originals:
            _authorize_config(p, store, a.flex_model, a.flex_context, a.attributes)
        made: dict[int, int] = {}
        with store.transaction():
            for a in originals:  # parents come before their children
                new_parent = parent_id if a.id == root.id else made[a.parent_id]  # type: ignore[index]
                copy = store.add_asset(
                    a.name + " (Copy)" if a.id == root.id else a.name,
                    a.type,
                    account_id,
                    new_parent,
                    latitude=a.latitude,
                    longitude=a.longitude,
                    timezone=a.timezone,
                    flex_model=json.loads(json.dumps(a.flex_model)),
                    flex_context=json.loads(json.dumps(a.flex_context)),
                    attributes=json.loads(json.dumps(a.attributes)),
                )
                made[a.id] = copy.id
                for s in store.list_sensors(asset_id=a.id):
                    store.add_sensor(
                        s.name,
                        s.unit,
                        s.event_resolution,
                        timezone=s.timezone,
                        asset_id=copy.id,
                        knowledge_horizon=s.knowledge_horizon,
                        attributes=json.loads(json.dumps(s.attributes)),
                    )
            store.record_audit(
                f"Copied asset {root.id} with {len(originals) - 1} asset(s) below it to asset {made[root.id]}",  # noqa: E501
                account_id=account_id,
                asset_id=made[root.id],
                details={"copied_at": datetime.now(UTC).isoformat(), "ids": made},
            )
        return asset_json(store, store.get_asset(made[root.id]))
