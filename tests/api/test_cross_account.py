"""Two accounts through the live API: every sensor reference a trigger accepts, across accounts.

Account A (``Other``, carol's) owns sensors with distinctive values (12345.678, 7777.321,
4321.987, 6543.219), a unit no other sensor has (``JPY/MWh``) and distinctive names
(``zebra-…``). Account B (the toy account: bob, and alice its account-admin) owns a battery
site; the process account (pat) a process. They name A's sensors in every field of every door
(sensor and asset schedules of a battery and of a process, profit-loss, aggregator and SQL
reports, forecasts): each request is refused with 403 at trigger time, no job is recorded, A's
sensors hold exactly the beliefs they held before, and no value, unit or name of A's appears in
the answer. The same requests naming the user's own sensors are accepted and run (so the
refusals are about ownership, not a broken request).

Also refused: ids not given as JSON integers that a reader still turns into A's sensor with
``int()`` (``"9"``, ``9.0``, ``9.5``, ``"0_9"``), A's sensors stored by B's account-admin in
B's own flex-context, flex-model, process ``"sensor"`` or forecast regressors, and triggers on
A's asset. Last, an unreachable soft SoC target finishes with its warning in the job status and
the schedule response.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flex_pipelines.api.auth import hash_password
from tests.api.conftest import EMAILS, PASSWORD, Server
from tests.api.test_jobs import PRICES, wait_job
from tests.helpers import belief_frame

DAY = "2026-01-06T00:00:00+01:00"
UNMET_DAY = "2026-01-07T00:00:00+01:00"
DATA_START = datetime(2025, 12, 1, tzinfo=UTC)
DATA_END = datetime(2026, 1, 10, tzinfo=UTC)
RECORDED = datetime(2025, 11, 30, tzinfo=UTC)  # belief time of the fixtures' data

A_PRICE, A_LOAD, A_SOC, A_POWER = 12345.678, 7777.321, 4321.987, 6543.219
A_UNIT = "JPY/MWh"
PROCESS_ADMIN = "percy@process.example"
#: what must never reach bob: A's values (with their decimal point: job ids are hex digits),
#: its unit, its sensor, asset, source and user names
SECRETS = ("12345.6", "7777.3", "4321.9", "6543.2", "JPY", "zebra", "carol")


@dataclass
class World:
    srv: Server
    a: dict[str, int] = field(default_factory=dict)  # role → sensor of account A
    b: dict[str, int] = field(default_factory=dict)  # role → sensor of account B (bob's)
    p: dict[str, int] = field(default_factory=dict)  # role → sensor of the process account (pat's)

    p_admin_token: str = ""  # the process account's account-admin

    def own(self, user: str) -> dict[str, int]:
        return self.p if user == "pat" else self.b


def _fill(store: Any, sid: int, value: float | list[float], step: timedelta, source: int) -> None:
    n = int((DATA_END - DATA_START) / step)
    values = value if isinstance(value, list) else [value] * n
    store.save_beliefs(belief_frame(sid, source, values, DATA_START, step, RECORDED))


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    ids = server.ids
    w = World(server)
    hour, quarter, instant = timedelta(hours=1), timedelta(minutes=15), timedelta(0)

    def build(store: Any) -> None:
        a_src = store.get_or_create_source("zebra-meter-feed", type="user").id
        b_src = store.get_or_create_source("toy-meter-feed", type="user").id
        site = ids["other_asset"]
        a_specs = {
            "price": ("zebra-secret-tariff", A_UNIT, hour, A_PRICE),
            "load": ("zebra-secret-load", "kW", quarter, A_LOAD),
            "soc": ("zebra-secret-soc", "kWh", instant, A_SOC),
            "power": ("zebra-secret-power", "kW", quarter, A_POWER),
        }
        for role, (name, unit, res, value) in a_specs.items():
            sid = store.add_sensor(name, unit, res, asset_id=site).id
            _fill(store, sid, value, res or quarter, a_src)
            w.a[role] = sid
        # A's sensors in every role a request may give a sensor (inputs and outputs)
        w.a |= {
            "breach": w.a["price"],
            "cap": w.a["load"],
            "level": w.a["soc"],
            "eff": w.a["load"],
            "agg": w.a["power"],
            "cons": w.a["power"],
            "prod": w.a["power"],
            "out": w.a["power"],
            "cost": w.a["power"],
            "fc_reg": w.a["load"],
            "device": w.a["power"],
            "fc_target": w.a["load"],
        }
        building = ids["building"]
        n_hours = int((DATA_END - DATA_START) / hour)
        b_specs = {
            "price": ("b-tariff", "EUR/MWh", hour, [PRICES[h % 24] for h in range(n_hours)]),
            "breach": ("b-breach-price", "EUR/MW", hour, 2000.0),
            "load": ("b-load", "kW", quarter, 40.0),
            "cap": ("b-capacity", "kW", quarter, 450.0),
            "level": ("b-soc-level", "kWh", instant, 225.0),
            "eff": ("b-efficiency", "%", quarter, 95.0),
            "agg": ("b-aggregate", "kW", quarter, None),
            "cons": ("b-consumption", "kW", quarter, None),
            "prod": ("b-production", "kW", quarter, None),
            "out": ("b-report", "kW", quarter, None),
            "cost": ("b-cost", "EUR", quarter, None),
            "fc_target": (
                "b-forecast-load",
                "kW",
                hour,
                [100.0 + 50 * ((h % 24) / 24) for h in range(n_hours)],
            ),
            "fc_reg": (
                "b-forecast-regressor",
                "kW",
                hour,
                [float(h % 24) for h in range(n_hours)],
            ),
        }
        for role, (name, unit, res, value) in b_specs.items():
            sid = store.add_sensor(name, unit, res, asset_id=building).id
            if value is not None:
                _fill(store, sid, value, res or quarter, b_src)
            w.b[role] = sid
        w.b |= {
            "soc": ids["soc_sensor"],
            "power": ids["power_sensor"],
            "device": ids["power_sensor"],
        }
        store.add_user(
            ids["process_account"],
            PROCESS_ADMIN,
            hash_password(PASSWORD, rounds=4),
            ["account-admin"],
        )
        p_price = store.add_sensor("p-tariff", "EUR/MWh", hour, asset_id=ids["process"]).id
        _fill(store, p_price, [PRICES[h % 24] for h in range(n_hours)], hour, b_src)
        w.p |= {"price": p_price, "device": ids["process_sensor"]}

    server.with_store(build)
    r = httpx.post(
        f"{server.base}/api/requestAuthToken", json={"email": PROCESS_ADMIN, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    w.p_admin_token = r.json()["auth_token"]
    return w


# --- requests ------------------------------------------------------------------------------
Request = tuple[str, dict[str, Any]]  # (url, JSON body)
Make = Callable[[World, int], Request]


def _sensor_schedule(
    w: World, fm: dict[str, Any] | None = None, fc: dict[str, Any] | None = None
) -> Request:
    return (
        f"/api/v3_0/sensors/{w.b['power']}/schedules/trigger",
        {
            "start": DAY,
            "duration": "PT6H",
            "flex-model": {"soc-at-start": "225 kWh", **(fm or {})},
            "flex-context": {"consumption-price": {"sensor": w.b["price"]}, **(fc or {})},
        },
    )


def _without_price(req: Request) -> Request:
    req[1]["flex-context"].pop("consumption-price")
    return req


def _process_schedule(w: World, price: dict[str, Any]) -> Request:
    return (
        f"/api/v3_0/sensors/{w.p['device']}/schedules/trigger",
        {"start": DAY, "duration": "PT12H", "flex-context": {"consumption-price": price}},
    )


def _asset_schedule(w: World, entry: dict[str, Any], fc: dict[str, Any] | None = None) -> Request:
    return (
        f"/api/v3_0/assets/{w.srv.ids['building']}/schedules/trigger",
        {
            "start": DAY,
            "duration": "PT6H",
            "flex-model": [{"sensor": w.b["power"], "soc-at-start": "225 kWh", **entry}],
            "flex-context": {"consumption-price": {"sensor": w.b["price"]}, **(fc or {})},
        },
    )


def _report(w: World, reporter: str, config: dict[str, Any], output: int, **params: Any) -> Request:
    return (
        f"/api/v3_0/assets/{w.srv.ids['building']}/reports/trigger",
        {
            "reporter": reporter,
            "parameters": {
                "start": DAY,
                "end": "2026-01-06T06:00:00+01:00",
                "output": [{"sensor": output}],
                **params,
            },
            "config": config,
        },
    )


def _forecast(target: int, regressors: list[Any]) -> Request:
    return (
        f"/api/v3_0/sensors/{target}/forecasts/trigger",
        {
            "start": "2026-01-06T00:00:00+00:00",
            "duration": "P1D",
            "max-forecast-horizon": "PT24H",
            "forecast-frequency": "P1D",
            "config": {"regressors": regressors, "train-period": "P7D"},
        },
    )


@dataclass(frozen=True)
class Case:
    """One sensor reference: ``make(world, id)`` builds a request naming sensor ``id`` (A's or
    the user's own sensor of ``role``) in one field; every other sensor is the user's own."""

    id: str
    door: str
    role: str
    field: str  # what the refusal must name
    make: Make
    writes: bool = False  # B's sensor of this role gets beliefs in the control run
    user: str = "bob"  # who triggers (pat: the process account's user)


def fm_case(name: str, role: str, value: Callable[[int], Any], writes: bool = False) -> Case:
    return Case(
        f"sensor-schedule.flex-model.{name}",
        "schedule",
        role,
        f"flex-model.{name}",
        lambda w, sid: _sensor_schedule(w, fm={name: value(sid)}),
        writes,
    )


def fc_case(
    name: str,
    role: str,
    value: Callable[[int], Any],
    writes: bool = False,
    field_: str | None = None,
) -> Case:
    return Case(
        f"sensor-schedule.flex-context.{name}",
        "schedule",
        role,
        field_ or f"flex-context.{name}",
        lambda w, sid: _sensor_schedule(w, fc={name: value(sid)}),
        writes,
    )


def ref(sid: int) -> dict[str, int]:
    return {"sensor": sid}


def bare(sid: int) -> int:
    return sid


CASES: list[Case] = [
    # the device itself: a sensor schedule of A's sensor
    Case(
        "sensor-schedule.power-sensor",
        "schedule",
        "device",
        "sensor",
        lambda w, sid: (
            f"/api/v3_0/sensors/{sid}/schedules/trigger",
            _sensor_schedule(w)[1],
        ),
        writes=True,
    ),
    # flex-model outputs (write) and inputs given as sensors (read)
    fm_case("state-of-charge", "soc", ref, writes=True),
    Case(
        "sensor-schedule.flex-model.state-of-charge(bare id)",
        "schedule",
        "soc",
        "flex-model.state-of-charge",
        lambda w, sid: _sensor_schedule(w, fm={"state-of-charge": sid}),
    ),
    fm_case("consumption", "cons", ref, writes=True),
    fm_case("production", "prod", ref, writes=True),
    fm_case("soc-minima", "level", ref),
    fm_case("soc-maxima", "level", ref),
    fm_case("soc-targets", "level", ref),
    fm_case("power-capacity", "cap", ref),
    fm_case("consumption-capacity", "cap", ref),
    fm_case("production-capacity", "cap", ref),
    fm_case("charging-efficiency", "eff", ref),
    fm_case("discharging-efficiency", "eff", ref),
    fm_case("storage-efficiency", "eff", ref),
    fm_case("soc-usage", "load", lambda sid: [ref(sid)]),
    fm_case("soc-gain", "load", lambda sid: [ref(sid)]),
    # flex-context inputs (read) and the aggregate power (write)
    fc_case("consumption-price", "price", ref),
    fc_case("production-price", "price", ref),
    Case(  # FlexMeasures' deprecated field (the client's helpers still send it)
        "sensor-schedule.flex-context.consumption-price-sensor",
        "schedule",
        "price",
        "flex-context.consumption-price",
        lambda w, sid: _without_price(_sensor_schedule(w, fc={"consumption-price-sensor": sid})),
    ),
    fc_case("production-price-sensor", "price", bare, field_="flex-context.production-price"),
    fc_case("inflexible-device-sensors", "load", lambda sid: [sid]),
    fc_case("inflexible-consumption", "load", lambda sid: [ref(sid)]),
    fc_case("inflexible-production", "load", lambda sid: [ref(sid)]),
    fc_case("site-power-capacity", "cap", ref),
    fc_case("site-consumption-capacity", "cap", ref),
    fc_case("site-production-capacity", "cap", ref),
    fc_case("site-consumption-breach-price", "breach", ref),
    fc_case("site-production-breach-price", "breach", ref),
    fc_case("site-peak-consumption", "cap", ref),
    fc_case("site-peak-production", "cap", ref),
    fc_case("site-peak-consumption-price", "breach", ref),
    fc_case("site-peak-production-price", "breach", ref),
    fc_case("soc-minima-breach-price", "price", ref),
    fc_case("soc-maxima-breach-price", "price", ref),
    fc_case("consumption-breach-price", "breach", ref),
    fc_case("production-breach-price", "breach", ref),
    fc_case("aggregate-power", "agg", ref, writes=True),
    Case(
        "sensor-schedule.flex-context.commitments.baseline",
        "schedule",
        "load",
        "flex-context.commitments[0].baseline",
        lambda w, sid: _sensor_schedule(
            w,
            fc={
                "commitments": [
                    {
                        "name": "deal",
                        "baseline": ref(sid),
                        "up-price": "40 EUR/MWh",
                        "down-price": "30 EUR/MWh",
                    }
                ]
            },
        ),
    ),
    Case(
        "sensor-schedule.flex-context.commitments.up-price",
        "schedule",
        "price",
        "flex-context.commitments[0].up-price",
        lambda w, sid: _sensor_schedule(
            w,
            fc={
                "commitments": [
                    {
                        "name": "deal",
                        "baseline": "0 kW",
                        "up-price": ref(sid),
                        "down-price": "30 EUR/MWh",
                    }
                ]
            },
        ),
    ),
    # asset schedules: list entries naming a device, its outputs and inputs
    Case(
        "asset-schedule.flex-model[].sensor",
        "schedule",
        "device",
        "flex-model.sensor",
        lambda w, sid: _asset_schedule(w, {"sensor": sid}),
        writes=True,
    ),
    Case(
        "asset-schedule.flex-model[].state-of-charge",
        "schedule",
        "soc",
        "flex-model.state-of-charge",
        lambda w, sid: _asset_schedule(w, {"state-of-charge": ref(sid)}),
        writes=True,
    ),
    Case(
        "asset-schedule.flex-model[].soc-minima",
        "schedule",
        "level",
        "flex-model.soc-minima",
        lambda w, sid: _asset_schedule(w, {"soc-minima": ref(sid)}),
    ),
    Case(
        "asset-schedule.flex-model[].power-capacity",
        "schedule",
        "cap",
        "flex-model.power-capacity",
        lambda w, sid: _asset_schedule(w, {"power-capacity": ref(sid)}),
    ),
    Case(
        "asset-schedule.flex-context.production-price",
        "schedule",
        "price",
        "flex-context.production-price",
        lambda w, sid: _asset_schedule(w, {}, fc={"production-price": ref(sid)}),
    ),
    Case(
        "asset-schedule.flex-context.inflexible-device-sensors",
        "schedule",
        "load",
        "flex-context.inflexible-device-sensors",
        lambda w, sid: _asset_schedule(w, {}, fc={"inflexible-device-sensors": [sid]}),
    ),
    Case(
        "asset-schedule.flex-context.aggregate-power",
        "schedule",
        "agg",
        "flex-context.aggregate-power",
        lambda w, sid: _asset_schedule(w, {}, fc={"aggregate-power": ref(sid)}),
        writes=True,
    ),
    # a process (the process scheduler reads its price itself)
    Case(
        "process-schedule.flex-context.consumption-price",
        "schedule",
        "price",
        "flex-context.consumption-price",
        lambda w, sid: _process_schedule(w, ref(sid)),
        user="pat",
    ),
    # reports: inputs (read) and the output (write)
    Case(
        "report.profit-loss.power",
        "report",
        "load",
        "config.power",
        lambda w, sid: _report(
            w,
            "ProfitOrLossReporter",
            {"power": ref(sid), "consumption-price": ref(w.b["price"])},
            w.b["cost"],
        ),
    ),
    Case(
        "report.profit-loss.consumption-price",
        "report",
        "price",
        "config.consumption-price",
        lambda w, sid: _report(
            w,
            "profit-loss",
            {"power": ref(w.b["load"]), "consumption-price": ref(sid)},
            w.b["cost"],
        ),
    ),
    Case(
        "report.profit-loss.production-price",
        "report",
        "price",
        "config.production-price",
        lambda w, sid: _report(
            w,
            "profit-loss",
            {
                "power": ref(w.b["load"]),
                "consumption-price": ref(w.b["price"]),
                "production-price": ref(sid),
            },
            w.b["cost"],
        ),
    ),
    Case(
        "report.profit-loss.output",
        "report",
        "cost",
        "sensor",
        lambda w, sid: _report(
            w,
            "profit-loss",
            {"power": ref(w.b["load"]), "consumption-price": ref(w.b["price"])},
            sid,
        ),
        writes=True,
    ),
    Case(
        "report.aggregator.inputs",
        "report",
        "load",
        "config.inputs[1]",
        lambda w, sid: _report(
            w,
            "AggregatorReporter",
            {"inputs": [{"value": "500 kW"}, {"sensor": sid, "weight": -1}]},
            w.b["out"],
        ),
    ),
    Case(
        "report.aggregator.parameters.input",
        "report",
        "load",
        "config.inputs[0]",
        lambda w, sid: _report(w, "aggregator", {}, w.b["out"], input=[ref(sid)]),
    ),
    Case(
        "report.aggregator.output",
        "report",
        "out",
        "sensor",
        lambda w, sid: _report(w, "aggregator", {"inputs": [ref(w.b["load"])]}, sid),
        writes=True,
    ),
    Case(
        "report.sql.inputs",
        "report",
        "load",
        "config.inputs.x",
        lambda w, sid: _report(
            w,
            "SQLReporter",
            {"inputs": {"x": ref(sid)}, "sql": "SELECT event_start, 2 * value AS value FROM x"},
            w.b["out"],
        ),
    ),
    Case(
        "report.sql.output",
        "report",
        "out",
        "sensor",
        lambda w, sid: _report(
            w,
            "sql",
            {
                "inputs": {"x": ref(w.b["load"])},
                "sql": "SELECT event_start, 3 * value AS value FROM x",
            },
            sid,
        ),
        writes=True,
    ),
    # forecasts: the sensor forecast (write) and its regressors (read)
    Case(
        "forecast.sensor",
        "forecast",
        "fc_target",
        "sensor",
        lambda w, sid: _forecast(sid, [w.b["fc_reg"]]),
        writes=True,
    ),
    Case(
        "forecast.config.regressors",
        "forecast",
        "fc_reg",
        "regressors[0]",
        lambda w, sid: _forecast(w.b["fc_target"], [sid]),
    ),
]


#: sensor ids not given as JSON integers: the reporters read {"sensor": "9"} and {"sensor": 9.0}
#: as sensor 9 (``int(spec["sensor"])``), so these are references too
LOOSE_IDS: list[Case] = [
    Case(
        "report.aggregator.inputs(string id)",
        "report",
        "load",
        "config.inputs[0]",
        lambda w, sid: _report(w, "aggregator", {"inputs": [{"sensor": str(sid)}]}, w.b["out"]),
    ),
    Case(
        "report.aggregator.inputs(float id)",
        "report",
        "load",
        "config.inputs[0]",
        lambda w, sid: _report(
            w, "aggregator", {"inputs": [{"sensor": float(sid)}], "method": "mean"}, w.b["out"]
        ),
    ),
    Case(  # int(9.5) == 9
        "report.aggregator.inputs(fractional float id)",
        "report",
        "load",
        "config.inputs[0]",
        lambda w, sid: _report(w, "aggregator", {"inputs": [{"sensor": sid + 0.5}]}, w.b["out"]),
    ),
    Case(  # int("0_9") == 9
        "report.aggregator.inputs(underscored string id)",
        "report",
        "load",
        "config.inputs[0]",
        lambda w, sid: _report(w, "aggregator", {"inputs": [{"sensor": f"0_{sid}"}]}, w.b["out"]),
    ),
    Case(
        "report.sql.inputs(string id)",
        "report",
        "load",
        "config.inputs.x",
        lambda w, sid: _report(
            w,
            "sql",
            {
                "inputs": {"x": {"sensor": str(sid)}},
                "sql": "SELECT event_start, 5 * value AS value FROM x",
            },
            w.b["out"],
        ),
    ),
    Case(
        "process-schedule.flex-context.consumption-price(string id)",
        "schedule",
        "price",
        "flex-context.consumption-price",
        lambda w, sid: _process_schedule(w, {"sensor": str(sid)}),
        user="pat",
    ),
    Case(
        "process-schedule.flex-context.consumption-price(fractional float id)",
        "schedule",
        "price",
        "flex-context.consumption-price",
        lambda w, sid: _process_schedule(w, {"sensor": sid + 0.5}),
        user="pat",
    ),
    Case(
        "forecast.config.regressors(string id)",
        "forecast",
        "fc_reg",
        "regressors[0]",
        lambda w, sid: _forecast(w.b["fc_target"], [str(sid)]),
    ),
    Case(
        "report.profit-loss.consumption-price(string id, EUR production-price)",
        "report",
        "price",
        "config.consumption-price",
        lambda w, sid: _report(
            w,
            "profit-loss",
            {
                "power": ref(w.b["load"]),
                "consumption-price": {"sensor": str(sid)},
                "production-price": ref(w.b["price"]),
            },
            w.b["cost"],
        ),
    ),
    Case(
        "report.profit-loss.consumption-price(string id)",
        "report",
        "price",
        "config.consumption-price",
        lambda w, sid: _report(
            w,
            "profit-loss",
            {"power": ref(w.b["load"]), "consumption-price": {"sensor": str(sid)}},
            w.b["cost"],
        ),
    ),
]


# --- what the store holds ---------------------------------------------------------------------
def belief_counts(srv: Server, sensors: dict[str, int]) -> dict[int, int]:
    ids = sorted(set(sensors.values()))
    return srv.with_store(lambda st: {i: st.count_beliefs(i) for i in ids})


def job_count(srv: Server) -> int:
    return int(srv.with_store(lambda st: st.query("SELECT count(*) AS n FROM api_jobs")["n"][0]))


def assert_no_secret(text: str) -> None:
    low = text.lower()
    leaked = [s for s in SECRETS if s.lower() in low]
    assert not leaked, f"account A's {leaked} leaked: {text}"


def what_ran(srv: Server, job_id: str) -> str:
    """What an accepted job did (for the failure message of a reference that was not refused)."""
    with srv.client("admin") as c:
        job = wait_job(c, job_id)
    out = f"job {job['status']}: {job['message']!r}"
    result = job["result"] or {}
    for sid in result.get("sensor_ids") or []:
        start, end = (datetime.fromisoformat(result[k]) for k in ("start", "end"))
        frame = srv.with_store(
            lambda st, sid=sid, start=start, end=end: st.search_beliefs(
                sid, start, end, source_ids=result.get("source_ids") or None
            )
        )
        values = sorted(set(frame["event_value"].round(3).to_list()))[:5]
        out += f"; it saved {frame.height} beliefs on sensor {sid} with values {values}"
    return out


def post_refused(
    world: World, user: str, url: str, body: dict[str, Any], what: str, statuses=(403,)
) -> dict[str, Any]:
    """POST as ``user``: refused (one of ``statuses``) before a job exists, account A's sensors
    untouched, nothing of A's in the answer; returns the answer's JSON."""
    srv = world.srv
    counts, jobs = belief_counts(srv, world.a), job_count(srv)
    with srv.client(user) as c:
        r = c.post(url, json=body)
    srv.state.jobs.wait_idle()
    assert_no_secret(r.text)
    if r.status_code == 202:
        did = what_ran(srv, r.json()["job"])
        after = belief_counts(srv, world.a)
        changed = {s: f"{counts[s]} → {after[s]}" for s in counts if after[s] != counts[s]}
        pytest.fail(f"{what} was accepted; {did}; account A's belief counts changed: {changed}")
    assert r.status_code in statuses, f"{what}: {r.status_code} {r.text}"
    assert job_count(srv) == jobs, f"{what}: a job was recorded for a refused request"
    assert belief_counts(srv, world.a) == counts, f"{what}: account A's sensors changed"
    return r.json()


# --- the tests --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_foreign_sensor_is_refused_at_trigger_time(world: World, case: Case) -> None:
    foreign = world.a[case.role]
    url, body = case.make(world, foreign)
    what = f"{case.id} naming sensor {foreign} of account A"
    message = post_refused(world, case.user, url, body, what)["message"]
    assert case.field in message and str(foreign) in message, message
    assert "another account" in message and EMAILS[case.user] in message, message


@pytest.mark.parametrize("case", LOOSE_IDS, ids=[c.id for c in LOOSE_IDS])
def test_foreign_sensor_id_not_given_as_an_integer_is_refused(world: World, case: Case) -> None:
    """Refused with 403 (or 400: not a sensor id) before a job exists, like an integer id."""
    foreign = world.a[case.role]
    url, body = case.make(world, foreign)
    what = f"{case.id} naming sensor {foreign} of account A"
    post_refused(world, case.user, url, body, what, statuses=(400, 403))


def _asset_report_body(w: World) -> dict[str, Any]:
    body = _report(w, "aggregator", {"inputs": [ref(w.b["load"])]}, w.b["out"])[1]
    body["parameters"].pop("output")
    return body


FOREIGN_ASSET_DOORS: dict[str, tuple[str, Callable[[World], dict[str, Any]]]] = {
    "asset-schedule": ("schedules/trigger", lambda w: {"start": DAY, "duration": "PT6H"}),
    "asset-report": ("reports/trigger", _asset_report_body),
}


@pytest.mark.parametrize("door", sorted(FOREIGN_ASSET_DOORS))
def test_foreign_asset_is_refused(world: World, door: str) -> None:
    """Triggers on account A's asset itself (whose flex-context and devices are A's)."""
    path, make = FOREIGN_ASSET_DOORS[door]
    asset = world.srv.ids["other_asset"]
    url = f"/api/v3_0/assets/{asset}/{path}"
    answer = post_refused(world, "bob", url, make(world), f"{door} of account A's asset")
    assert f"asset {asset} belongs to another account" in answer["message"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_own_sensor_in_the_same_field_is_accepted_and_runs(world: World, case: Case) -> None:
    srv = world.srv
    own = world.own(case.user)[case.role]
    url, body = case.make(world, own)
    a_counts = belief_counts(srv, world.a)
    with srv.client(case.user) as c:
        r = c.post(url, json=body)
        assert r.status_code == 202, f"{case.id}: {r.status_code} {r.text}"
        job = wait_job(c, r.json()["job"], timeout=120)
    assert job["status"] == "FINISHED", f"{case.id}: {job['message']}"
    assert_no_secret(r.text + str(job))
    if case.writes:  # the run says it saved on the user's sensor, which holds the window
        assert own in job["result"]["sensor_ids"], job["result"]
        start, end = (datetime.fromisoformat(job["result"][k]) for k in ("start", "end"))
        assert srv.with_store(lambda st: st.search_beliefs(own, start, end).height) > 0
    assert belief_counts(srv, world.a) == a_counts


@pytest.fixture
def stored(world: World) -> Any:
    """B's building flex-context, battery flex-model and forecast sensor attributes, and the
    process's flex-model, restored after the test."""
    srv, ids = world.srv, world.srv.ids
    building, battery, process = ids["building"], ids["battery"], ids["process"]
    target = world.b["fc_target"]
    fc, fm, pfm, attrs = srv.with_store(
        lambda st: (
            st.get_asset(building).flex_context,
            st.get_asset(battery).flex_model,
            st.get_asset(process).flex_model,
            st.get_sensor(target).attributes,
        )
    )
    yield {"building": (building, fc), "battery": (battery, fm), "process": (process, pfm)}
    srv.with_store(
        lambda st: (
            st.update_asset(building, flex_context=fc),
            st.update_asset(battery, flex_model=fm),
            st.update_asset(process, flex_model=pfm),
            st.update_sensor(target, attributes=attrs),
        )
    )


