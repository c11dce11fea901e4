"""SQL reporter: a user's SELECT over named, time-windowed inputs returns ``event_start, value``.

Configuration::

    {"inputs": {"pv": {"sensor": 3}, "price": {"sensor": 1, "unit": "EUR/MWh"}},
     "sql": "SELECT event_start, $capacity_kw - value AS value FROM pv",
     "params": {"capacity_kw": 500},      # optional named parameters ($name in the SQL)
     "resolution": "PT15M",               # optional: resample every input to it
     "unit": "kW"}                        # optional: the unit of the returned values

Each input is a table (DuckDB view) with the columns ``event_start`` (TIMESTAMPTZ, UTC) and
``value`` (DOUBLE): one value per event — the latest belief, as known ``as_of`` — for the events
starting in the report window, in the sensor's unit (or ``"unit"``). ``$window_start`` and
``$window_end`` are always available as parameters.

The query runs on a fresh **in-memory DuckDB** over polars frames, never on the store itself,
so it behaves the same whether the store is DuckDB or PostgreSQL (write it in DuckDB's SQL
dialect). It must be a single SELECT (or WITH … SELECT / VALUES / FROM …) statement, checked by
DuckDB's own parser (:func:`duckdb.extract_statements`); anything else (INSERT, UPDATE,
DELETE, CREATE, COPY, ATTACH, PRAGMA, SET, INSTALL, LOAD, CALL, EXPLAIN, several statements) is
refused before running. As a second line of defence the in-memory database has file system and
network access disabled and its configuration locked, so table functions such as
``read_csv('/etc/passwd')`` fail too.

A query runs for at most ``FLEXPIPE_SQL_REPORT_TIMEOUT_S`` seconds (default 30; read when the
report runs): then it is interrupted and refused, so a cross join cannot hold a CLI or the API's
job worker for long.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import REPORT_FRAME_SCHEMA, ReportError, ReportResult
from flex_pipelines.reporting.common import (
    check_fields,
    config_resolution,
    empty_note,
    finish,
    latest_belief_time,
)
from flex_pipelines.reporting.series import Series, is_sensor_ref, read_input, to_resolution
from flex_pipelines.time import format_duration

__all__ = [
    "SQLReportError",
    "check_read_only_sql",
    "run_sql_report",
    "sql_report",
    "statement_timeout_s",
    "SQL_FIELDS",
]

SQL_FIELDS = {"inputs", "sql", "params", "resolution", "unit"}
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_VARIABLE = "FLEXPIPE_SQL_REPORT_TIMEOUT_S"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {"window_start", "window_end"}


class SQLReportError(ReportError):
    """A report query that is not a single read-only SELECT, or returns the wrong columns."""


def check_read_only_sql(sql: str) -> str:
    """Return the one SELECT statement in ``sql``, or raise :class:`SQLReportError`."""
    if not isinstance(sql, str) or not sql.strip():
        raise SQLReportError(
            "config field 'sql' is empty; give a SELECT returning event_start, value"
        )
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SQLReportError(f"config field 'sql' does not parse: {exc}") from exc
    if len(statements) != 1:
        raise SQLReportError(
            f"config field 'sql' holds {len(statements)} statements; a report query must be "
            f"exactly one SELECT"
        )
    st = statements[0]
    if st.type != duckdb.StatementType.SELECT:
        kind = str(st.type).rsplit(".", 1)[-1]
        raise SQLReportError(
            f"config field 'sql' is a {kind} statement ({_excerpt(sql)}); report queries are "
            f"read-only: only a single SELECT (or WITH … SELECT) is allowed"
        )
    return st.query


def _excerpt(sql: str, n: int = 60) -> str:
    one = " ".join(sql.split())
    return repr(one if len(one) <= n else one[: n - 1] + "…")


def statement_timeout_s() -> float:
    """The statement timeout of report queries, read when a report runs.

    Returns
    -------
    float
        ``FLEXPIPE_SQL_REPORT_TIMEOUT_S`` in seconds (> 0), else 30; another value is an
        :class:`SQLReportError` naming it.
    """
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SQLReportError(f"{TIMEOUT_VARIABLE}={text!r} is not a positive number of seconds")
    return value


def run_sql_report(
    sql: str,
    tables: Mapping[str, pl.DataFrame],
    params: Mapping[str, Any] | None = None,
    *,
    timeout_s: float | None = None,
) -> pl.DataFrame:
    """Run a checked SELECT on an in-memory DuckDB holding ``tables``; return event_start, value.

    The result must have exactly the columns ``event_start`` (a timestamp) and ``value`` (a
    number), one row per event; null values are dropped. A query running longer than
    ``timeout_s`` (default: :func:`statement_timeout_s`) is interrupted and refused.
    """
    query = check_read_only_sql(sql)
    timeout = statement_timeout_s() if timeout_s is None else timeout_s
    con = duckdb.connect(":memory:")
    timer = threading.Timer(timeout, con.interrupt)
    timer.daemon = True
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 1")
        for name, frame in tables.items():
            con.register(name, frame.to_arrow())
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        used = {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", query)}
        timer.start()
        try:
            rel = con.sql(query, params=used or None)
            cols = list(rel.columns)
            out = pl.from_arrow(rel.to_arrow_table())
        except duckdb.InterruptException as exc:
            raise SQLReportError(
                f"report query ran longer than {timeout:g} s, the statement timeout "
                f"({TIMEOUT_VARIABLE}); narrow the window or simplify the query "
                f"({_excerpt(sql)})"
            ) from exc
        except duckdb.Error as exc:
            raise SQLReportError(f"report query failed: {str(exc).splitlines()[0]}") from exc
    finally:
        timer.cancel()
        con.close()
    if sorted(cols) != ["event_start", "value"]:
        raise SQLReportError(
            f"report query returned columns {cols}; it must return exactly two columns named "
            f"event_start and value (e.g. SELECT event_start, … AS value FROM …)"
        )
    ts, val = out.schema["event_start"], out.schema["value"]
    if not isinstance(ts, pl.Datetime):
        raise SQLReportError(f"report query column event_start is {ts}, not a timestamp")
    if not val.is_numeric() and val != pl.Null:
        raise SQLReportError(f"report query column value is {val}, not a number")
    if ts.time_zone is None:
        out = out.with_columns(pl.col("event_start").dt.replace_time_zone("UTC"))
    out = out.select(
        pl.col("event_start").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
        pl.col("value").cast(pl.Float64),
    ).drop_nulls()
    dup = out.filter(pl.col("event_start").is_duplicated())
    if dup.height:
        raise SQLReportError(
            f"report query returned {dup.height} rows for repeated event_start values, first "
            f"{dup['event_start'].min().isoformat()}; return one row per event"  # type: ignore[union-attr]
        )
    return out.sort("event_start")


def sql_report(
    store: BeliefStore,
    config: Mapping[str, Any],
    start: datetime,
    end: datetime,
    *,
    output_sensor_id: int | None = None,
    as_of: datetime | None = None,
    belief_time: datetime | None = None,
) -> ReportResult:
    """Run the configured query over the window [start, end) (see module docstring)."""
    check_fields(config, SQL_FIELDS, "sql reporter", SQLReportError)
    sql = config.get("sql", "")
    check_read_only_sql(sql)  # refuse before reading anything
    inputs = config.get("inputs") or {}
    if not isinstance(inputs, Mapping) or not inputs:
        raise SQLReportError("sql reporter config needs 'inputs': {name: {'sensor': id}, …}")
    params = dict(config.get("params") or {})
    for name in [*inputs, *params]:
        if not _NAME.match(str(name)) or name in _RESERVED:
            raise SQLReportError(
                f"sql reporter input or parameter name {name!r} must be an SQL identifier "
                f"(letters, digits, _) other than {sorted(_RESERVED)}"
            )
    res_cfg = config_resolution(config)
    series: dict[str, Series] = {}
    for name, spec in inputs.items():
        if not is_sensor_ref(spec):
            raise SQLReportError(
                f"sql reporter input {name!r} = {spec!r} is not a sensor reference such as {{'sensor': 3}}"
            )
        s = read_input(store, spec, name, start, end, as_of=as_of)
        if res_cfg is not None:
            s = to_resolution(s, res_cfg, start, end)
        else:  # keep only events starting in the window
            s = Series(
                s.name,
                s.frame.filter(pl.col("event_start") >= start.astimezone(UTC)),
                s.unit,
                s.resolution,
                s.sensor,
                s.belief_time,
            )
        series[name] = s
    sensors = list(series.values())
    resolution = res_cfg
    if resolution is None and output_sensor_id is not None:
        resolution = store.get_sensor(output_sensor_id).event_resolution
    resolution = resolution or sensors[0].resolution
    unit = str(config.get("unit") or "")
    if not unit:
        unit = store.get_sensor(output_sensor_id).unit if output_sensor_id else sensors[0].unit
    notes = []
    if all(s.frame.is_empty() for s in sensors):
        notes.append(empty_note(sensors, start, end))
        out = pl.DataFrame(schema=REPORT_FRAME_SCHEMA)
    else:
        params.update(window_start=start.astimezone(UTC), window_end=end.astimezone(UTC))
        out = run_sql_report(sql, {n: s.frame for n, s in series.items()}, params)
    outside = out.filter(
        (pl.col("event_start") < start.astimezone(UTC))
        | (pl.col("event_start") >= end.astimezone(UTC))
    )
    if outside.height:
        raise SQLReportError(
            f"report query returned event_start {outside['event_start'][0].isoformat()} outside the "
            f"window {start.isoformat()}–{end.isoformat()}"
        )
    if resolution > timedelta(0) and out.height:
        step = int(resolution.total_seconds() * 1_000_000)
        off = out.filter(pl.col("event_start").dt.epoch("us") % step != 0)
        if off.height:
            raise SQLReportError(
                f"report query returned event_start {off['event_start'][0].isoformat()}, which "
                f"is not on the {format_duration(resolution)} grid of the report"
            )
    result = ReportResult(
        "sql",
        start,
        end,
        resolution,
        unit,
        out,
        totals={"sum": out["value"].sum() if out.height else None},
        notes=notes,
        input_belief_time=latest_belief_time(sensors),
    )
    return finish(store, result, output_sensor_id, "SQLReporter", config, belief_time)
