"""Every FlexMeasures 1.0.1 v3 route (tests/api/flexmeasures_v3_routes.py) is served — or
answered 410 NOT_APPLICABLE as documented — with the right outcome for an admin, an account-admin, a plain
user of the account that owns the target, and an account-admin of another account."""

from __future__ import annotations

import io
import itertools
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from flex_pipelines.api.auth import hash_password
from tests.api.flexmeasures_v3_routes import NOT_APPLICABLE, ROUTES
from tests.api.test_jobs import wait_job

WHO = ("admin", "alice", "bob", "carol")
DAY = "2026-01-06T00:00:00+01:00"
_n = itertools.count()


def fresh_asset(srv: Any) -> int:
    acc = srv.ids["account"]
    return srv.with_store(lambda s: s.add_asset(f"tmp{next(_n)}", "battery", acc).id)


def fresh_sensor(srv: Any) -> int:
    site = srv.ids["building"]
    return srv.with_store(
        lambda s: s.add_sensor(f"tmp{next(_n)}", "kW", timedelta(hours=1), asset_id=site).id
    )


def fresh_user(srv: Any) -> int:
    acc, pw = srv.ids["account"], hash_password("x" * 12, rounds=4)
    return srv.with_store(lambda s: s.add_user(acc, f"u{next(_n)}@toy.example", pw).id)


def annotation() -> dict[str, Any]:
    return {"content": f"note {next(_n)}", "start": DAY, "end": "2026-01-07T00:00:00+01:00"}


def data(srv: Any) -> dict[str, Any]:
    return {"values": [1.0, 2.0, 3.0, 4.0], "start": DAY, "duration": "PT1H", "unit": "kW"}


OK4 = (200, 200, 200, 403)  # read: the account's users and admins, not another account
ADMIN_ONLY = (201, 403, 403, 403)
ACCOUNT_ADMINS = (200, 200, 403, 403)


