"""The API's own tables (tokens, jobs, asset types), created next to the belief store's.

The DDL uses types and statements DuckDB and PostgreSQL share (``TEXT``, ``BIGINT``,
``TIMESTAMPTZ``, sequences with ``nextval``), like :mod:`flex_pipelines.beliefs.schema`.
Tokens are stored as SHA-256 hashes, never in clear.
"""

from __future__ import annotations

from flex_pipelines.beliefs.store import BeliefStore

API_DDL: list[str] = [
    "CREATE SEQUENCE IF NOT EXISTS seq_api_asset_types START 1",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS api_jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        target_type TEXT NOT NULL,
        target_id BIGINT NOT NULL,
        account_id BIGINT,
        user_id BIGINT,
        request_key TEXT NOT NULL,
        request TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        result TEXT,
        exc_info TEXT,
        enqueued_at TIMESTAMPTZ NOT NULL,
        started_at TIMESTAMPTZ,
        ended_at TIMESTAMPTZ
    )""",
    """CREATE TABLE IF NOT EXISTS api_asset_types (
        id BIGINT PRIMARY KEY DEFAULT nextval('seq_api_asset_types'),
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT ''
    )""",
]

#: FlexMeasures' default generic asset types (name, description), seeded once.
DEFAULT_ASSET_TYPES: list[tuple[str, str]] = [
    ("solar", "solar panel(s)"),
    ("wind", "wind turbine"),
    ("one-way_evse", "uni-directional Electric Vehicle Supply Equipment"),
    ("two-way_evse", "bi-directional Electric Vehicle Supply Equipment"),
    ("battery", "stationary battery"),
    ("building", "building"),
    ("process", "industrial process"),
    ("heat pump", "heat pump"),
    ("transmission zone", "bidding zone of a transmission system operator"),
    ("site", "a site behind one grid connection"),
]


def ensure_api_tables(store: BeliefStore) -> None:
    """Create the API tables if missing and seed the default asset types (idempotent)."""
    with store.transaction():
        for stmt in API_DDL:
            store.execute(stmt)
        known = set(store.query("SELECT name FROM api_asset_types")["name"].to_list())
        for name, description in DEFAULT_ASSET_TYPES:
            if name not in known:
                store.execute(
                    "INSERT INTO api_asset_types (name, description) VALUES (?, ?)",
                    [name, description],
                )


def asset_types(store: BeliefStore) -> list[dict[str, object]]:
    """All asset types, including every type name used by a stored asset."""
    used = store.query("SELECT DISTINCT type FROM assets")["type"].to_list()
    known = set(store.query("SELECT name FROM api_asset_types")["name"].to_list())
    for name in sorted(set(used) - known):
        store.execute("INSERT INTO api_asset_types (name) VALUES (?)", [name])
    rows = store.query("SELECT id, name, description FROM api_asset_types ORDER BY id")
    return rows.to_dicts()


def asset_type_id(store: BeliefStore, name: str) -> int:
    """The id of an asset type name (registering the name when new)."""
    rows = store.query("SELECT id FROM api_asset_types WHERE name = ?", [name])
    if rows.is_empty():
        store.execute("INSERT INTO api_asset_types (name) VALUES (?)", [name])
        rows = store.query("SELECT id FROM api_asset_types WHERE name = ?", [name])
    return int(rows["id"][0])


def asset_type_name(store: BeliefStore, type_id: int) -> str | None:
    rows = store.query("SELECT name FROM api_asset_types WHERE id = ?", [int(type_id)])
    return None if rows.is_empty() else str(rows["name"][0])
