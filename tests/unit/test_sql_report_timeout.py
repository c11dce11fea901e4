"""The SQL reporter's statement timeout (issue 14): a runaway query (a cross join) is
interrupted and refused in our words instead of holding the CLI or the API's job worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from flex_pipelines.reporting.sql_reporter import SQLReportError, run_sql_report

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PV = pl.DataFrame(
    {
        "event_start": pl.Series([T0 + timedelta(hours=h) for h in range(24)]).dt.cast_time_unit(
            "us"
        ),
        "value": [float(h) for h in range(24)],
    }
)
#: billions of rows per input row: minutes of work on one thread
RUNAWAY = "SELECT event_start, count(*)::DOUBLE AS value FROM pv, range(1000000000000) GROUP BY 1"


def test_a_runaway_query_is_interrupted_at_the_timeout() -> None:
    with pytest.raises(SQLReportError, match=r"ran longer than 0.5 s, the statement timeout"):
        run_sql_report(RUNAWAY, {"pv": PV}, timeout_s=0.5)


def test_the_timeout_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXPIPE_SQL_REPORT_TIMEOUT_S", "0.3")
    with pytest.raises(
        SQLReportError, match=r"longer than 0.3 s, .*\(FLEXPIPE_SQL_REPORT_TIMEOUT_S\)"
    ):
        run_sql_report(RUNAWAY, {"pv": PV})
    monkeypatch.setenv("FLEXPIPE_SQL_REPORT_TIMEOUT_S", "soon")
    with pytest.raises(SQLReportError, match="is not a positive number of seconds"):
        run_sql_report("SELECT event_start, value FROM pv", {"pv": PV})


def test_a_quick_query_is_not_affected() -> None:
    out = run_sql_report("SELECT event_start, value * 2 AS value FROM pv", {"pv": PV}, timeout_s=60)
    assert out["value"].to_list() == [2.0 * h for h in range(24)]