def cases(srv: Any, jobs: dict[str, str]) -> dict[tuple[str, str], tuple[Any, tuple[int, ...]]]:
    """Per route: a function (who → path, request kwargs) and the statuses for WHO."""
    ids = srv.ids
    acc, asset, sensor = ids["account"], ids["building"], ids["power_sensor"]
    ea = f"ea1.2026-01.flexpipelines:fm1.{sensor}"
    window = {"start": DAY, "duration": "PT1H"}
    trig = {"start": "2026-01-07T00:00:00+01:00", "duration": "PT6H"}
    v = "/api/v3_0"
    return {
        ("GET", f"{v}/accounts"): (lambda w: (f"{v}/accounts", {}), (200,) * 4),
        ("POST", f"{v}/accounts"): (
            lambda w: (f"{v}/accounts", {"json": {"name": f"New {next(_n)}"}}),
            ADMIN_ONLY,
        ),  # noqa: E501
        ("GET", f"{v}/accounts/{{id}}"): (lambda w: (f"{v}/accounts/{acc}", {}), OK4),
        ("PATCH", f"{v}/accounts/{{id}}"): (
            lambda w: (f"{v}/accounts/{acc}", {"json": {"name": "Toy Account"}}),
            OK4,
        ),  # noqa: E501
        ("GET", f"{v}/accounts/{{id}}/auditlog"): (
            lambda w: (f"{v}/accounts/{acc}/auditlog", {}),
            ACCOUNT_ADMINS,
        ),  # noqa: E501
        ("POST", f"{v}/accounts/{{id}}/annotations"): (
            lambda w: (f"{v}/accounts/{acc}/annotations", {"json": annotation()}),
            (201, 201, 403, 403),
        ),  # noqa: E501
        ("GET", f"{v}/assets/types"): (lambda w: (f"{v}/assets/types", {}), (200,) * 4),
        ("GET", f"{v}/assets"): (lambda w: (f"{v}/assets", {}), (200,) * 4),
        ("GET", f"{v}/assets/{{id}}/sensors"): (lambda w: (f"{v}/assets/{asset}/sensors", {}), OK4),  # noqa: E501
        ("GET", f"{v}/assets/public"): (lambda w: (f"{v}/assets/public", {}), (200,) * 4),
        ("POST", f"{v}/assets"): (
            lambda w: (
                f"{v}/assets",
                {"json": {"name": "n", "generic_asset_type_id": 1, "account_id": acc}},
            ),
            (201, 201, 403, 403),
        ),  # noqa: E501
        ("GET", f"{v}/assets/{{id}}"): (lambda w: (f"{v}/assets/{asset}", {}), OK4),
        ("PATCH", f"{v}/assets/{{id}}"): (
            lambda w: (f"{v}/assets/{fresh_asset(srv)}", {"json": {"name": "renamed"}}),
            ACCOUNT_ADMINS,
        ),  # noqa: E501
        ("DELETE", f"{v}/assets/{{id}}"): (
            lambda w: (f"{v}/assets/{fresh_asset(srv)}", {}),
            (204, 204, 403, 403),
        ),  # noqa: E501
        ("GET", f"{v}/assets/{{id}}/chart"): (
            lambda w: (f"{v}/assets/{asset}/chart", {}),
            (410,) * 4,
        ),  # noqa: E501
        ("GET", f"{v}/assets/{{id}}/chart_data"): (
            lambda w: (
                f"{v}/assets/{asset}/chart_data",
                {
                    "params": {
                        "event_starts_after": DAY,
                        "event_ends_before": "2026-01-07T00:00:00+01:00",
                    }
                },
            ),
            OK4,
        ),  # noqa: E501
        ("GET", f"{v}/assets/{{id}}/chart_annotations"): (
            lambda w: (f"{v}/assets/{asset}/chart_annotations", {}),
            OK4,
        ),  # noqa: E501
        ("GET", f"{v}/assets/{{id}}/auditlog"): (
            lambda w: (f"{v}/assets/{asset}/auditlog", {}),
            OK4,
        ),  # noqa: E501
        ("GET", f"{v}/assets/{{id}}/jobs"): (lambda w: (f"{v}/assets/{asset}/jobs", {}), OK4),
        ("POST", f"{v}/assets/default_asset_view"): (
            lambda w: (f"{v}/assets/default_asset_view", {"json": {}}),
            (410,) * 4,
        ),  # noqa: E501
        ("POST", f"{v}/assets/keep_legends_below_graphs"): (
            lambda w: (f"{v}/assets/keep_legends_below_graphs", {"json": {}}),
            (410,) * 4,
        ),  # noqa: E501
        ("POST", f"{v}/assets/{{id}}/schedules/trigger"): (
            lambda w: (f"{v}/assets/{ids['battery']}/schedules/trigger", {"json": trig}),
            (202, 202, 202, 403),
        ),  # noqa: E501
        ("GET", f"{v}/assets/{{id}}/kpis"): (
            lambda w: (
                f"{v}/assets/{asset}/kpis",
                {"params": {"start": DAY, "end": "2026-01-07T00:00:00+01:00"}},
            ),
            OK4,
        ),  # noqa: E501
        ("POST", f"{v}/assets/{{id}}/annotations"): (
            lambda w: (f"{v}/assets/{asset}/annotations", {"json": annotation()}),
            (201, 201, 201, 403),
        ),  # noqa: E501
        ("POST", f"{v}/assets/{{id}}/copy"): (
            lambda w: (f"{v}/assets/{ids['battery']}/copy", {}),
            (201, 201, 403, 403),
        ),  # noqa: E501
        ("GET", f"{v}/sensors/data"): (
            lambda w: (f"{v}/sensors/data", {"params": {"sensor": ea, **window}}),
            OK4,
        ),  # noqa: E501
        ("POST", f"{v}/sensors/data"): (
            lambda w: (f"{v}/sensors/data", {"json": {"sensor": ea, **data(srv)}}),
            OK4,
        ),  # noqa: E501
        ("GET", f"{v}/health/ready"): (lambda w: (f"{v}/health/ready", {}), (200,) * 4),
        ("GET", f"{v}/jobs/{{uuid}}"): (lambda w: (f"{v}/jobs/{jobs['schedule']}", {}), OK4),
        ("GET", v): (lambda w: (v, {}), (200,) * 4),
        ("GET", f"{v}/sensors"): (lambda w: (f"{v}/sensors", {}), (200,) * 4),
        ("POST", f"{v}/sensors/{{id}}/data/upload"): (
            lambda w: (
                f"{v}/sensors/{sensor}/data/upload",
                {
                    "files": {
                        "uploaded-files": (
                            "d.csv",
                            io.BytesIO(b"event_start,value\n2026-01-06T00:00:00+01:00,1.5\n"),
                        )
                    }
                },
            ),
            OK4,
        ),  # noqa: E501
        ("POST", f"{v}/sensors/{{id}}/data"): (
            lambda w: (f"{v}/sensors/{sensor}/data", {"json": data(srv)}),
            OK4,
        ),  # noqa: E501
        ("GET", f"{v}/sensors/{{id}}/data"): (
            lambda w: (f"{v}/sensors/{sensor}/data", {"params": window}),
            OK4,
        ),  # noqa: E501
        ("POST", f"{v}/sensors/{{id}}/schedules/trigger"): (
            lambda w: (f"{v}/sensors/{sensor}/schedules/trigger", {"json": trig}),
            (202, 202, 202, 403),
        ),  # noqa: E501
        ("GET", f"{v}/sensors/{{id}}/schedules/{{uuid}}"): (
            lambda w: (f"{v}/sensors/{sensor}/schedules/{jobs['schedule']}", {}),
            OK4,
        ),  # noqa: E501
        ("GET", f"{v}/sensors/{{id}}"): (lambda w: (f"{v}/sensors/{sensor}", {}), OK4),
        ("POST", f"{v}/sensors"): (
            lambda w: (
                f"{v}/sensors",
                {
                    "json": {
                        "name": "s",
                        "unit": "kW",
                        "event_resolution": "PT1H",
                        "generic_asset_id": asset,
                    }
                },
            ),
            (201, 201, 403, 403),
        ),  # noqa: E501
        ("PATCH", f"{v}/sensors/{{id}}"): (
            lambda w: (f"{v}/sensors/{fresh_sensor(srv)}", {"json": {"name": "renamed"}}),
            ACCOUNT_ADMINS,
        ),  # noqa: E501
        ("DELETE", f"{v}/sensors/{{id}}"): (
            lambda w: (f"{v}/sensors/{fresh_sensor(srv)}", {}),
            (204, 204, 403, 403),
        ),  # noqa: E501
        ("DELETE", f"{v}/sensors/{{id}}/data"): (
            lambda w: (f"{v}/sensors/{fresh_sensor(srv)}/data", {}),
            (204, 204, 403, 403),
        ),  # noqa: E501
        ("GET", f"{v}/sensors/{{id}}/stats"): (lambda w: (f"{v}/sensors/{sensor}/stats", {}), OK4),  # noqa: E501
        ("GET", f"{v}/sensors/{{id}}/status"): (
            lambda w: (f"{v}/sensors/{sensor}/status", {}),
            OK4,
        ),  # noqa: E501
        ("POST", f"{v}/sensors/{{id}}/forecasts/trigger"): (
            lambda w: (
                f"{v}/sensors/{jobs['load']}/forecasts/trigger",
                {"json": {"start": "2026-01-31T00:00:00+00:00", "duration": "P1D"}},
            ),
            (202, 202, 202, 403),
        ),  # noqa: E501
        ("GET", f"{v}/sensors/{{id}}/forecasts/{{uuid}}"): (
            lambda w: (f"{v}/sensors/{jobs['load']}/forecasts/{jobs['forecast']}", {}),
            OK4,
        ),  # noqa: E501
        ("POST", f"{v}/sensors/{{id}}/annotations"): (
            lambda w: (f"{v}/sensors/{sensor}/annotations", {"json": annotation()}),
            (201, 201, 201, 403),
        ),  # noqa: E501
        ("GET", f"{v}/sources"): (lambda w: (f"{v}/sources", {}), (200,) * 4),
        ("GET", f"{v}/users"): (lambda w: (f"{v}/users", {}), (200,) * 4),
        ("POST", f"{v}/users"): (
            lambda w: (
                f"{v}/users",
                {"json": {"email": f"n{next(_n)}@toy.example", "username": "n", "account_id": acc}},
            ),
            (201, 201, 403, 403),
        ),  # noqa: E501
        ("GET", f"{v}/users/{{id}}"): (lambda w: (f"{v}/users/{ids['user_bob']}", {}), OK4),
        ("PATCH", f"{v}/users/{{id}}"): (
            lambda w: (f"{v}/users/{fresh_user(srv)}", {"json": {"active": False}}),
            ACCOUNT_ADMINS,
        ),  # noqa: E501
        ("PATCH", f"{v}/users/{{id}}/password-reset"): (
            lambda w: (f"{v}/users/{fresh_user(srv)}/password-reset", {}),
            ACCOUNT_ADMINS,
        ),  # noqa: E501
        ("GET", f"{v}/users/{{id}}/auditlog"): (
            lambda w: (f"{v}/users/{fresh_user(srv)}/auditlog", {}),
            ACCOUNT_ADMINS,
        ),  # noqa: E501
    }


