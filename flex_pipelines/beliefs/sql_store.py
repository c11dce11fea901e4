"""The SQL belief store shared by both backends; dialect specifics live in the subclasses.

SQL here is written with ``?`` placeholders and features both DuckDB and PostgreSQL have
(sequences, ``DISTINCT ON``, ``RETURNING``). Subclasses provide connections, bulk staging of a
frame as the temporary table ``_incoming``, and fetching a result as a polars frame.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import (
    BELIEF_SCHEMA,
    Account,
    Asset,
    KnowledgeHorizon,
    SaveResult,
    Sensor,
    Source,
    User,
    empty_beliefs,
    now_utc,
)
from flex_pipelines.beliefs.resample import resample_beliefs
from flex_pipelines.beliefs.store import BeliefStore, Ingestion
from flex_pipelines.beliefs.validate import (
    BeliefValidationError,
    check_beliefs,
    coerce_belief_frame,
)
from flex_pipelines.errors import FlexPipelinesError, NotFoundError
from flex_pipelines.time import get_zone, to_utc
from flex_pipelines.units import validate_unit

_BELIEF_COLS = ", ".join(BELIEF_SCHEMA)
_ASSET_COLS = (
    "id, name, type, account_id, parent_id, latitude, longitude, timezone, flex_model, "
    "flex_context, attributes"
)
_SENSOR_COLS = (
    "id, name, unit, event_resolution_s, timezone, asset_id, knowledge_horizon, attributes"
)


def _ids(x: int | Sequence[int]) -> list[int]:
    return [int(x)] if isinstance(x, int) else [int(i) for i in x]


def _in_list(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _utc(dt: datetime, field: str) -> datetime:
    if dt.tzinfo is None:
        raise BeliefValidationError(f"{field} {dt.isoformat()} has no UTC offset or timezone")
    return to_utc(dt)


class SQLBeliefStore(BeliefStore):
    """Everything both backends share."""

    def __init__(self) -> None:
        self._sensor_cache: dict[int, Sensor] = {}

    # --- dialect hooks ---------------------------------------------------------------------
    @abstractmethod
    def _run(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Execute one statement; return its rows (empty list when it returns none)."""

    @abstractmethod
    def _fetch_frame(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Execute a query and return its result as a polars frame."""

    def _fetch_beliefs(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Fetch a query whose columns are exactly BELIEF_SCHEMA (backends may do it faster)."""
        return self._fetch_frame(sql, params)

    @abstractmethod
    def _stage(self, frame: pl.DataFrame) -> None:
        """Make ``frame`` available as the temporary table ``_incoming`` (inside a transaction)."""

    @abstractmethod
    def _unstage(self) -> None: ...

    @abstractmethod
    def _ddl(self) -> list[str]: ...

    # --- lifecycle -----------------------------------------------------------------------------
    def init_schema(self) -> None:
        with self.transaction():
            for stmt in self._ddl():
                self._run(stmt)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        return self._fetch_frame(sql, params)

    # --- accounts and users --------------------------------------------------------------------
    def add_account(self, name: str) -> Account:
        if self._run("SELECT id FROM accounts WHERE name = ?", [name]):
            raise FlexPipelinesError(f"account name {name!r} is already taken")
        (row,) = self._run("INSERT INTO accounts (name) VALUES (?) RETURNING id, name", [name])
        return Account(int(row[0]), row[1])

    def get_account(self, id_or_name: int | str) -> Account:
        col = "id" if isinstance(id_or_name, int) else "name"
        rows = self._run(f"SELECT id, name FROM accounts WHERE {col} = ?", [id_or_name])
        if not rows:
            raise NotFoundError(f"unknown account {id_or_name!r}")
        return Account(int(rows[0][0]), rows[0][1])

    def list_accounts(self) -> list[Account]:
        return [
            Account(int(r[0]), r[1]) for r in self._run("SELECT id, name FROM accounts ORDER BY id")
        ]

    def add_user(
        self, account_id: int, email: str, password_hash: str = "", roles: Sequence[str] = ()
    ) -> User:
        self.get_account(account_id)
        if self._run("SELECT id FROM users WHERE email = ?", [email]):
            raise FlexPipelinesError(f"user email {email!r} is already taken")
        (row,) = self._run(
            "INSERT INTO users (account_id, email, password_hash, roles) VALUES (?, ?, ?, ?) "
            "RETURNING id",
            [account_id, email, password_hash, ",".join(roles)],
        )
        return User(int(row[0]), account_id, email, tuple(roles))

    def list_users(self, account_id: int | None = None) -> list[User]:
        sql = "SELECT id, account_id, email, roles, active FROM users"
        rows = (
            self._run(sql + " WHERE account_id = ? ORDER BY id", [account_id])
            if account_id is not None
            else self._run(sql + " ORDER BY id")
        )
        return [
            User(int(r[0]), int(r[1]), r[2], tuple(x for x in r[3].split(",") if x), bool(r[4]))
            for r in rows
        ]

    def get_user_auth(self, email: str) -> tuple[User, str]:
        """A user with their password hash (for the API's login)."""
        rows = self._run(
            "SELECT id, account_id, email, roles, active, password_hash FROM users WHERE email = ?",
            [email],
        )
        if not rows:
            raise NotFoundError(f"unknown user {email!r}")
        r = rows[0]
        user = User(int(r[0]), int(r[1]), r[2], tuple(x for x in r[3].split(",") if x), bool(r[4]))
        return user, r[5]

    # --- assets --------------------------------------------------------------------------------
    @staticmethod
    def _asset(r: tuple) -> Asset:
        return Asset(
            id=int(r[0]),
            name=r[1],
            type=r[2],
            account_id=None if r[3] is None else int(r[3]),
            parent_id=None if r[4] is None else int(r[4]),
            latitude=r[5],
            longitude=r[6],
            timezone=r[7],
            flex_model=json.loads(r[8]),
            flex_context=json.loads(r[9]),
            attributes=json.loads(r[10]),
        )

    def add_asset(
        self,
        name: str,
        type: str,
        account_id: int | None,
        parent_id: int | None = None,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        timezone: str = "UTC",
        flex_model: dict[str, Any] | None = None,
        flex_context: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Asset:
        get_zone(timezone)
        if account_id is not None:
            self.get_account(account_id)
        if parent_id is not None:
            self.get_asset(parent_id)
        (row,) = self._run(
            f"INSERT INTO assets (name, type, account_id, parent_id, latitude, longitude, "
            f"timezone, flex_model, flex_context, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"RETURNING {_ASSET_COLS}",
            [
                name,
                type,
                account_id,
                parent_id,
                latitude,
                longitude,
                timezone,
                json.dumps(flex_model or {}),
                json.dumps(flex_context or {}),
                json.dumps(attributes or {}),
            ],
        )
        return self._asset(row)

    def get_asset(self, asset_id: int) -> Asset:
        rows = self._run(f"SELECT {_ASSET_COLS} FROM assets WHERE id = ?", [int(asset_id)])
        if not rows:
            raise NotFoundError(f"unknown asset id {asset_id}")
        return self._asset(rows[0])

    def list_assets(
        self, account_id: int | None = None, parent_id: int | None = None
    ) -> list[Asset]:
        where, params = [], []
        if account_id is not None:
            where.append("account_id = ?")
            params.append(account_id)
        if parent_id is not None:
            where.append("parent_id = ?")
            params.append(parent_id)
        sql = f"SELECT {_ASSET_COLS} FROM assets"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._asset(r) for r in self._run(sql + " ORDER BY id", params)]

    def update_asset(self, asset_id: int, **fields: Any) -> Asset:
        allowed = {"name", "type", "parent_id", "account_id", "latitude", "longitude", "timezone",
                   "flex_model", "flex_context", "attributes"}  # fmt: skip
        bad = set(fields) - allowed
        if bad:
            raise FlexPipelinesError(f"cannot update asset field(s) {sorted(bad)}")
        self.get_asset(asset_id)
        if fields.get("parent_id") is not None:
            self._check_no_cycle(asset_id, int(fields["parent_id"]))
        sets, params = [], []
        for k, v in fields.items():
            sets.append(f"{k} = ?")
            params.append(json.dumps(v) if k in ("flex_model", "flex_context", "attributes") else v)
        if sets:
            self._run(f"UPDATE assets SET {', '.join(sets)} WHERE id = ?", [*params, asset_id])
        return self.get_asset(asset_id)

    def _check_no_cycle(self, asset_id: int, parent_id: int) -> None:
        seen, cur = {asset_id}, parent_id
        while cur is not None:
            if cur in seen:
                raise FlexPipelinesError(
                    f"parent_id {parent_id} would make asset {asset_id} its own ancestor"
                )
            seen.add(cur)
            cur = self.get_asset(cur).parent_id

    def asset_ancestry(self, asset_id: int) -> list[Asset]:
        """The asset and its ancestors, nearest first (for flex-context inheritance)."""
        out, cur = [], asset_id
        while cur is not None:
            a = self.get_asset(cur)
            out.append(a)
            cur = a.parent_id
        return out

    def delete_asset(self, asset_id: int) -> None:
        with self.transaction():
            for child in self.list_assets(parent_id=asset_id):
                self.delete_asset(child.id)
            for s in self.list_sensors(asset_id=asset_id):
                self.delete_sensor(s.id)
            self._run("DELETE FROM assets WHERE id = ?", [asset_id])

    # --- sensors -------------------------------------------------------------------------------
    @staticmethod
    def _sensor(r: tuple) -> Sensor:
        return Sensor(
            id=int(r[0]),
            name=r[1],
            unit=r[2],
            event_resolution=timedelta(seconds=int(r[3])),
            timezone=r[4],
            asset_id=None if r[5] is None else int(r[5]),
            knowledge_horizon=KnowledgeHorizon.from_json(json.loads(r[6])),
            attributes=json.loads(r[7]),
        )

    def add_sensor(
        self,
        name: str,
        unit: str,
        event_resolution: timedelta,
        *,
        timezone: str = "UTC",
        asset_id: int | None = None,
        knowledge_horizon: KnowledgeHorizon | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Sensor:
        validate_unit(unit)
        get_zone(timezone)
        if event_resolution < timedelta(0):
            raise FlexPipelinesError(f"event_resolution {event_resolution} is negative")
        if asset_id is not None:
            self.get_asset(asset_id)
        kh = knowledge_horizon or KnowledgeHorizon()
        (row,) = self._run(
            f"INSERT INTO sensors (name, unit, event_resolution_s, timezone, asset_id, "
            f"knowledge_horizon, attributes) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_SENSOR_COLS}",
            [
                name,
                unit,
                int(event_resolution.total_seconds()),
                timezone,
                asset_id,
                json.dumps(kh.to_json()),
                json.dumps(attributes or {}),
            ],
        )
        return self._sensor(row)

    def get_sensor(self, sensor_id: int) -> Sensor:
        rows = self._run(f"SELECT {_SENSOR_COLS} FROM sensors WHERE id = ?", [int(sensor_id)])
        if not rows:
            raise NotFoundError(f"unknown sensor id {sensor_id}")
        return self._sensor(rows[0])

    def _sensors(self, ids: Sequence[int]) -> dict[int, Sensor]:
        rows = self._run(f"SELECT {_SENSOR_COLS} FROM sensors WHERE id IN ({_in_list(ids)})")
        found = {int(r[0]): self._sensor(r) for r in rows}
        missing = sorted(set(ids) - set(found))
        if missing:
            raise NotFoundError(f"unknown sensor id(s): {missing}")
        return found

    def list_sensors(self, asset_id: int | None = None) -> list[Sensor]:
        if asset_id is None:
            rows = self._run(f"SELECT {_SENSOR_COLS} FROM sensors ORDER BY id")
        else:
            rows = self._run(
                f"SELECT {_SENSOR_COLS} FROM sensors WHERE asset_id = ? ORDER BY id", [asset_id]
            )
        return [self._sensor(r) for r in rows]

    def update_sensor(self, sensor_id: int, **fields: Any) -> Sensor:
        allowed = {"name", "unit", "timezone", "asset_id", "attributes", "knowledge_horizon"}
        bad = set(fields) - allowed
        if bad:
            raise FlexPipelinesError(f"cannot update sensor field(s) {sorted(bad)}")
        self.get_sensor(sensor_id)
        sets, params = [], []
        for k, v in fields.items():
            if k == "attributes":
                v = json.dumps(v)
            elif k == "knowledge_horizon":
                v = json.dumps(v.to_json() if isinstance(v, KnowledgeHorizon) else v)
            sets.append(f"{k} = ?")
            params.append(v)
        if sets:
            self._run(f"UPDATE sensors SET {', '.join(sets)} WHERE id = ?", [*params, sensor_id])
        return self.get_sensor(sensor_id)

    def delete_sensor(self, sensor_id: int) -> None:
        self.get_sensor(sensor_id)
        with self.transaction():
            self._run("DELETE FROM beliefs WHERE sensor_id = ?", [sensor_id])
            self._run("DELETE FROM sensors WHERE id = ?", [sensor_id])

    # --- sources -------------------------------------------------------------------------------
    @staticmethod
    def _source(r: tuple) -> Source:
        return Source(int(r[0]), r[1], r[2], r[3] or None, r[4] or None)

    def get_or_create_source(
        self, name: str, type: str = "user", model: str | None = None, version: str | None = None
    ) -> Source:
        params = [name, type, model or "", version or ""]
        where = "name = ? AND type = ? AND model = ? AND version = ?"
        rows = self._run(
            f"SELECT id, name, type, model, version FROM sources WHERE {where}", params
        )
        if rows:
            return self._source(rows[0])
        (row,) = self._run(
            "INSERT INTO sources (name, type, model, version) VALUES (?, ?, ?, ?) "
            "RETURNING id, name, type, model, version",
            params,
        )
        return self._source(row)

    def get_source(self, id_or_name: int | str) -> Source:
        if isinstance(id_or_name, int) or str(id_or_name).isdigit():
            rows = self._run(
                "SELECT id, name, type, model, version FROM sources WHERE id = ?", [int(id_or_name)]
            )
        else:
            rows = self._run(
                "SELECT id, name, type, model, version FROM sources WHERE name = ? ORDER BY id",
                [id_or_name],
            )
            if len(rows) > 1:
                raise FlexPipelinesError(
                    f"source name {id_or_name!r} is ambiguous: ids {[int(r[0]) for r in rows]}"
                )
        if not rows:
            raise NotFoundError(f"unknown source {id_or_name!r}")
        return self._source(rows[0])

    def list_sources(self, types: Sequence[str] | None = None) -> list[Source]:
        sql = "SELECT id, name, type, model, version FROM sources"
        if types:
            sql += " WHERE type IN (" + ", ".join("?" for _ in types) + ")"
        return [self._source(r) for r in self._run(sql + " ORDER BY id", list(types or []))]

    # --- beliefs: writing ----------------------------------------------------------------------
    def save_beliefs(self, beliefs: pl.DataFrame, *, overwrite: bool = False) -> SaveResult:
        frame = coerce_belief_frame(beliefs)
        if frame.is_empty():
            return SaveResult(0, 0, None)
        sensor_ids = frame["sensor_id"].unique().to_list()
        sensors = self._sensors(sensor_ids)
        src_ids = frame["source_id"].unique().to_list()
        known = {
            int(r[0])
            for r in self._run(f"SELECT id FROM sources WHERE id IN ({_in_list(src_ids)})")
        }
        frame = check_beliefs(frame, sensors, known)
        n_total = frame.height
        lo, hi = frame["event_start"].min(), frame["event_start"].max()
        scope = (
            f"b.sensor_id IN ({_in_list(sensor_ids)}) AND b.event_start >= ? AND b.event_start <= ?"
        )
        key_join = (
            "b.sensor_id = n.sensor_id AND b.event_start = n.event_start AND "
            "b.belief_time = n.belief_time AND b.source_id = n.source_id AND "
            "b.cumulative_probability = n.cumulative_probability"
        )
        cols = ", ".join("n." + c for c in BELIEF_SCHEMA)
        with self.transaction():
            self._stage(frame)
            try:
                # one join tells, per incoming belief, whether (and with what value) it is stored
                self._run(
                    f"CREATE TEMP TABLE _cmp AS SELECT {cols}, n.belief_horizon_s, "
                    f"b.event_value AS stored_value FROM _incoming n LEFT JOIN "
                    f"(SELECT * FROM beliefs b WHERE {scope}) b ON {key_join}",
                    [lo, hi],
                )
                changed = "stored_value IS NOT NULL AND stored_value <> event_value"
                conflicts = self._run(
                    f"SELECT sensor_id, event_start, belief_time, source_id, stored_value, "
                    f"event_value FROM _cmp WHERE {changed} ORDER BY event_start LIMIT 3"
                )
                if conflicts and not overwrite:
                    c = conflicts[0]
                    more = " or more" if len(conflicts) == 3 else ""
                    raise BeliefValidationError(
                        f"sensor {c[0]} already holds value {c[4]} for event {c[1]} believed at "
                        f"{c[2]} by source {c[3]}; refusing to change it to {c[5]} "
                        f"({len(conflicts)}{more} such belief(s)); save with a new belief time, "
                        f"or overwrite explicitly"
                    )
                if conflicts:
                    self._run(
                        f"DELETE FROM beliefs WHERE {scope.replace('b.', '')} AND EXISTS (SELECT 1 "
                        f"FROM _cmp n WHERE {key_join.replace('b.', 'beliefs.')} AND {changed})",
                        [lo, hi],
                    )
                new = "stored_value IS NULL" + (f" OR ({changed})" if conflicts else "")
                counts = self._insert_new(new)
            finally:
                self._run("DROP TABLE IF EXISTS _cmp")
                self._unstage()
        n_new = sum(c[1] for c in counts)
        return SaveResult(n_new, n_total - n_new, counts[-1][0] if counts else None)

    def _insert_new(self, new: str) -> list[tuple[int, int]]:
        """Insert the compared beliefs matching ``new``; log one ingestion per sensor.

        Returns ``[(ingestion_id, n_new)]`` per sensor with new beliefs.
        """
        per_sensor = self._run(
            f"SELECT sensor_id, count(*), min(event_start), max(event_start) FROM _cmp "
            f"WHERE {new} GROUP BY sensor_id ORDER BY sensor_id"
        )
        if not per_sensor:
            return []
        now = now_utc()
        out = []
        ids = {}
        for sensor_id, n, first, last in per_sensor:
            res = self.get_sensor(int(sensor_id)).event_resolution
            (row,) = self._run(
                "INSERT INTO ingestions (sensor_id, n_new, first_event_start, last_event_end, "
                "created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                [int(sensor_id), int(n), first, last + res, now],
            )
            ids[int(sensor_id)] = int(row[0])
            out.append((int(row[0]), int(n)))
        case = " ".join(f"WHEN {s} THEN {i}" for s, i in ids.items())
        self._run(
            f"INSERT INTO beliefs ({_BELIEF_COLS}, belief_horizon_s, ingestion_id) "
            f"SELECT {_BELIEF_COLS}, belief_horizon_s, CASE sensor_id {case} END FROM _cmp "
            f"WHERE {new} ORDER BY sensor_id, event_start"  # locality: zone maps, B-tree pages
        )
        return out

    def delete_beliefs(
        self,
        sensor_ids: int | Sequence[int],
        start: datetime | None = None,
        end: datetime | None = None,
        source_ids: Sequence[int] | None = None,
    ) -> int:
        ids = _ids(sensor_ids)
        self._sensors(ids)
        where, params = self._window_filters(ids, start, end)
        if source_ids:
            where.append(f"source_id IN ({_in_list(source_ids)})")
        with self.transaction():
            (row,) = self._run(f"SELECT count(*) FROM beliefs WHERE {' AND '.join(where)}", params)
            self._run(f"DELETE FROM beliefs WHERE {' AND '.join(where)}", params)
        return int(row[0])

    def count_beliefs(self, sensor_ids: int | Sequence[int] | None = None) -> int:
        sql = "SELECT count(*) FROM beliefs"
        if sensor_ids is not None:
            sql += f" WHERE sensor_id IN ({_in_list(_ids(sensor_ids))})"
        return int(self._run(sql)[0][0])

    def ingestion_watermark(self) -> int:
        return int(self._run("SELECT coalesce(max(id), 0) FROM ingestions")[0][0])

    def ingestions_since(self, watermark: int, limit: int = 10_000) -> list[Ingestion]:
        rows = self._run(
            "SELECT id, sensor_id, n_new, first_event_start, last_event_end, created_at "
            "FROM ingestions WHERE id > ? ORDER BY id LIMIT ?",
            [int(watermark), int(limit)],
        )
        return [Ingestion(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5]) for r in rows]

    # --- beliefs: reading ----------------------------------------------------------------------
    @staticmethod
    def _window_filters(
        ids: Sequence[int], start: datetime | None, end: datetime | None
    ) -> tuple[list[str], list[Any]]:
        where = [
            f"sensor_id IN ({_in_list(ids)})" if len(ids) > 1 else f"sensor_id = {int(ids[0])}"
        ]
        params: list[Any] = []
        if start is not None and end is not None and _utc(end, "end") < _utc(start, "start"):
            raise BeliefValidationError(
                f"window end {end.isoformat()} is before its start {start.isoformat()}"
            )
        if start is not None:
            where.append("event_start >= ?")
            params.append(_utc(start, "start"))
        if end is not None:
            where.append("event_start < ?")
            params.append(_utc(end, "end"))
        return where, params

    def _source_filter(
        self,
        source_ids: Sequence[int] | None,
        source_types: Sequence[str] | None,
        exclude_source_types: Sequence[str] | None,
    ) -> str | None:
        """A SQL condition on source_id, or "FALSE" when nothing can match."""
        allowed: set[int] | None = None
        if source_ids is not None:
            allowed = {int(i) for i in source_ids}
        if source_types:
            typed = {s.id for s in self.list_sources(source_types)}
            allowed = typed if allowed is None else allowed & typed
        if exclude_source_types:
            excluded = {s.id for s in self.list_sources(exclude_source_types)}
            if allowed is None:
                return f"source_id NOT IN ({_in_list(excluded)})" if excluded else None
            allowed -= excluded
        if allowed is None:
            return None
        return f"source_id IN ({_in_list(sorted(allowed))})" if allowed else "FALSE"

    def search_beliefs(
        self,
        sensor_ids: int | Sequence[int],
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        as_of: datetime | None = None,
        source_ids: Sequence[int] | None = None,
        source_types: Sequence[str] | None = None,
        exclude_source_types: Sequence[str] | None = None,
        horizon_min: timedelta | None = None,
        horizon_max: timedelta | None = None,
        most_recent: bool = False,
        one_per_event: bool = False,
        resolution: timedelta | None = None,
    ) -> pl.DataFrame:
        ids = _ids(sensor_ids)
        if not ids:
            return empty_beliefs()
        where, params = self._window_filters(ids, start, end)
        if as_of is not None:
            where.append("belief_time <= ?")
            params.append(_utc(as_of, "as_of"))
        src = self._source_filter(source_ids, source_types, exclude_source_types)
        if src == "FALSE":
            return empty_beliefs()
        if src:
            where.append(src)
        if horizon_min is not None:
            where.append(f"belief_horizon_s >= {int(horizon_min.total_seconds())}")
        if horizon_max is not None:
            where.append(f"belief_horizon_s <= {int(horizon_max.total_seconds())}")
        cond = " AND ".join(where)
        if one_per_event:
            sql = (
                f"SELECT DISTINCT ON (sensor_id, event_start) {_BELIEF_COLS} FROM beliefs "
                f"WHERE {cond} ORDER BY sensor_id, event_start, belief_time DESC, "
                f"abs(cumulative_probability - 0.5), cumulative_probability, source_id DESC"
            )
        elif most_recent:
            sql = (
                f"SELECT DISTINCT ON (sensor_id, event_start, source_id, cumulative_probability) "
                f"{_BELIEF_COLS} FROM beliefs WHERE {cond} ORDER BY sensor_id, event_start, "
                f"source_id, cumulative_probability, belief_time DESC"
            )
        else:
            sql = (
                f"SELECT {_BELIEF_COLS} FROM beliefs WHERE {cond} "
                f"ORDER BY sensor_id, event_start, source_id, cumulative_probability, belief_time"
            )
        frame = self._fetch_beliefs(sql, params)
        if resolution is not None:
            if not one_per_event:
                raise FlexPipelinesError(
                    "resampling needs one value per event (one_per_event=True)"
                )
            frame = resample_beliefs(frame, self._sensors(ids), resolution)
        return frame
