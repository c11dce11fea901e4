"""PostgreSQL backend (psycopg 3): concurrent production use, COPY for bulk loads.

Beliefs have a primary key on (sensor_id, event_start, belief_time, source_id,
cumulative_probability); its B-tree serves window scans and the idempotency anti-join.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import polars as pl
import psycopg

from flex_pipelines.beliefs.model import BELIEF_KEY, BELIEF_SCHEMA
from flex_pipelines.beliefs.schema import POSTGRES_TYPES, ddl
from flex_pipelines.beliefs.sql_store import SQLBeliefStore
from flex_pipelines.beliefs.urls import redact
from flex_pipelines.errors import FlexPipelinesError

_BELIEF_COLS = ", ".join(BELIEF_SCHEMA)
_STAGE_COLS = [
    "sensor_id",
    "event_start_us",
    "belief_time_us",
    "source_id",
    "cumulative_probability",
    "event_value",
    "belief_horizon_s",
]


class PostgresStore(SQLBeliefStore):
    dialect = "postgresql"

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout: int = 5):
        """``schema`` (or ``?schema=name`` in the URL) keeps the tables in their own schema."""
        super().__init__()
        self.url = url
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        m = re.search(r"[?&]schema=([A-Za-z_][A-Za-z0-9_]*)", conninfo)
        if m:
            schema = schema or m.group(1)
            conninfo = re.sub(r"[?&]schema=[A-Za-z0-9_]+", "", conninfo)
        try:
            self._con = psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=connect_timeout,
                options="-c TimeZone=UTC",
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # libpq may quote the connection string in its message: redact that too
            raise FlexPipelinesError(
                f"cannot reach PostgreSQL at {redact(url)}: {redact(first)}"
            ) from exc
        self._depth = 0
        self.schema = schema
        if schema:
            self._run(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._run(f'SET search_path TO "{schema}"')

    def close(self) -> None:
        if self._con is not None and not self._con.closed:
            self._con.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._depth += 1
        try:
            with self._con.transaction():
                yield
        finally:
            self._depth -= 1

    @staticmethod
    def _pg(sql: str) -> str:
        return sql.replace("?", "%s")

    def _run(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self._con.cursor() as cur:
            cur.execute(self._pg(sql), list(params) if params else None)
            return cur.fetchall() if cur.description else []

    def _fetch_frame(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        with self._con.cursor(binary=True) as cur:
            cur.execute(self._pg(sql), list(params) if params else None)
            cols = [d.name for d in cur.description or []]
            rows = cur.fetchall()
        if not rows:
            from flex_pipelines.beliefs.model import BELIEF_SCHEMA

            if cols == list(BELIEF_SCHEMA):
                return pl.DataFrame(schema=BELIEF_SCHEMA)
            return pl.DataFrame(schema=dict.fromkeys(cols, pl.Null))
        frame = pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)
        return frame.with_columns(
            pl.col(c).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
            for c, t in frame.schema.items()
            if isinstance(t, pl.Datetime) and t.time_zone is not None
        )

    def _fetch_beliefs(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Belief rows via binary COPY … TO STDOUT, decoded with numpy (no Python row objects).

        Every belief column is NOT NULL and 8 bytes wide, so each row of the binary COPY stream
        has the same layout and the whole stream is one structured numpy array. Anything else
        (which the schema rules out) falls back to the CSV path.
        """
        frame = _decode_binary_beliefs(memoryview(self._copy_out(sql, params, "FORMAT binary")))
        if frame is None:
            return self._fetch_beliefs_csv(sql, params)
        return frame

    def _copy_out(self, sql: str, params: Sequence[Any] | None, options: str) -> bytes:
        """The result of ``sql`` as ``COPY … TO STDOUT (options)`` bytes."""
        buf = io.BytesIO()
        with (
            self._con.cursor() as cur,
            cur.copy(f"COPY ({self._pg(sql)}) TO STDOUT ({options})", list(params or [])) as copy,
        ):
            for chunk in copy:
                buf.write(chunk)
        return buf.getvalue()

    def _fetch_beliefs_csv(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Belief rows via COPY … TO STDOUT and polars' CSV reader (no Python row objects)."""
        from flex_pipelines.beliefs.model import BELIEF_SCHEMA

        schema = {
            c: (pl.String if isinstance(t, pl.Datetime) else t) for c, t in BELIEF_SCHEMA.items()
        }
        frame = pl.read_csv(self._copy_out(sql, params, "FORMAT csv, HEADER true"), schema=schema)
        return frame.with_columns(
            pl.col(c).str.to_datetime("%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us")
            for c, t in BELIEF_SCHEMA.items()
            if isinstance(t, pl.Datetime)
        )

    def _stage(self, frame: pl.DataFrame) -> None:
        staged = frame.select(
            pl.col("sensor_id"),
            pl.col("event_start").dt.epoch("us").alias("event_start_us"),
            pl.col("belief_time").dt.epoch("us").alias("belief_time_us"),
            pl.col("source_id"),
            pl.col("cumulative_probability"),
            pl.col("event_value"),
            pl.col("belief_horizon_s"),
        )
        self._run(
            "CREATE TEMP TABLE _incoming_raw (sensor_id BIGINT, event_start_us BIGINT, "
            "belief_time_us BIGINT, source_id BIGINT, cumulative_probability DOUBLE PRECISION, "
            "event_value DOUBLE PRECISION, belief_horizon_s BIGINT) ON COMMIT DROP"
        )
        buf = io.BytesIO()
        staged.write_csv(buf, include_header=False, float_precision=None)
        with (
            self._con.cursor() as cur,
            cur.copy(
                f"COPY _incoming_raw ({', '.join(_STAGE_COLS)}) FROM STDIN WITH (FORMAT csv)"
            ) as copy,
        ):
            copy.write(buf.getvalue())
        self._run(
            "CREATE TEMP VIEW _incoming AS SELECT sensor_id, "
            "timestamptz 'epoch' + event_start_us * INTERVAL '1 microsecond' AS event_start, "
            "timestamptz 'epoch' + belief_time_us * INTERVAL '1 microsecond' AS belief_time, "
            "source_id, cumulative_probability, event_value, belief_horizon_s FROM _incoming_raw"
        )

    def _insert_rows(self, select: str, overwrite: bool) -> dict[int, int] | None:
        """Insert what no concurrent writer stored meanwhile (``ON CONFLICT`` on the key).

        A concurrent insert of the same key makes this one wait for its commit; the row is
        then skipped (or, with ``overwrite``, replaced) and the caller sees fewer new rows.
        """
        action = (
            "DO UPDATE SET event_value = EXCLUDED.event_value, belief_horizon_s = "
            "EXCLUDED.belief_horizon_s, ingestion_id = EXCLUDED.ingestion_id"
            if overwrite
            else "DO NOTHING"
        )
        rows = self._run(
            f"WITH ins AS (INSERT INTO beliefs ({_BELIEF_COLS}, belief_horizon_s, ingestion_id) "
            f"{select} ON CONFLICT ({', '.join(BELIEF_KEY)}) {action} RETURNING sensor_id) "
            f"SELECT sensor_id, count(*) FROM ins GROUP BY sensor_id"
        )
        return {int(s): int(n) for s, n in rows}

    def _unstage(self) -> None:
        self._run("DROP VIEW IF EXISTS _incoming")
        self._run("DROP TABLE IF EXISTS _incoming_raw")

    def _ddl(self) -> list[str]:
        return ddl(POSTGRES_TYPES)


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
#: microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC)
_PG_EPOCH_US = 946_684_800_000_000


def _decode_binary_beliefs(data: memoryview) -> pl.DataFrame | None:
    """A belief frame from a binary COPY of the :data:`BELIEF_SCHEMA` columns, or None when the
    stream is not the fixed layout (6 non-null fields of 8 bytes per row)."""
    from flex_pipelines.beliefs.model import BELIEF_SCHEMA

    if len(data) < 21 or bytes(data[:11]) != _COPY_SIGNATURE:
        return None
    body = 19 + int.from_bytes(data[15:19], "big")  # header: signature, flags, extension
    if bytes(data[-2:]) != b"\xff\xff":
        return None
    names = list(BELIEF_SCHEMA)
    kinds = {pl.Int64: ">i8", pl.Float64: ">f8", pl.Datetime: ">i8"}
    fields: list[tuple[str, str]] = [("n", ">i2")]
    for name, dtype in BELIEF_SCHEMA.items():
        fields += [(f"{name}_len", ">i4"), (name, kinds[type(dtype)])]
    row = np.dtype(fields)
    payload = data[body:-2]
    if len(payload) % row.itemsize:
        return None
    rows = np.frombuffer(payload, dtype=row)
    if len(rows) and (
        (rows["n"] != len(names)).any() or any((rows[f"{c}_len"] != 8).any() for c in names)
    ):
        return None
    columns = {}
    for name, dtype in BELIEF_SCHEMA.items():
        values = rows[name].astype(rows[name].dtype.newbyteorder("="))
        if isinstance(dtype, pl.Datetime):
            # Int64 -> Datetime("us", "UTC") reads the integers as UTC epoch microseconds
            columns[name] = pl.Series(name, values + _PG_EPOCH_US, dtype=pl.Int64).cast(dtype)
        else:
            columns[name] = pl.Series(name, values, dtype=dtype)
    return pl.DataFrame(list(columns.values()))
