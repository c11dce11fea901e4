"""SQL pieces shared by the per-event and the daily KPI queries, for DuckDB and PostgreSQL.

- **Which belief counts** for an event, written three ways over one rule (:data:`SOURCE_RANK`):
  an ``ORDER BY`` for PostgreSQL's ``DISTINCT ON`` (:data:`LATEST_ORDER`), an ``arg_max`` key
  for DuckDB (:func:`latest_values_sql`), and one HUGEINT key for DuckDB's pivot in the same
  aggregation (:data:`DUCKDB_LATEST_KEY`);
- **literals**: Python values as SQL text (:func:`sql_literal`, :func:`ts_literal`) and
  ``VALUES`` lists whose first row casts every column, which is how PostgreSQL learns the
  types (:func:`values_list`);
- **time**: epoch seconds of a TIMESTAMPTZ column (:func:`epoch_seconds`; DuckDB's ``epoch_us``
  avoids ICU) and a timezone's UTC offset as a ``CASE`` over its DST transitions in the window
  (:func:`offset_case`);
- :func:`nullable_sum`: a sum of columns that is NULL only when every term is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from flex_pipelines.time import get_zone

__all__ = [
    "DUCKDB_LATEST_KEY",
    "LATEST_ORDER",
    "SOURCE_RANK",
    "epoch_seconds",
    "latest_values_sql",
    "nullable_sum",
    "offset_case",
    "sql_literal",
    "ts_literal",
    "values_list",
]

#: Which belief counts for an event: observed values (measurements, market prices: any source
#: type but forecaster and scheduler) before schedules before forecasts; within a kind, the
#: latest belief, then the probability closest to 0.5 (lower on a tie), then the higher
#: source id. So costs settle at published prices, not at a forecast made at the same time.
#: Needs the sources table joined as ``src``.
SOURCE_RANK = "CASE src.type WHEN 'forecaster' THEN 2 WHEN 'scheduler' THEN 1 ELSE 0 END"
LATEST_ORDER = (
    f"ORDER BY b.sensor_id, b.event_start, {SOURCE_RANK}, b.belief_time DESC, "
    "abs(b.cumulative_probability - 0.5), b.cumulative_probability, b.ingestion_id DESC, "
    "b.source_id DESC"
)


#: The same ordering as one HUGEINT (DuckDB, beliefs as ``l``): the source rank, then belief
#: time (µs), then closeness of the probability to 0.5 (in steps of 1e-4), then the lower
#: probability, then the later ingestion (below 1e10), then the higher source id (below 1e6):
#: the store's tie-break for one value per event (docs/conventions.md). At most ~4e37 < 2^127.
DUCKDB_LATEST_KEY = (
    f"((((CAST(2 - ({SOURCE_RANK}) AS HUGEINT) * 100000000000000000 + epoch_us(l.belief_time)) "
    "* 10001 + CAST(round((0.5 - abs(l.cumulative_probability - 0.5)) * 10000) AS HUGEINT)) * 2 "
    "+ CAST(l.cumulative_probability <= 0.5 AS INTEGER)) * 10000000000 + l.ingestion_id) * 1000000 "
    "+ l.source_id"
)


def latest_values_sql(dialect: str, where: str) -> str:
    """One value per sensor and event (see :data:`SOURCE_RANK`), fastest per dialect.

    ``where`` refers to the beliefs as ``b``. PostgreSQL: ``DISTINCT ON``. DuckDB: a hash
    aggregate with ``arg_max`` over the same ordering key, several times faster than its
    ``DISTINCT ON`` on tens of millions of rows.
    """
    src = "beliefs b JOIN sources src ON src.id = b.source_id"
    if dialect == "duckdb":
        return (
            f"SELECT b.sensor_id, b.event_start, arg_max(b.event_value, (-({SOURCE_RANK}), "
            "b.belief_time, -abs(b.cumulative_probability - 0.5), -b.cumulative_probability, "
            f"b.source_id)) AS event_value FROM {src} WHERE {where} "
            "GROUP BY b.sensor_id, b.event_start"
        )
    return (
        f"SELECT DISTINCT ON (b.sensor_id, b.event_start) b.sensor_id, b.event_start, "
        f"b.event_value FROM {src} WHERE {where} {LATEST_ORDER}"
    )


def ts_literal(dt: datetime) -> str:
    """A TIMESTAMPTZ literal (UTC, whole seconds)."""
    return f"TIMESTAMPTZ '{dt.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}+00'"


def sql_literal(x: object) -> str:
    """None, a bool, str, datetime, float or int as SQL text."""
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    if isinstance(x, str):
        return "'" + x.replace("'", "''") + "'"
    if isinstance(x, datetime):
        return ts_literal(x)
    if isinstance(x, float):
        return repr(x)
    return str(int(x))  # type: ignore[call-overload]


def values_list(rows: Sequence[tuple], types: Sequence[str]) -> str:
    """A VALUES list whose first row casts every column (PostgreSQL infers types from it)."""
    out = []
    for i, row in enumerate(rows):
        cells = [sql_literal(x) for x in row]
        if i == 0:
            cells = [f"CAST({c} AS {t})" for c, t in zip(cells, types, strict=True)]
        out.append("(" + ", ".join(cells) + ")")
    return ", ".join(out)


def offset_case(timezone: str, start: datetime, end: datetime, col: str) -> str:
    """SQL for the UTC offset (seconds) of ``col`` (epoch seconds) in ``timezone`` in [start, end)."""
    tz = get_zone(timezone)
    t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    points: list[tuple[datetime, int]] = []
    while t <= end + timedelta(hours=1):
        off = int(t.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
        if not points or points[-1][1] != off:
            points.append((t, off))
        t += timedelta(hours=1)
    if len(points) == 1:
        return str(points[0][1])
    parts = [
        f"WHEN {col} < {int(points[i + 1][0].timestamp())} THEN {points[i][1]}"
        for i in range(len(points) - 1)
    ]
    return f"CASE {' '.join(parts)} ELSE {points[-1][1]} END"


def epoch_seconds(col: str, dialect: str) -> str:
    """Epoch seconds (BIGINT) of a TIMESTAMPTZ column; DuckDB's epoch_us avoids ICU."""
    if dialect == "duckdb":
        return f"(epoch_us({col}) // 1000000)"
    return f"CAST(date_part('epoch', {col}) AS BIGINT)"  # double, not numeric: faster


def nullable_sum(cols: list[str]) -> str:
    """SQL for the sum of ``cols``, NULL only when all are (a missing term counts as 0)."""
    if not cols:
        return "CAST(NULL AS DOUBLE)"
    if len(cols) == 1:
        return cols[0]
    nulls = " AND ".join(f"{c} IS NULL" for c in cols)
    return f"CASE WHEN {nulls} THEN NULL ELSE {' + '.join(f'coalesce({c}, 0)' for c in cols)} END"