@pytest.mark.parametrize("what", ["flex-context", "flex-model"])
def test_stored_flex_references_to_foreign_sensors_are_refused(
    world: World, stored: Any, what: str
) -> None:
    """B's account-admin stores A's sensor in B's own site flex-context or battery flex-model
    (refused through the API; stored directly all the same); bob's trigger reads them: refused. The
    same stored field naming B's own sensor schedules fine."""
    srv = world.srv
    url, body = _sensor_schedule(world)
    body["force-new-job-creation"] = True
    if what == "flex-context":
        asset, fc = stored["building"]
        fld, role = "flex-context.consumption-price", "price"
        body.pop("flex-context")  # the stored one applies

        def patch(sid: int) -> dict[str, Any]:
            return {"flex_context": {**fc, "consumption-price": ref(sid)}}
    else:
        asset, fm = stored["battery"]
        fld, role = "flex-model.state-of-charge", "soc"

        def patch(sid: int) -> dict[str, Any]:
            return {"flex_model": {**fm, "state-of-charge": ref(sid)}}

    with srv.client("alice") as c:  # refused when stored through the API
        p = c.patch(f"/api/v3_0/assets/{asset}", json=patch(world.a[role]))
    assert p.status_code == 403, p.text
    assert_no_secret(p.text)
    # stored all the same (before that rule, or by the store's owner): refused when triggered
    srv.with_store(lambda st: st.update_asset(asset, **patch(world.a[role])))
    message = post_refused(world, "bob", url, body, f"stored {fld} naming A's sensor")["message"]
    assert fld in message and "another account" in message, message
    with srv.client("alice") as c:
        assert c.patch(f"/api/v3_0/assets/{asset}", json=patch(world.b[role])).status_code == 200
    with srv.client("bob") as c:
        r = c.post(url, json=body)
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job"])
    assert job["status"] == "FINISHED", job["message"]