@pytest.fixture(scope="module")
def jobs(server) -> dict[str, str]:  # noqa: ANN001
    """A finished schedule and a forecast job, triggered by the account's plain user."""
    from tests.api.test_jobs import post_prices

    post_prices(server)
    with server.client("bob") as c:
        sensor = server.ids["power_sensor"]
        trigger = {"start": DAY, "duration": "PT6H", "flex-model": {"soc-at-start": "100 kWh"}}
        r = c.post(f"/api/v3_0/sensors/{sensor}/schedules/trigger", json=trigger)
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["job"])["status"] == "FINISHED"
        load = fresh_sensor(server)
        values = [float(h % 24) for h in range(24 * 30)]
        c.post(
            f"/api/v3_0/sensors/{load}/data",
            json={
                "values": values,
                "start": "2026-01-01T00:00:00+00:00",
                "duration": "P30D",
                "unit": "kW",
            },
        )  # noqa: E501
        f = c.post(
            f"/api/v3_0/sensors/{load}/forecasts/trigger",
            json={"start": "2026-01-31T00:00:00+00:00", "duration": "P1D"},
        )  # noqa: E501
        assert f.status_code == 202, f.text
        wait_job(c, f.json()["job"])
    return {"schedule": r.json()["job"], "load": str(load), "forecast": f.json()["job"]}


