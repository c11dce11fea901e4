"""One service core behind every door: the API, the CLI and the pipeline produce the same schedule
for the same site and window (a battery, PV and a SHIFTABLE process behind one connection), and
the API stores exactly one schedule per device."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app as cli_app
from flex_pipelines.pipeline import list_sites, schedule_site
from flex_pipelines.sites import AssetTree
from tests.api.conftest import populate, start_server
from tests.helpers import belief_frame

DAY = datetime(2026, 3, 10, 23, tzinfo=UTC)  # 2026-03-11 local (Amsterdam)
PRICES = [
    40,
    35,
    30,
    28,
    27,
    30,
    45,
    60,
    70,
    65,
    50,
    40,
    35,
    30,
    32,
    40,
    55,
    80,
    95,
    90,
    70,
    60,
    50,
    45,
]  # noqa: E501
PV_KW = (
    [0] * 28
    + [20, 60, 110, 160, 200, 230, 250, 260, 260, 250, 230, 200, 160, 110, 60, 20]
    + [0] * 52
)  # noqa: E501


def _site(store, ids: dict[str, int]) -> dict[str, int]:  # noqa: ANN001
    """Add PV data, day-ahead prices and a SHIFTABLE process to the toy battery's building."""
    known = DAY - timedelta(hours=12)
    src = store.get_or_create_source("test market", "market")
    store.save_beliefs(
        belief_frame(ids["price_sensor"], src.id, PRICES, DAY, timedelta(hours=1), known)
    )  # noqa: E501
    store.save_beliefs(
        belief_frame(
            ids["pv_sensor"], src.id, [-v for v in PV_KW], DAY, timedelta(minutes=15), known
        )
    )  # noqa: E501
    gateway = store.get_or_create_source("battery gateway", "gateway")
    store.save_beliefs(
        belief_frame(ids["soc_sensor"], gateway.id, [200.0], DAY, timedelta(0), known)
    )  # noqa: E501
    building = store.get_asset(ids["building"])
    store.update_asset(
        building.id,
        flex_context={**building.flex_context, "inflexible-device-sensors": [ids["pv_sensor"]]},
    )
    oven = store.add_asset("oven", "process", building.account_id, parent_id=building.id)
    power = store.add_sensor("oven power", "kW", timedelta(minutes=15), asset_id=oven.id)
    store.update_asset(
        oven.id,
        flex_model={
            "sensor": power.id,
            "power": "100 kW",
            "duration": "PT3H",
            "process-type": "SHIFTABLE",
        },
    )
    return {"oven_sensor": power.id, "battery_sensor": ids["power_sensor"]}


def _schedule_at(store, sensor_id: int, belief_time: datetime) -> np.ndarray:  # noqa: ANN001
    frame = store.search_beliefs(
        sensor_id, DAY, DAY + timedelta(days=1), source_types=["scheduler"]
    )
    frame = frame.filter(frame["belief_time"] == belief_time).sort("event_start")
    assert frame.height == 96, (sensor_id, belief_time, frame.height)
    assert frame["source_id"].n_unique() == 1  # one scheduler saved it, once
    return frame["event_value"].to_numpy()


