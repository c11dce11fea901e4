"""A real uvicorn server on 127.0.0.1 (free port, own thread) over a real store, with users.

Accounts: the toy account (battery and process devices, public day-ahead price sensor) holding
``admin`` (role admin), ``alice`` (account-admin) and ``bob`` (plain user); account "Other"
holding ``carol`` (account-admin) with her own asset and sensor.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from flex_pipelines.api import ApiSettings, create_app
from flex_pipelines.api.auth import hash_password
from flex_pipelines.beliefs import BeliefStore, open_store
from flex_pipelines.toy import create_toy_account

PASSWORD = "correct horse battery staple"
USERS = {
    "admin": ("admin@toy.example", ["admin"]),
    "alice": ("alice@toy.example", ["account-admin"]),
    "bob": ("bob@toy.example", []),
}
EMAILS = {k: v[0] for k, v in USERS.items()} | {
    "carol": "carol@other.example",
    "pat": "pat@process.example",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running API server and the ids of what it holds."""

    base: str
    port: int
    app: Any
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> Any:
        return self.app.state.api

    def with_store(self, fn: Callable[[BeliefStore], Any]) -> Any:
        """Run ``fn(store)`` under the server's store lock (one DuckDB connection)."""
        with self.state.db() as store:
            return fn(store)

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": self.tokens[who]} if who else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def token(self, who: str) -> str:
        email = EMAILS[who]
        r = httpx.post(
            f"{self.base}/api/requestAuthToken", json={"email": email, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return r.json()["auth_token"]


def populate(store: BeliefStore) -> dict[str, int]:
    """Toy battery + toy process accounts, users with passwords, another account."""
    toy = create_toy_account(store, "battery")
    proc = create_toy_account(store, "process", name="Process Account")
    pw = hash_password(PASSWORD, rounds=4)
    acc = toy["account"]["id"]
    ids = {k.replace(" ", "_"): v["id"] for k, v in toy.items()}
    ids["process_account"] = proc["account"]["id"]
    ids["process"] = proc["process"]["id"]
    ids["process_sensor"] = proc["power sensor"]["id"]
    for name, (email, roles) in USERS.items():
        ids[f"user_{name}"] = store.add_user(acc, email, pw, roles).id
    ids["process_user"] = store.add_user(proc["account"]["id"], "pat@process.example", pw, []).id
    other = store.add_account("Other")
    ids["other_account"] = other.id
    ids["user_carol"] = store.add_user(other.id, "carol@other.example", pw, ["account-admin"]).id
    site = store.add_asset("carol-site", "building", other.id, timezone="Europe/Amsterdam")
    ids["other_asset"] = site.id
    ids["other_sensor"] = store.add_sensor(
        "carol-load", "kW", timedelta(minutes=15), asset_id=site.id
    ).id
    return ids


def start_server(
    store: BeliefStore, settings: ApiSettings | None = None, start_worker: bool = True
) -> tuple[Server, Callable[[], None]]:
    settings = settings or ApiSettings(rate_per_s=10_000, rate_burst=10_000, login_burst=1000)
    app = create_app(store, settings, start_worker=start_worker)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return Server(f"http://127.0.0.1:{port}", port, app), stop


def _serve(url: str, **kw: Any) -> Iterator[Server]:
    store = open_store(url)
    ids = populate(store)
    srv, stop = start_server(store, **kw)
    srv.ids = ids
    for who in EMAILS:
        srv.tokens[who] = srv.token(who)
    try:
        yield srv
    finally:
        stop()
        store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over a real DuckDB file, shared by the tests of a module."""
    yield from _serve(str(tmp_path_factory.mktemp("api") / "api.duckdb"))


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., Server]]:  # noqa: ANN001
    """Start a server over a given store URL with given settings; stopped after the test."""
    gens: list[Iterator[Server]] = []

    def make(url: str | None = None, **kw: Any) -> Server:
        gen = _serve(url or str(tmp_path / f"api{len(gens)}.duckdb"), **kw)
        gens.append(gen)
        return next(gen)

    yield make
    for gen in gens:
        for _ in gen:
            pass
