"""Sensor ids not given as JSON integers that a reader still turns into account A's sensor
with ``int()`` (``"9"``, ``9.0``, ``9.5``, ``"0_9"``): refused before a job exists, like an
integer id. The world and the request builders are in ``_cross_account.py``.
"""

from __future__ import annotations

import pytest

from tests.api import _cross_account
from tests.api._cross_account import (
    Case,
    World,
    _forecast,
    _process_schedule,
    _report,
    post_refused,
    ref,
)

#: the two-account world, built on this module's own server (``server`` is module-scoped)
world = _cross_account.world


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


@pytest.mark.parametrize("case", LOOSE_IDS, ids=[c.id for c in LOOSE_IDS])
def test_foreign_sensor_id_not_given_as_an_integer_is_refused(world: World, case: Case) -> None:
    """Refused with 403 (or 400: not a sensor id) before a job exists, like an integer id."""
    foreign = world.a[case.role]
    url, body = case.make(world, foreign)
    what = f"{case.id} naming sensor {foreign} of account A"
    post_refused(world, case.user, url, body, what, statuses=(400, 403))