def test_the_list_is_flexmeasures_1_0_1s(server) -> None:  # noqa: ANN001
    """53 method+path pairs, each one in our OpenAPI document."""
    assert len(ROUTES) == len(set(ROUTES)) == 53
    spec = httpx.get(f"{server.base}/openapi.json").json()["paths"]
    param = re.compile(r"\{[a-z_]+\}")
    served = {(m.upper(), param.sub("{x}", p)) for p, ops in spec.items() for m in ops}
    for method, path in ROUTES:
        assert (method, param.sub("{x}", path)) in served, f"{method} {path} is not served"
    assert set(ROUTES) >= NOT_APPLICABLE


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_each_route_answers_each_role(server, jobs, method: str, path: str) -> None:  # noqa: ANN001
    make, expected = cases(server, jobs)[(method, path)]
    got = []
    for who in WHO:
        url, kwargs = make(who)
        with server.client(who) as c:
            r = c.request(method, url, **kwargs)
        got.append(r.status_code)
        if r.status_code >= 400:
            assert r.json()["message"], r.text  # every refusal says why
    assert tuple(got) == expected, f"{method} {path}: got {got}, expected {expected}"
    if (method, path) in NOT_APPLICABLE:
        assert "docs/api.md" in r.json()["message"]
    # no token: 401, except the public listing and readiness
    anonymous = httpx.request(method, server.base + make("admin")[0], timeout=30)
    public = path in ("/api/v3_0", "/api/v3_0/health/ready")
    assert (anonymous.status_code == 200) if public else anonymous.status_code == 401
