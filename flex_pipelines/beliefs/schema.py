"""Table definitions, shared by both backends (types differ only where the dialects do)."""

from __future__ import annotations

# {ts}: timestamp with time zone; {dbl}: double; {text}: text. Sequences and DEFAULT nextval()
# work the same in DuckDB and PostgreSQL.
_TABLES = """
CREATE SEQUENCE IF NOT EXISTS seq_accounts START 1;
CREATE SEQUENCE IF NOT EXISTS seq_users START 1;
CREATE SEQUENCE IF NOT EXISTS seq_assets START 1;
CREATE SEQUENCE IF NOT EXISTS seq_sensors START 1;
CREATE SEQUENCE IF NOT EXISTS seq_sources START 1;
CREATE SEQUENCE IF NOT EXISTS seq_ingestions START 1;
CREATE TABLE IF NOT EXISTS accounts (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_accounts'),
    name {text} NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS users (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_users'),
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    email {text} NOT NULL UNIQUE,
    password_hash {text} NOT NULL DEFAULT '',
    roles {text} NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE TABLE IF NOT EXISTS assets (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_assets'),
    name {text} NOT NULL,
    type {text} NOT NULL,
    account_id BIGINT REFERENCES accounts(id),
    parent_id BIGINT,
    latitude {dbl},
    longitude {dbl},
    timezone {text} NOT NULL DEFAULT 'UTC',
    flex_model {text} NOT NULL DEFAULT '{{}}',
    flex_context {text} NOT NULL DEFAULT '{{}}',
    attributes {text} NOT NULL DEFAULT '{{}}'
);
CREATE TABLE IF NOT EXISTS sensors (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_sensors'),
    name {text} NOT NULL,
    unit {text} NOT NULL,
    event_resolution_s BIGINT NOT NULL,
    timezone {text} NOT NULL DEFAULT 'UTC',
    asset_id BIGINT,
    knowledge_horizon {text} NOT NULL DEFAULT '{{}}',
    attributes {text} NOT NULL DEFAULT '{{}}'
);
CREATE TABLE IF NOT EXISTS sources (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_sources'),
    name {text} NOT NULL,
    type {text} NOT NULL,
    model {text} NOT NULL DEFAULT '',
    version {text} NOT NULL DEFAULT '',
    UNIQUE (name, type, model, version)
);
CREATE TABLE IF NOT EXISTS ingestions (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_ingestions'),
    sensor_id BIGINT NOT NULL,
    n_new BIGINT NOT NULL,
    first_event_start {ts} NOT NULL,
    last_event_end {ts} NOT NULL,
    created_at {ts} NOT NULL,
    source_types {text} NOT NULL DEFAULT ''
);
ALTER TABLE ingestions ADD COLUMN IF NOT EXISTS source_types {text} DEFAULT '';
CREATE TABLE IF NOT EXISTS account_names (
    account_id BIGINT PRIMARY KEY,
    name {text} NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS seq_audit_log START 1;
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_audit_log'),
    event_datetime {ts} NOT NULL,
    event {text} NOT NULL,
    active_user_id BIGINT,
    active_user_name {text} NOT NULL DEFAULT '',
    affected_account_id BIGINT,
    affected_user_id BIGINT,
    affected_asset_id BIGINT,
    affected_sensor_id BIGINT,
    details {text} NOT NULL DEFAULT '{{}}'
);
CREATE SEQUENCE IF NOT EXISTS seq_annotations START 1;
CREATE TABLE IF NOT EXISTS annotations (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_annotations'),
    content {text} NOT NULL,
    start_time {ts} NOT NULL,
    end_time {ts} NOT NULL,
    type {text} NOT NULL DEFAULT 'label',
    belief_time {ts},
    source_id BIGINT,
    account_id BIGINT,
    asset_id BIGINT,
    sensor_id BIGINT
);
CREATE TABLE IF NOT EXISTS beliefs (
    sensor_id BIGINT NOT NULL,
    event_start {ts} NOT NULL,
    belief_time {ts} NOT NULL,
    source_id BIGINT NOT NULL,
    cumulative_probability {dbl} NOT NULL,
    event_value {dbl} NOT NULL,
    belief_horizon_s BIGINT NOT NULL,
    ingestion_id BIGINT NOT NULL{beliefs_pk}
);
"""

_VIEWS = """
CREATE OR REPLACE VIEW belief_details AS
SELECT b.sensor_id, s.name AS sensor_name, s.unit, b.event_start,
       b.event_start + s.event_resolution_s * INTERVAL '1 second' AS event_end,
       b.belief_time, b.belief_horizon_s, b.source_id, src.name AS source_name,
       src.type AS source_type, src.model AS source_model, b.cumulative_probability,
       b.event_value, s.asset_id
FROM beliefs b JOIN sensors s ON s.id = b.sensor_id JOIN sources src ON src.id = b.source_id;
CREATE OR REPLACE VIEW latest_beliefs AS
SELECT DISTINCT ON (b.sensor_id, b.event_start)
       b.sensor_id, s.name AS sensor_name, s.unit, b.event_start,
       b.event_start + s.event_resolution_s * INTERVAL '1 second' AS event_end,
       b.belief_time, b.belief_horizon_s, b.source_id, src.name AS source_name,
       src.type AS source_type, src.model AS source_model, b.cumulative_probability,
       b.event_value, s.asset_id
FROM beliefs b JOIN sensors s ON s.id = b.sensor_id JOIN sources src ON src.id = b.source_id
ORDER BY b.sensor_id, b.event_start, b.belief_time DESC,
         CASE src.type WHEN 'forecaster' THEN 2 WHEN 'scheduler' THEN 1 WHEN 'reporter' THEN 1
         ELSE 0 END, abs(b.cumulative_probability - 0.5), b.cumulative_probability,
         b.ingestion_id DESC, b.source_id DESC;
"""

DUCKDB_TYPES = {"ts": "TIMESTAMPTZ", "dbl": "DOUBLE", "text": "VARCHAR", "beliefs_pk": ""}
POSTGRES_TYPES = {
    "ts": "TIMESTAMPTZ",
    "dbl": "DOUBLE PRECISION",
    "text": "TEXT",
    "beliefs_pk": (
        ",\n    PRIMARY KEY (sensor_id, event_start, belief_time, source_id, cumulative_probability)"
    ),
}


def ddl(types: dict[str, str]) -> list[str]:
    """The CREATE statements of the schema, one per list item."""
    text = _TABLES.format(**types) + _VIEWS
    return [s.strip() for s in text.split(";") if s.strip()]
