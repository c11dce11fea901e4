"""Account A's sensors stored in B's own settings: refused when stored through the API, and
when stored all the same, refused at trigger time before a job exists.

B's account-admin stores A's sensor in B's own site flex-context or battery flex-model, the
process account's account-admin stores A's power sensor (as a string or a float) as its
process's ``"sensor"``, and A's sensor as a forecast regressor of B's sensor. The world and the
request builders are in ``_cross_account.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api import _cross_account
from tests.api._cross_account import (
    DAY,
    World,
    _forecast,
    _sensor_schedule,
    assert_no_secret,
    post_refused,
    ref,
)
from tests.api.test_jobs import wait_job

#: the two-account world, built on this module's own server (``server`` is module-scoped)
world = _cross_account.world


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
