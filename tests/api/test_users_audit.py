"""User management, token revocation, login throttling per account and the audit log, through a
live server: what an operator does when a user leaves or a token leaks."""

from __future__ import annotations

import httpx

from flex_pipelines.api.auth import LoginThrottle
from tests.api.conftest import PASSWORD

GOOD = "a long enough password"


def login(srv, email: str, password: str) -> httpx.Response:  # noqa: ANN001
    return httpx.post(
        f"{srv.base}/api/requestAuthToken", json={"email": email, "password": password}
    )  # noqa: E501


def test_create_deactivate_revoke_reset_delete(serve) -> None:  # noqa: ANN001
    srv = serve()
    acc = srv.ids["account"]
    with srv.client("alice") as alice:
        short = alice.post(
            "/api/v3_0/users",
            json={"email": "dan@toy.example", "account_id": acc, "password": "abc"},
        )  # noqa: E501
        assert short.status_code == 422 and "at least 8" in short.json()["message"]
        bad = alice.post(
            "/api/v3_0/users", json={"email": "not-an-email", "account_id": acc, "password": GOOD}
        )  # noqa: E501
        assert bad.status_code == 422 and "not a valid e-mail" in bad.json()["message"]
        made = alice.post(
            "/api/v3_0/users",
            json={
                "email": "Dan@toy.example",
                "username": "dan",
                "account_id": acc,
                "password": GOOD,
            },
        )  # noqa: E501
        assert made.status_code == 201, made.text
        dan = made.json()["id"]
        assert (
            alice.post(
                "/api/v3_0/users", json={"email": "dan@toy.example", "account_id": acc}
            ).status_code
            == 400
        )  # noqa: E501
        token = login(srv, "dan@toy.example", GOOD).json()["auth_token"]
        as_dan = {"Authorization": token}
        assert httpx.get(f"{srv.base}/api/v3_0/users/{dan}", headers=as_dan).status_code == 200
        # the admin role never over the API; account-admin only by admins
        assert (
            alice.patch(
                f"/api/v3_0/users/{dan}", json={"flexmeasures_roles": ["admin"]}
            ).status_code
            == 403
        )  # noqa: E501
        assert (
            alice.patch(
                f"/api/v3_0/users/{dan}", json={"flexmeasures_roles": ["account-admin"]}
            ).status_code
            == 403
        )  # noqa: E501
        with srv.client("admin") as admin:
            promoted = admin.patch(
                f"/api/v3_0/users/{dan}", json={"flexmeasures_roles": ["account-admin"]}
            )  # noqa: E501
            assert promoted.json()["flexmeasures_roles"] == ["account-admin"]
        # users cannot (re)activate themselves
        assert (
            httpx.patch(
                f"{srv.base}/api/v3_0/users/{dan}", headers=as_dan, json={"active": True}
            ).status_code
            == 403
        )  # noqa: E501
        # deactivation ends the token at once (no 30 s cache) and refuses logins
        off = alice.patch(f"/api/v3_0/users/{dan}", json={"active": False})
        assert off.status_code == 200 and off.json()["active"] is False
        assert httpx.get(f"{srv.base}/api/v3_0/users", headers=as_dan).status_code == 401
        assert login(srv, "dan@toy.example", GOOD).status_code == 401
        alice.patch(f"/api/v3_0/users/{dan}", json={"active": True})
        # a leaked token: revoke every token of the user
        token = login(srv, "dan@toy.example", GOOD).json()["auth_token"]
        assert (
            httpx.get(f"{srv.base}/api/v3_0/users", headers={"Authorization": token}).status_code
            == 200
        )  # noqa: E501
        revoked = alice.delete(f"/api/v3_0/users/{dan}/tokens")
        assert revoked.status_code == 200 and revoked.json()["revoked"] == 1
        assert (
            httpx.get(f"{srv.base}/api/v3_0/users", headers={"Authorization": token}).status_code
            == 401
        )  # noqa: E501
        # a password reset: the old password and tokens stop working; the user sets a new one
        token = login(srv, "dan@toy.example", GOOD).json()["auth_token"]
        assert alice.patch(f"/api/v3_0/users/{dan}/password-reset").status_code == 200
        assert login(srv, "dan@toy.example", GOOD).status_code == 401
        assert (
            httpx.get(f"{srv.base}/api/v3_0/users", headers={"Authorization": token}).status_code
            == 401
        )  # noqa: E501
        with srv.client("admin") as admin:
            assert (
                admin.patch(
                    f"/api/v3_0/users/{dan}", json={"password": "another good one"}
                ).status_code
                == 200
            )  # noqa: E501
        assert login(srv, "dan@toy.example", "another good one").status_code == 200
        # plain users delete nobody; account-admins delete their account's users
        with srv.client("bob") as bob:
            assert bob.delete(f"/api/v3_0/users/{dan}").status_code == 403
        with srv.client("carol") as carol:
            assert carol.delete(f"/api/v3_0/users/{dan}").status_code == 403
        assert alice.delete(f"/api/v3_0/users/{dan}").status_code == 204
        assert alice.get(f"/api/v3_0/users/{dan}").status_code == 404
        assert login(srv, "dan@toy.example", "another good one").status_code == 401
        # the account's audit log tells who did all that
        log = alice.get(f"/api/v3_0/accounts/{acc}/auditlog").json()
        mine = [e["event"] for e in log if e["active_user_name"] == "alice@toy.example"]
        assert any(e.startswith("Created user dan@toy.example") for e in mine)
        assert any("active: True → False" in e for e in mine)
        assert any(e.startswith("Revoked 1 token(s) of user dan@toy.example") for e in mine)
        assert any(e.startswith("Deleted user dan@toy.example") for e in mine)
        assert all("another good one" not in e["event"] for e in log)


