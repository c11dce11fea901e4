"""Two accounts on the live API server: the world, the requests and the checks the
cross-account tests (``test_cross_account_*.py``, ``test_unmet_target_api.py``) share.

Account A (``Other``, carol's) owns sensors with distinctive values (12345.678, 7777.321,
4321.987, 6543.219), a unit no other sensor has (``JPY/MWh``) and distinctive names
(``zebra-…``). Account B (the toy account: bob, and alice its account-admin) owns a battery
site; the process account (pat) a process. ``world`` (module-scoped: one per test module, on
that module's server) builds them; the request builders put a sensor id in one field of a
trigger (sensor and asset schedules of a battery and of a process, profit-loss, aggregator and
SQL reports, forecasts); ``Case`` names one such reference; ``post_refused`` posts a request
that must be refused before any job exists, with A's sensors untouched and nothing of A's in
the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flex_pipelines.api.auth import hash_password
from tests.api.conftest import PASSWORD, Server
from tests.api.test_jobs import PRICES, wait_job
from tests.helpers import belief_frame

DAY = "2026-01-06T00:00:00+01:00"
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
