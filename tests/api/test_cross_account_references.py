"""Every sensor reference a trigger accepts, naming account A's sensors through the live API.

B's users (bob; pat for the process account) name A's sensors in every field of every door
(sensor and asset schedules of a battery and of a process, profit-loss, aggregator and SQL
reports, forecasts): each request is refused with 403 at trigger time, no job is recorded, A's
sensors hold exactly the beliefs they held before, and no value, unit or name of A's appears in
the answer. The same requests naming the user's own sensors are accepted and run (so the
refusals are about ownership, not a broken request). Triggers on A's asset itself are refused
too. The world and the request builders are in ``_cross_account.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.api import _cross_account
from tests.api._cross_account import (
    DAY,
    Case,
    World,
    _asset_schedule,
    _forecast,
    _process_schedule,
    _report,
    _sensor_schedule,
    _without_price,
    assert_no_secret,
    bare,
    belief_counts,
    fc_case,
    fm_case,
    post_refused,
    ref,
)
from tests.api.conftest import EMAILS
from tests.api.test_jobs import wait_job

#: the two-account world, built on this module's own server (``server`` is module-scoped)
world = _cross_account.world


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


# --- the tests --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_foreign_sensor_is_refused_at_trigger_time(world: World, case: Case) -> None:
    foreign = world.a[case.role]
    url, body = case.make(world, foreign)
    what = f"{case.id} naming sensor {foreign} of account A"
    message = post_refused(world, case.user, url, body, what)["message"]
    assert case.field in message and str(foreign) in message, message
    assert "another account" in message and EMAILS[case.user] in message, message


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
