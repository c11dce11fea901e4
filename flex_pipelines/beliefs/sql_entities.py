"""Accounts, users, assets, sensors and sources in SQL (shared by both backends)."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import Asset, KnowledgeHorizon, Sensor, Source
from flex_pipelines.beliefs.sql_admin import SQLAdmin, changes
from flex_pipelines.beliefs.sql_annotations import SQLAnnotations
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError, NotFoundError
from flex_pipelines.time import get_zone
from flex_pipelines.units import validate_unit

_ASSET_COLS = (
    "id, name, type, account_id, parent_id, latitude, longitude, timezone, flex_model, "
    "flex_context, attributes"
)
_SENSOR_COLS = (
    "id, name, unit, event_resolution_s, timezone, asset_id, knowledge_horizon, attributes"
)


def in_list(ids: Sequence[int]) -> str:
    """A SQL list of integer literals (ids are ints, so this is injection-safe)."""
    return ", ".join(str(int(i)) for i in ids)


class SQLEntities(SQLAdmin, SQLAnnotations, BeliefStore):
    """The non-belief tables; subclasses supply the dialect hooks. Every change to an account,
    user, asset or sensor is recorded in the audit log (:class:`SQLAdmin`)."""

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
        with self.transaction():
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
            asset = self._asset(row)
            self._audit_asset("Created", asset)
        return asset

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
        allowed = {
            "name",
            "type",
            "parent_id",
            "account_id",
            "latitude",
            "longitude",
            "timezone",
            "flex_model",
            "flex_context",
            "attributes",
        }
        bad = set(fields) - allowed
        if bad:
            raise FlexPipelinesError(f"cannot update asset field(s) {sorted(bad)}")
        old = self.get_asset(asset_id)
        if fields.get("parent_id") is not None:
            self._check_no_cycle(asset_id, int(fields["parent_id"]))
        sets, params = [], []
        for k, v in fields.items():
            sets.append(f"{k} = ?")
            params.append(json.dumps(v) if k in ("flex_model", "flex_context", "attributes") else v)
        if not sets:
            return old
        with self.transaction():
            self._run(f"UPDATE assets SET {', '.join(sets)} WHERE id = ?", [*params, asset_id])
            new = self.get_asset(asset_id)
            changed = changes(old.__dict__, {k: getattr(new, k) for k in fields})
            if changed:
                self._audit_asset("Updated", new, changed)
        return new

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
        asset = self.get_asset(asset_id)
        with self.transaction():
            for child in self.list_assets(parent_id=asset_id):
                self.delete_asset(child.id)
            for s in self.list_sensors(asset_id=asset_id):
                self.delete_sensor(s.id)
            self._run("DELETE FROM annotations WHERE asset_id = ?", [asset_id])
            self._run("DELETE FROM assets WHERE id = ?", [asset_id])
            self._audit_asset("Deleted", asset)

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
        with self.transaction():
            sensor = self._insert_sensor(
                name, unit, event_resolution, timezone, asset_id, kh, attributes or {}
            )
            self._audit_sensor("Created", sensor, self._sensor_account(sensor))
        return sensor

    def _sensor_account(self, sensor: Sensor) -> int | None:
        if sensor.asset_id is None:
            return None
        rows = self._run("SELECT account_id FROM assets WHERE id = ?", [sensor.asset_id])
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def _insert_sensor(
        self,
        name: str,
        unit: str,
        event_resolution: timedelta,
        timezone: str,
        asset_id: int | None,
        kh: KnowledgeHorizon,
        attributes: dict[str, Any],
    ) -> Sensor:
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
                json.dumps(attributes),
            ],
        )
        return self._sensor(row)

    def get_sensor(self, sensor_id: int) -> Sensor:
        rows = self._run(f"SELECT {_SENSOR_COLS} FROM sensors WHERE id = ?", [int(sensor_id)])
        if not rows:
            raise NotFoundError(f"unknown sensor id {sensor_id}")
        return self._sensor(rows[0])

    def _sensors(self, ids: Sequence[int]) -> dict[int, Sensor]:
        rows = self._run(f"SELECT {_SENSOR_COLS} FROM sensors WHERE id IN ({in_list(ids)})")
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
        old = self.get_sensor(sensor_id)
        sets, params = [], []
        for k, v in fields.items():
            if k == "attributes":
                v = json.dumps(v)
            elif k == "knowledge_horizon":
                v = json.dumps(v.to_json() if isinstance(v, KnowledgeHorizon) else v)
            sets.append(f"{k} = ?")
            params.append(v)
        if not sets:
            return old
        with self.transaction():
            self._run(f"UPDATE sensors SET {', '.join(sets)} WHERE id = ?", [*params, sensor_id])
            new = self.get_sensor(sensor_id)
            changed = changes(old.__dict__, {k: getattr(new, k) for k in fields})
            if changed:
                self._audit_sensor("Updated", new, self._sensor_account(new), changed)
        return new

    def delete_sensor(self, sensor_id: int) -> None:
        sensor = self.get_sensor(sensor_id)
        with self.transaction():
            self._audit_sensor("Deleted", sensor, self._sensor_account(sensor))
            self._run("DELETE FROM beliefs WHERE sensor_id = ?", [sensor_id])
            self._run("DELETE FROM annotations WHERE sensor_id = ?", [sensor_id])
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
        # a concurrent writer (PostgreSQL) may create the same source: take theirs
        made = self._run(
            "INSERT INTO sources (name, type, model, version) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name, type, model, version) DO NOTHING "
            "RETURNING id, name, type, model, version",
            params,
        )
        if not made:
            made = self._run(
                f"SELECT id, name, type, model, version FROM sources WHERE {where}", params
            )
        return self._source(made[0])

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
