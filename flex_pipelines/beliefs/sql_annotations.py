"""Annotations in SQL (both backends): labelled periods — holidays, outages, price alerts — on an
account, an asset or a sensor, as FlexMeasures' annotations. A mixin of
:class:`~flex_pipelines.beliefs.sql_entities.SQLEntities` (it uses its ``_run``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flex_pipelines.beliefs.audit import ANNOTATION_TYPES, Annotation
from flex_pipelines.beliefs.sql_admin import opt_int, utc
from flex_pipelines.errors import FlexPipelinesError, NotFoundError

_ANNOTATION_COLS = (
    "id, content, start_time, end_time, type, belief_time, source_id, account_id, asset_id, "
    "sensor_id"
)


class SQLAnnotations:
    """Add, find and delete annotations."""

    @staticmethod
    def _annotation(r: tuple) -> Annotation:
        return Annotation(
            id=int(r[0]),
            content=r[1],
            start=utc(r[2]),
            end=utc(r[3]),
            type=r[4],
            belief_time=None if r[5] is None else utc(r[5]),
            source_id=opt_int(r[6]),
            account_id=opt_int(r[7]),
            asset_id=opt_int(r[8]),
            sensor_id=opt_int(r[9]),
        )

    def add_annotation(
        self,
        content: str,
        start: datetime,
        end: datetime,
        *,
        type: str = "label",
        belief_time: datetime | None = None,
        source_id: int | None = None,
        account_id: int | None = None,
        asset_id: int | None = None,
        sensor_id: int | None = None,
    ) -> tuple[Annotation, bool]:
        """Annotate an account, asset or sensor (exactly one) over [start, end).

        Returns the annotation and whether it is new: the same content, period, type and
        source on the same entity is stored once (FlexMeasures answers 200 for it, not 201).
        """
        links = {"account_id": account_id, "asset_id": asset_id, "sensor_id": sensor_id}
        given = {k: int(v) for k, v in links.items() if v is not None}
        if len(given) != 1:
            raise FlexPipelinesError("annotate exactly one account, asset or sensor")
        if type not in ANNOTATION_TYPES:
            raise FlexPipelinesError(f"annotation type {type!r} is not one of {ANNOTATION_TYPES}")
        if start.tzinfo is None or end.tzinfo is None:
            raise FlexPipelinesError("annotation start and end need a UTC offset")
        if end <= start:
            raise FlexPipelinesError(f"annotation end {end} is not after its start {start}")
        ((col, entity_id),) = given.items()
        src = "source_id IS NULL" if source_id is None else f"source_id = {int(source_id)}"
        found = self._run(
            f"SELECT {_ANNOTATION_COLS} FROM annotations WHERE {col} = ? AND content = ? "
            f"AND start_time = ? AND end_time = ? AND type = ? AND {src}",
            [entity_id, content, start, end, type],
        )
        if found:
            return self._annotation(found[0]), False
        (row,) = self._run(
            f"INSERT INTO annotations (content, start_time, end_time, type, belief_time, "
            f"source_id, {col}) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_ANNOTATION_COLS}",
            [content, start, end, type, belief_time, source_id, entity_id],
        )
        return self._annotation(row), True

    def get_annotation(self, annotation_id: int) -> Annotation:
        rows = self._run(
            f"SELECT {_ANNOTATION_COLS} FROM annotations WHERE id = ?", [int(annotation_id)]
        )
        if not rows:
            raise NotFoundError(f"unknown annotation id {annotation_id}")
        return self._annotation(rows[0])

    def list_annotations(
        self,
        *,
        account_id: int | None = None,
        asset_ids: Sequence[int] | None = None,
        sensor_ids: Sequence[int] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
    ) -> list[Annotation]:
        """Annotations on an account, any of some assets or sensors, overlapping [start, end)."""
        ors, params = [], []
        if account_id is not None:
            ors.append("account_id = ?")
            params.append(int(account_id))
        if asset_ids:
            ors.append("asset_id IN (" + ", ".join(str(int(i)) for i in asset_ids) + ")")
        if sensor_ids:
            ors.append("sensor_id IN (" + ", ".join(str(int(i)) for i in sensor_ids) + ")")
        where = ["(" + " OR ".join(ors) + ")"] if ors else []
        if start is not None:
            where.append("end_time > ?")
            params.append(start)
        if end is not None:
            where.append("start_time < ?")
            params.append(end)
        if types:
            where.append("type IN (" + ", ".join("?" for _ in types) + ")")
            params.extend(types)
        sql = f"SELECT {_ANNOTATION_COLS} FROM annotations"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._annotation(r) for r in self._run(sql + " ORDER BY start_time, id", params)]

    def delete_annotation(self, annotation_id: int) -> None:
        self.get_annotation(annotation_id)
        self._run("DELETE FROM annotations WHERE id = ?", [int(annotation_id)])