@pytest.mark.parametrize(
    "form",
    [str, float, lambda sid: sid + 0.5],
    ids=["string id", "float id", "fractional float id"],
)
def test_stored_process_sensor_not_given_as_an_integer_is_refused(
    world: World, stored: Any, form: Callable[[int], Any]
) -> None:
    """The process account's account-admin stores A's power sensor as its process's
    ``"sensor"``, as a string or a float (``int()`` makes 11.5 sensor 11); pat's asset schedule would save the process schedule
    there: refused (403, or 400: not a sensor id) before a job exists, A's sensor unwritten."""
    srv = world.srv
    process, fm = stored["process"]
    foreign = world.a["power"]
    url = f"/api/v3_0/assets/{process}/schedules/trigger"
    price = ref(world.p["price"])
    body = {
        "start": DAY,
        "duration": "PT12H",
        "flex-context": {"consumption-price": price},
        "force-new-job-creation": True,  # never the de-duplicated job of an earlier trigger
    }
    with srv.client() as c:
        c.headers["Authorization"] = world.p_admin_token
        p = c.patch(
            f"/api/v3_0/assets/{process}", json={"flex_model": {**fm, "sensor": form(foreign)}}
        )
    assert p.status_code in (400, 403), p.text  # refused when stored through the API
    assert_no_secret(p.text)
    # stored all the same (before that rule, or by the store's owner): refused when triggered
    bad = {**fm, "sensor": form(foreign)}
    srv.with_store(lambda st: st.update_asset(process, flex_model=bad))
    what = f"stored process sensor {form(foreign)!r} of account A"
    post_refused(world, "pat", url, body, what, statuses=(400, 403))
    srv.with_store(lambda st: st.update_asset(process, flex_model=fm))
    with srv.client("pat") as c:  # the process's own (integer) sensor schedules fine
        r = c.post(url, json=body)
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["job"])["status"] == "FINISHED"