def test_api_cli_and_pipeline_make_the_same_schedule(tmp_path) -> None:  # noqa: ANN001
    url = str(tmp_path / "doors.duckdb")
    store = open_store(url)
    ids = populate(store)
    devices = _site(store, ids)
    t_api, t_pipe, t_cli = (DAY - timedelta(hours=3 - i) for i in range(3))

    # the API door: one asset trigger for the building
    srv, stop = start_server(store)
    try:
        token = srv.token("alice")
        with httpx.Client(base_url=srv.base, headers={"Authorization": token}, timeout=30) as c:
            r = c.post(
                f"/api/v3_0/assets/{ids['building']}/schedules/trigger",
                json={"start": DAY.isoformat(), "duration": "PT24H", "prior": t_api.isoformat()},
            )
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]
            deadline = time.monotonic() + 60
            while (job := c.get(f"/api/v3_0/jobs/{job_id}").json())["status"] in (
                "QUEUED",
                "STARTED",
            ):  # noqa: E501
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert job["status"] == "FINISHED", job
            assert job["result"]["scheduler"] == "StorageScheduler"  # one joint solve, no second
            assert set(devices.values()) <= set(job["result"]["sensor_ids"])
            api_kw = {}
            for sid in devices.values():
                got = c.get(f"/api/v3_0/sensors/{sid}/schedules/{job_id}", params={"unit": "kW"})
                assert got.status_code == 200, got.text
                assert "warnings" in got.json()
                api_kw[sid] = np.asarray(got.json()["values"], dtype=float)
        # the pipeline door, in the same process as the API's store
        site = next(s for s in srv.with_store(list_sites) if s.id == ids["building"])
        rec = srv.with_store(
            lambda s: schedule_site(s, site, DAY, DAY + timedelta(days=1), as_of=t_pipe)
        )  # noqa: E501
        assert [r.scheduler for r in rec.runs] == ["StorageScheduler"]
        run = rec.runs[0].result
        pipe_kw = {run.sensors[d.name]: d.power_mw * 1000 for d in run.result.devices}
    finally:
        stop()
        store.close()

    # the CLI door, on the same file
    out = CliRunner().invoke(
        cli_app,
        [
            "add",
            "schedule",
            "for-storage",
            "--asset",
            str(ids["building"]),
            "--start",
            DAY.isoformat(),
            "--duration",
            "PT24H",
            "--as-of",
            t_cli.isoformat(),
            "--format",
            "json",
            "--db",
            url,
        ],
    )
    assert out.exit_code == 0, out.output
    cli = json.loads(out.output)
    names = {"toy-battery": devices["battery_sensor"], "oven": devices["oven_sensor"]}
    cli_kw = {names[d["name"]]: np.asarray(d["power"]["values"]) * 1000 for d in cli["devices"]}

    for sid in devices.values():
        np.testing.assert_allclose(api_kw[sid], pipe_kw[sid], atol=1e-3)
        np.testing.assert_allclose(api_kw[sid], cli_kw[sid], atol=1e-3)
    assert np.ptp(api_kw[devices["battery_sensor"]]) > 100  # the battery does something
    with open_store(url) as s:
        for sid in devices.values():  # the API saved one schedule per device, once
            np.testing.assert_allclose(_schedule_at(s, sid, t_api), api_kw[sid], atol=1e-3)
        oven = _schedule_at(s, devices["oven_sensor"], t_api)
        assert np.count_nonzero(oven) == 12  # 3 hours at 100 kW, once
        assert AssetTree.load(s).site_of(ids["battery"]).id == ids["building"]


def test_stored_configuration_may_not_name_another_accounts_sensors(tmp_path) -> None:  # noqa: ANN001
    store = open_store(str(tmp_path / "cfg.duckdb"))
    ids = populate(store)
    srv, stop = start_server(store)
    try:
        with httpx.Client(
            base_url=srv.base, headers={"Authorization": srv.token("alice")}, timeout=30
        ) as c:
            foreign = ids["other_sensor"]
            bad = [
                (
                    f"/api/v3_0/assets/{ids['building']}",
                    {"flex_context": json.dumps({"consumption-price": {"sensor": foreign}})},
                ),
                (
                    f"/api/v3_0/assets/{ids['battery']}",
                    {
                        "flex_model": json.dumps(
                            {"sensor": ids["power_sensor"], "state-of-charge": {"sensor": foreign}}
                        )
                    },
                ),
                (
                    f"/api/v3_0/assets/{ids['building']}",
                    {
                        "attributes": json.dumps(
                            {
                                "reports": [
                                    {
                                        "reporter": "aggregator",
                                        "config": {"inputs": [{"sensor": foreign}]},
                                    }
                                ]
                            }
                        )
                    },
                ),
                (
                    f"/api/v3_0/sensors/{ids['pv_sensor']}",
                    {"attributes": json.dumps({"forecast": {"regressors": [foreign]}})},
                ),
            ]
            for path, body in bad:
                r = c.patch(path, json=body)
                assert r.status_code == 403, (path, r.text)
                assert f"sensor {foreign}" in r.json()["message"]
                assert "carol-load" not in r.text
            # the same with the account's own sensor is stored
            own = {"consumption-price": {"sensor": ids["price_sensor"]}}
            r = c.patch(
                f"/api/v3_0/assets/{ids['building']}", json={"flex_context": json.dumps(own)}
            )  # noqa: E501
            assert r.status_code == 200, r.text
    finally:
        stop()
        store.close()
