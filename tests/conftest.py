"""Shared fixtures: a real DuckDB file per test, and a real PostgreSQL server for the session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.pg import PgServer, find_or_start_postgres

_PG: dict[str, object] = {}


def _pg() -> tuple[PgServer | None, str]:
    if "server" not in _PG:
        _PG["server"], _PG["why"] = find_or_start_postgres()
    return _PG["server"], _PG["why"]  # type: ignore[return-value]


def pytest_report_header(config: pytest.Config) -> str:
    server, why = _pg()
    if server is None:
        return f"PostgreSQL: NONE FOUND ({why}); PostgreSQL tests will fail"
    return f"PostgreSQL: {server.description}"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say which PostgreSQL the tests used also under ``-q`` (which hides the header)."""
    if "server" in _PG:
        terminalreporter.write_line(pytest_report_header(config))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    server = _PG.get("server")
    if server is not None:
        server.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    server, why = _pg()
    if server is None:
        pytest.fail(f"PostgreSQL is required and none could be found or started: {why}")
    return server


@pytest.fixture(scope="session")
def pg_database(pg_server: PgServer) -> str:
    """One fresh database for the session; tests get their own schema inside it."""
    return pg_server.create_database()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A URL to a fresh, empty schema (the store creates it)."""
    return f"{pg_database}?schema=t_{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["duckdb", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A URL to an empty belief store, once per backend."""
    if request.param == "duckdb":
        yield str(tmp_path / "store.duckdb")
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str):
    from flex_pipelines.beliefs import open_store

    s = open_store(store_url)
    yield s
    s.close()
