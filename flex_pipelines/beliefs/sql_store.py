"""The SQL belief store shared by both backends; dialect specifics live in the subclasses.

SQL here is written with ``?`` placeholders and features both DuckDB and PostgreSQL have
(sequences, ``DISTINCT ON``, ``RETURNING``). Subclasses provide connections, bulk staging of a
frame as the temporary table ``_incoming``, and fetching a result as a polars frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import (
    BELIEF_SCHEMA,
    SaveResult,
    now_utc,
)
from flex_pipelines.beliefs.sql_entities import in_list
from flex_pipelines.beliefs.sql_search import SQLBeliefSearch, _ids
from flex_pipelines.beliefs.store import Ingestion
from flex_pipelines.beliefs.validate import (
    BeliefValidationError,
    check_beliefs,
    coerce_belief_frame,
)

_BELIEF_COLS = ", ".join(BELIEF_SCHEMA)


def drop_unchanged(frame: pl.DataFrame) -> pl.DataFrame:
    """A checked belief frame without the beliefs that repeat their preceding belief.

    The preceding belief of a belief is the one of the same source about the same event (same
    sensor, event start and cumulative probability) with the latest earlier belief time, on the
    same side of the knowledge time: ex-ante beliefs (``belief_horizon_s > 0``) follow ex-ante
    ones and ex-post beliefs ex-post ones, so the first measurement is kept even when it equals
    the last forecast (as FlexMeasures does). A belief of a source about an event at a belief
    time is dropped only as a whole: a probabilistic belief is kept whole when any of its
    probabilities changed. This equals saving the frame one belief time after the other.

    Parameters
    ----------
    frame : pl.DataFrame
        Beliefs with ``belief_horizon_s`` (as :func:`check_beliefs` returns them), no key twice.

    Returns
    -------
    pl.DataFrame
        The beliefs to store, in any order.
    """
    if frame["belief_time"].n_unique() == 1:
        return frame  # no belief follows another one
    part = ["sensor_id", "event_start", "source_id", "cumulative_probability", "_ex_ante"]
    ordered = frame.with_columns((pl.col("belief_horizon_s") > 0).alias("_ex_ante")).sort(
        [*part, "belief_time"]
    )
    follows = pl.all_horizontal(pl.col(c) == pl.col(c).shift(1) for c in part)
    same = ordered.select(
        (follows & (pl.col("event_value") == pl.col("event_value").shift(1))).fill_null(False)
    ).to_series()
    if not same.any():
        return frame
    # a belief of a source at a belief time is unchanged when all its probabilities are
    unchanged = pl.col("_same").all().over("sensor_id", "event_start", "belief_time", "source_id")
    return ordered.with_columns(same.alias("_same")).filter(~unchanged).drop("_ex_ante", "_same")


def _conflict_error(conflicts: list[tuple]) -> BeliefValidationError:
    """The refusal of a belief whose key is stored with another value (up to 3 given)."""
    c = conflicts[0]
    more = " or more" if len(conflicts) == 3 else ""
    return BeliefValidationError(
        f"sensor {c[0]} already holds value {c[4]} for event {c[1]} believed at "
        f"{c[2]} by source {c[3]}; refusing to change it to {c[5]} "
        f"({len(conflicts)}{more} such belief(s)); save with a new belief time, "
        f"or overwrite explicitly"
    )


class SQLBeliefStore(SQLBeliefSearch):
    """Saving and searching beliefs, and the ingestion log."""

    # --- beliefs: writing ----------------------------------------------------------------------
    def save_beliefs(
        self, beliefs: pl.DataFrame, *, overwrite: bool = False, changed_only: bool = True
    ) -> SaveResult:
        frame = coerce_belief_frame(beliefs)
        if frame.is_empty():
            return SaveResult(0, 0, None)
        sensor_ids = frame["sensor_id"].unique().to_list()
        sensors = self._sensors(sensor_ids)
        src_ids = frame["source_id"].unique().to_list()
        known = {
            int(r[0]) for r in self._run(f"SELECT id FROM sources WHERE id IN ({in_list(src_ids)})")
        }
        frame = check_beliefs(frame, sensors, known)
        n_total = frame.height
        lo, hi = frame["event_start"].min(), frame["event_start"].max()
        scope = (
            f"b.sensor_id IN ({in_list(sensor_ids)}) AND b.event_start >= ? AND b.event_start <= ?"
        )
        key_join = (
            "b.sensor_id = n.sensor_id AND b.event_start = n.event_start AND "
            "b.belief_time = n.belief_time AND b.source_id = n.source_id AND "
            "b.cumulative_probability = n.cumulative_probability"
        )
        cols = ", ".join("n." + c for c in BELIEF_SCHEMA)
        with self.transaction():
            # changed_only: compare with stored beliefs of the same sources in SQL, or, when
            # there are none, within the frame before it is staged
            mine = f"{scope} AND b.source_id IN ({in_list(src_ids)}) AND b.belief_time <= ?"
            window = [lo, hi, frame["belief_time"].max()]
            stored_before = changed_only and bool(
                self._run(f"SELECT 1 FROM beliefs b WHERE {mine} LIMIT 1", window)
            )
            if changed_only and not stored_before:
                frame = drop_unchanged(frame)
            self._stage(frame)
            try:
                # one join tells, per incoming belief, whether (and with what value) it is stored
                self._run(
                    f"CREATE TEMP TABLE _cmp AS SELECT {cols}, n.belief_horizon_s, "
                    f"b.event_value AS stored_value, FALSE AS unchanged FROM _incoming n "
                    f"LEFT JOIN (SELECT * FROM beliefs b WHERE {scope}) b ON {key_join}",
                    [lo, hi],
                )
                if stored_before:
                    self._mark_unchanged(mine, window)
                changed = "stored_value IS NOT NULL AND stored_value <> event_value"
                conflicts = self._run(
                    f"SELECT sensor_id, event_start, belief_time, source_id, stored_value, "
                    f"event_value FROM _cmp WHERE {changed} ORDER BY event_start LIMIT 3"
                )
                if conflicts and not overwrite:
                    raise _conflict_error(conflicts)
                if conflicts:
                    self._run(
                        f"DELETE FROM beliefs WHERE {scope.replace('b.', '')} AND EXISTS (SELECT 1 "
                        f"FROM _cmp n WHERE {key_join.replace('b.', 'beliefs.')} AND {changed})",
                        [lo, hi],
                    )
                new = "(stored_value IS NULL AND NOT unchanged)" + (
                    f" OR ({changed})" if conflicts else ""
                )
                counts = self._insert_new(new, overwrite)
            except BaseException:
                self._drop_quietly()  # a failed transaction refuses the DROP; rollback does it
                raise
            self._run("DROP TABLE IF EXISTS _cmp")
            self._unstage()
        n_new = sum(n for _, _, n in counts)
        by_sensor = {sensor_id: n for sensor_id, _, n in counts}
        return SaveResult(n_new, n_total - n_new, counts[-1][1] if counts else None, by_sensor)

    def _mark_unchanged(self, mine: str, params: list[Any]) -> None:
        """Set ``_cmp.unchanged`` where a belief that is not stored yet repeats its preceding
        belief (see :func:`drop_unchanged`), looking at the incoming beliefs and at the stored
        ones matching ``mine`` (the scope, the sources, belief times up to the latest incoming).

        A stored belief under the key of an incoming one sorts before it, so the incoming value
        is what a later belief follows (with ``overwrite`` it replaces the stored one).
        """
        if not self._run("SELECT 1 FROM _cmp WHERE stored_value IS NULL LIMIT 1"):
            return  # everything is stored already
        key = "sensor_id, event_start, belief_time, source_id, cumulative_probability"
        self._run(
            f"UPDATE _cmp SET unchanged = TRUE FROM (SELECT {key} FROM (SELECT {key}, is_new, "
            f"bool_and(same) OVER (PARTITION BY sensor_id, event_start, belief_time, source_id) "
            f"AS all_same FROM (SELECT {key}, is_new, coalesce(event_value = lag(event_value) "
            f"OVER (PARTITION BY sensor_id, event_start, source_id, cumulative_probability, "
            f"belief_horizon_s > 0 ORDER BY belief_time, is_new), FALSE) AS same FROM ("
            f"SELECT {key}, event_value, belief_horizon_s, 1 AS is_new FROM _cmp UNION ALL "
            f"SELECT {key}, event_value, belief_horizon_s, 0 FROM beliefs b WHERE {mine}) seq) "
            f"prev WHERE is_new = 1) grouped WHERE all_same) u WHERE _cmp.stored_value IS NULL "
            f"AND _cmp.sensor_id = u.sensor_id AND _cmp.event_start = u.event_start AND "
            f"_cmp.belief_time = u.belief_time AND _cmp.source_id = u.source_id AND "
            f"_cmp.cumulative_probability = u.cumulative_probability",
            params,
        )

    def _drop_quietly(self) -> None:
        """Drop the save's temporary tables after an error, without masking that error."""
        for drop in (lambda: self._run("DROP TABLE IF EXISTS _cmp"), self._unstage):
            with suppress(Exception):  # the rollback removes them; the first error counts
                drop()

    def _insert_rows(self, select: str, overwrite: bool) -> dict[int, int] | None:
        """Insert the beliefs ``select`` returns (its columns in the order of ``beliefs``).

        A backend whose writers run concurrently inserts what no other writer stored meanwhile
        and returns the rows it inserted per sensor; None means every row went in.
        """
        self._run(f"INSERT INTO beliefs ({_BELIEF_COLS}, belief_horizon_s, ingestion_id) {select}")
        return None

    def _insert_new(self, new: str, overwrite: bool = False) -> list[tuple[int, int, int]]:
        """Insert the compared beliefs matching ``new``; log one ingestion per sensor.

        Returns ``[(sensor_id, ingestion_id, n_new)]`` per sensor with new beliefs. A belief
        another writer stored meanwhile (PostgreSQL) counts as stored: with the same value it is
        not new, with another value the save is refused as if it had been stored before.
        """
        per_sensor = self._run(
            f"SELECT c.sensor_id, count(*), min(c.event_start), max(c.event_start), "
            f"string_agg(DISTINCT src.type, ',' ORDER BY src.type) FROM _cmp c "
            f"JOIN sources src ON src.id = c.source_id WHERE {new} "
            f"GROUP BY c.sensor_id ORDER BY c.sensor_id"
        )
        if not per_sensor:
            return []
        now = now_utc()
        out = []
        ids = {}
        for sensor_id, n, first, last, types in per_sensor:
            res = self.get_sensor(int(sensor_id)).event_resolution
            (row,) = self._run(
                "INSERT INTO ingestions (sensor_id, n_new, first_event_start, last_event_end, "
                "created_at, source_types) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                [int(sensor_id), int(n), first, last + res, now, types or ""],
            )
            ids[int(sensor_id)] = int(row[0])
            out.append((int(sensor_id), int(row[0]), int(n)))
        # each belief's ingestion by a hash join on a VALUES list (a CASE over every sensor was
        # evaluated per row: quadratic in the sensors of one save, hours for 20,000 sensors)
        pairs = ", ".join(f"({int(s)}, {int(i)})" for s, i in ids.items())
        inserted = self._insert_rows(
            f"SELECT {_BELIEF_COLS}, belief_horizon_s, m.ingestion_id FROM _cmp c "
            f"JOIN (VALUES {pairs}) AS m(sensor_id, ingestion_id) USING (sensor_id) "
            f"WHERE {new} ORDER BY sensor_id, event_start, belief_time, source_id, "
            f"cumulative_probability",  # locality (zone maps, B-tree pages); one lock order
            overwrite,
        )
        if inserted is None or all(inserted.get(s, 0) == n for s, _, n in out):
            return out
        # another writer stored some of these beliefs after we compared: refuse a different
        # value (as if it had been stored before), count the same value as already stored
        key = " AND ".join(
            f"b.{c} = c.{c}"
            for c in (
                "sensor_id",
                "event_start",
                "belief_time",
                "source_id",
                "cumulative_probability",
            )
        )
        raced = self._run(
            f"SELECT c.sensor_id, c.event_start, c.belief_time, c.source_id, b.event_value, "
            f"c.event_value FROM _cmp c JOIN beliefs b ON {key} WHERE ({new}) AND "
            f"b.event_value <> c.event_value AND b.ingestion_id NOT IN ({in_list(ids.values())}) "
            f"ORDER BY c.event_start LIMIT 3"
        )
        if raced:
            raise _conflict_error(raced)
        kept = []
        for sensor_id, ingestion_id, _ in out:
            n = inserted.get(sensor_id, 0)
            if n:
                self._run("UPDATE ingestions SET n_new = ? WHERE id = ?", [n, ingestion_id])
                kept.append((sensor_id, ingestion_id, n))
            else:  # a save that stores nothing logs no ingestion
                self._run("DELETE FROM ingestions WHERE id = ?", [ingestion_id])
        return kept

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
            where.append(f"source_id IN ({in_list(source_ids)})")
        with self.transaction():
            (row,) = self._run(f"SELECT count(*) FROM beliefs WHERE {' AND '.join(where)}", params)
            self._run(f"DELETE FROM beliefs WHERE {' AND '.join(where)}", params)
        return int(row[0])

    def count_beliefs(self, sensor_ids: int | Sequence[int] | None = None) -> int:
        sql = "SELECT count(*) FROM beliefs"
        if sensor_ids is not None:
            sql += f" WHERE sensor_id IN ({in_list(_ids(sensor_ids))})"
        return int(self._run(sql)[0][0])

    def ingestion_watermark(self) -> int:
        return int(self._run("SELECT coalesce(max(id), 0) FROM ingestions")[0][0])

    def ingestions_since(self, watermark: int, limit: int = 10_000) -> list[Ingestion]:
        rows = self._run(
            "SELECT id, sensor_id, n_new, first_event_start, last_event_end, created_at, "
            "source_types FROM ingestions WHERE id > ? ORDER BY id LIMIT ?",
            [int(watermark), int(limit)],
        )
        return [
            Ingestion(
                int(r[0]),
                int(r[1]),
                int(r[2]),
                r[3],
                r[4],
                r[5],
                tuple(filter(None, (r[6] or "").split(","))),
            )
            for r in rows
        ]