def test_stored_forecast_regressor_of_a_foreign_sensor_is_refused_at_trigger_time(
    world: World, stored: Any
) -> None:
    """B's account-admin configures A's sensor as a regressor of B's sensor
    (``attributes.forecast.regressors``, what a forecast without ``config.regressors`` uses);
    bob's forecast trigger is refused before a job exists, as a stored flex-context is."""
    srv, target, foreign = world.srv, world.b["fc_target"], world.a["load"]
    attributes = {"forecast": {"regressors": [foreign]}}
    with srv.client("alice") as c:  # refused when stored through the API
        p = c.patch(f"/api/v3_0/sensors/{target}", json={"attributes": attributes})
    assert p.status_code == 403, p.text
    assert_no_secret(p.text)
    # stored all the same (before that rule, or by the store's owner): refused when triggered
    srv.with_store(lambda st: st.update_sensor(target, attributes=attributes))
    url, body = _forecast(target, [])
    body["config"].pop("regressors")  # the stored ones apply
    message = post_refused(world, "bob", url, body, "stored regressor naming A's sensor")["message"]
    assert "regressors" in message and str(foreign) in message, message


def test_unmet_soft_soc_target_reaches_the_api(world: World) -> None:
    """440 kWh half an hour after starting at 100 kWh cannot be reached at 500 kW: the target is
    soft (relax-soc-constraints defaults to true), the job finishes and says what was missed."""
    srv = world.srv
    target_time = "2026-01-07T00:30:00+01:00"
    body = {
        "start": UNMET_DAY,
        "duration": "PT6H",
        "flex-model": {
            "soc-at-start": "100 kWh",
            "soc-targets": [{"datetime": target_time, "value": "440 kWh"}],
        },
        "flex-context": {"consumption-price": ref(world.b["price"])},
    }
    power = world.b["power"]
    with srv.client("bob") as c:
        r = c.post(f"/api/v3_0/sensors/{power}/schedules/trigger", json=body)
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]
        job = wait_job(c, job_id)
        assert job["status"] == "FINISHED", job
        got = c.get(f"/api/v3_0/sensors/{power}/schedules/{job_id}")
    assert got.status_code == 200, got.text
    # at most 0.5 h × 500 kW × √0.9 stored on top of 100 kWh
    reachable = 0.1 + 0.5 * 0.5 * 0.9**0.5
    pattern = re.compile(
        r"unmet soc-targets of (?P<dev>.+?) at (?P<t>\S+): 0\.44 MWh required, "
        r"(?P<got>[0-9.]+) scheduled"
    )
    m = pattern.search(job["message"])
    assert m and re.match(r"Scheduling job has finished\. \d+ warning\(s\): ", job["message"]), job
    assert float(m["got"]) == pytest.approx(reachable, abs=1e-5)
    assert datetime.fromisoformat(m["t"]) == datetime.fromisoformat(target_time)
    unmet = [w for w in job["result"]["warnings"] if w["kind"] == "unmet-target"]
    assert len(unmet) == 1 and unmet[0]["field"] == "soc-targets"
    assert unmet[0]["required"] == pytest.approx(0.44)
    assert unmet[0]["scheduled"] == pytest.approx(reachable, abs=1e-5)
    assert unmet[0]["message"].startswith(m[0])
    warnings = got.json()["warnings"]
    assert warnings and warnings == job["result"]["warnings"]
    # the schedule charges at full power until the target time; the saved SoC is what was scheduled
    values = got.json()["values"]
    assert [abs(v) for v in values[:2]] == pytest.approx([500.0, 500.0], abs=1e-3), values[:4]
    at = datetime.fromisoformat(target_time)
    soc = srv.with_store(
        lambda st: st.search_beliefs(
            world.b["soc"], at, at + timedelta(minutes=1), source_ids=job["result"]["source_ids"]
        )
    )
    assert soc["event_value"].to_list() == pytest.approx([reachable * 1000], abs=1e-3)