def test_asset_and_flex_config_changes_are_in_the_asset_audit_log(serve) -> None:  # noqa: ANN001
    srv = serve()
    battery, power = srv.ids["battery"], srv.ids["power_sensor"]
    with srv.client("alice") as alice:
        r = alice.patch(
            f"/api/v3_0/assets/{battery}",
            json={"flex_model": {"sensor": power, "soc-max": "450 kWh"}},
        )  # noqa: E501
        assert r.status_code == 200, r.text
        alice.patch(f"/api/v3_0/sensors/{power}", json={"name": "battery power"})
    with srv.client("bob") as bob:
        log = bob.get(f"/api/v3_0/assets/{battery}/auditlog", params={"per-page": 2}).json()
        assert log["num-records"] >= 4 and len(log["data"]) == 2
        newest = [e["event"] for e in log["data"]]
        assert newest[0].startswith(f"Updated sensor 'battery power' (id {power})")
        assert newest[1].startswith(
            f"Updated asset 'toy-battery' (id {battery}): flex_model changed"
        )  # noqa: E501
        assert {e["active_user_name"] for e in log["data"]} == {"alice@toy.example"}
        found = bob.get(
            f"/api/v3_0/assets/{battery}/auditlog", params={"filter": "flex_model"}
        ).json()  # noqa: E501
        assert found["filtered-records"] == 2  # the toy set-up's and alice's
        assert found["num-records"] == log["num-records"] > 2
        # bob reads his own log, not alice's (account-admins and admins do)
        assert bob.get(f"/api/v3_0/users/{srv.ids['user_alice']}/auditlog").status_code == 403
        assert bob.get(f"/api/v3_0/users/{srv.ids['user_bob']}/auditlog").status_code == 200
    with srv.client("carol") as carol:
        assert carol.get(f"/api/v3_0/assets/{battery}/auditlog").status_code == 403


def test_login_throttled_per_account_as_well_as_per_address(serve) -> None:  # noqa: ANN001
    srv = serve()
    srv.state.email_throttle = LoginThrottle(burst=3, refill_s=600)
    for _ in range(3):
        assert login(srv, "bob@toy.example", "wrong").status_code == 401
    locked = login(srv, "BOB@toy.example", PASSWORD)  # the right password, the same account
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "failed logins for this account" in locked.json()["message"]
    assert login(srv, "alice@toy.example", PASSWORD).status_code == 200  # her own budget
    for _ in range(5):  # successes spend nothing
        assert login(srv, "alice@toy.example", PASSWORD).status_code == 200
