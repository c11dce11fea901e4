"""Versions, health, OpenAPI, tokens, expiry, roles and rate limits against a running server."""

from __future__ import annotations

import httpx

from flex_pipelines.api import ApiSettings
from flex_pipelines.api.auth import issue_token
from tests.api.conftest import PASSWORD


def test_versions_ping_health_and_docs(server):
    r = httpx.get(f"{server.base}/api/")
    assert r.status_code == 200
    body = r.json()
    assert body["versions"] == ["v3_0"]
    assert body["flexmeasures_version"] == r.headers["FlexMeasures-Version"]
    assert httpx.get(f"{server.base}/api/ops/ping").json()["message"] == "ok"
    assert httpx.get(f"{server.base}/api/v3_0/health/ready").json()["database_status"] is True
    spec = httpx.get(f"{server.base}/openapi.json").json()
    assert "/api/v3_0/sensors/{sensor_id}/data" in spec["paths"]
    assert "Authorization" in str(spec["components"]["securitySchemes"])
    assert httpx.get(f"{server.base}/api/docs").status_code == 200


def test_token_login_and_failures(server):
    url = f"{server.base}/api/requestAuthToken"
    ok = httpx.post(url, json={"email": "bob@toy.example", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["user_id"] == server.ids["user_bob"]
    wrong = httpx.post(url, json={"email": "bob@toy.example", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["errors"] == ["invalid email or password"]
    unknown = httpx.post(url, json={"email": "nobody@toy.example", "password": PASSWORD})
    assert unknown.status_code == 401
    missing = httpx.post(url, json={"email": "bob@toy.example"})
    assert missing.status_code == 422 and "password" in missing.json()["message"]
    token = ok.json()["auth_token"]
    users = httpx.get(f"{server.base}/api/v3_0/users", headers={"Authorization": token})
    assert users.status_code == 200
    bearer = httpx.get(
        f"{server.base}/api/v3_0/users", headers={"Authorization": f"Bearer {token}"}
    )
    assert bearer.status_code == 200


def test_no_token_bad_token_expired_token(server):
    url = f"{server.base}/api/v3_0/sensors"
    none = httpx.get(url)
    assert none.status_code == 401 and none.json()["status"] == "UNAUTHORIZED"
    assert httpx.get(url, headers={"Authorization": "made-up"}).status_code == 401
    expired, _ = server.with_store(lambda s: issue_token(s, server.ids["user_bob"], -1))
    r = httpx.get(url, headers={"Authorization": expired})
    assert r.status_code == 401 and "expired" in r.json()["message"]


def test_users_and_accounts_are_scoped(server):
    with server.client("bob") as c:
        users = c.get("/api/v3_0/users").json()
        assert {u["email"] for u in users} >= {"bob@toy.example", "alice@toy.example"}
        assert all(u["account_id"] == server.ids["account"] for u in users)
        assert c.get(f"/api/v3_0/accounts/{server.ids['account']}").json()["name"] == "Toy Account"
        other = c.get(f"/api/v3_0/accounts/{server.ids['other_account']}")
        assert other.status_code == 403
        assert c.get(f"/api/v3_0/users?account_id={server.ids['other_account']}").status_code == 403
    with server.client("admin") as c:
        assert c.get(f"/api/v3_0/accounts/{server.ids['other_account']}").status_code == 200


def test_rate_limit_per_user(serve):
    srv = serve(settings=ApiSettings(rate_per_s=0.01, rate_burst=3, login_burst=1000))
    with srv.client("bob") as bob, srv.client("alice") as alice:
        codes = [bob.get("/api/v3_0/users").status_code for _ in range(5)]
        assert codes[:2] == [200, 200] and codes[-1] == 429
        limited = bob.get("/api/v3_0/users")
        assert limited.status_code == 429 and "Retry-After" in limited.headers
        assert "bob@toy.example" in limited.json()["message"]
        assert alice.get("/api/v3_0/users").status_code == 200  # her own bucket


def test_login_rate_limit(serve):
    srv = serve(settings=ApiSettings(login_rate_per_s=0.01, login_burst=6))
    url = f"{srv.base}/api/requestAuthToken"
    codes = [
        httpx.post(url, json={"email": "x@y.z", "password": "p"}).status_code for _ in range(4)
    ]
    assert codes[-1] == 429
