"""The SQL reporter: a single read-only SELECT over named, windowed inputs, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from flex_pipelines.reporting import SQLReportError, aggregate, check_read_only_sql, sql_report
from flex_pipelines.reporting.sql_reporter import run_sql_report
from tests.unit.test_report_helpers import DAY, NEXT_DAY, TOY_PRICES, TOY_PV_KW, toy_process_site

Q = timedelta(minutes=15)
HEADROOM_SQL = "SELECT event_start, $capacity_kw - value AS value FROM pv"


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("INSERT INTO pv VALUES (now(), 1)", "INSERT"),
        ("UPDATE pv SET value = 0", "UPDATE"),
        ("DELETE FROM pv", "DELETE"),
        ("CREATE TABLE x AS SELECT * FROM pv", "CREATE"),
        ("COPY pv TO '/tmp/stolen.csv'", "COPY"),
        ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
        ("PRAGMA version", "PRAGMA"),
        ("SET threads = 8", "SET"),
        ("INSTALL httpfs", "LOAD"),
        ("LOAD httpfs", "LOAD"),
        ("CALL pragma_version()", "CALL"),
        ("WITH a AS (SELECT 1) INSERT INTO pv SELECT * FROM a", "INSERT"),
        ("DROP TABLE pv", "DROP"),
    ],
)
def test_refuses_anything_but_a_select(sql, kind):
    with pytest.raises(SQLReportError) as err:
        check_read_only_sql(sql)
    assert f"is a {kind} statement" in str(err.value)
    assert "read-only" in str(err.value)


def test_refuses_several_statements():
    with pytest.raises(SQLReportError, match="holds 2 statements"):
        check_read_only_sql("SELECT event_start, value FROM pv; DELETE FROM pv")
    with pytest.raises(SQLReportError, match="empty"):
        check_read_only_sql("   ")
    with pytest.raises(SQLReportError, match="does not parse"):
        check_read_only_sql("SELEC event_start FROM pv")
    assert check_read_only_sql("WITH a AS (SELECT 1 AS x) SELECT x FROM a;").startswith("WITH")


def _frame(values):
    return pl.DataFrame(
        {
            "event_start": [datetime(2026, 1, 1, tzinfo=UTC) + i * Q for i in range(len(values))],
            "value": [float(v) for v in values],
        },
        schema={"event_start": pl.Datetime("us", "UTC"), "value": pl.Float64},
    )


def test_no_file_access_even_from_a_select():
    with pytest.raises(SQLReportError, match="file system operations are disabled"):
        run_sql_report("SELECT now() AS event_start, 1.0 AS value FROM read_csv('/etc/passwd')", {})


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT event_start FROM pv", "returned columns ['event_start']"),
        (
            "SELECT event_start AS t, value FROM pv",
            "exactly two columns named event_start and value",
        ),
        ("SELECT event_start, value, value * 2 AS double FROM pv", "returned columns"),
        ("SELECT 'x' AS event_start, value FROM pv", "event_start is String, not a timestamp"),
        ("SELECT event_start, 'a' AS value FROM pv", "value is String, not a number"),
        (
            "SELECT event_start, value FROM pv UNION ALL SELECT event_start, value FROM pv",
            "repeated event_start",
        ),
        ("SELECT event_start, value FROM nowhere", "report query failed"),
    ],
)
def test_result_must_be_event_start_and_value(sql, message):
    with pytest.raises(SQLReportError) as err:
        run_sql_report(sql, {"pv": _frame([1, 2, 3])})
    assert message in str(err.value)


def test_headroom_in_sql_equals_the_aggregator(store):
    ids = toy_process_site(store)
    out = store.add_sensor("headroom (sql)", "kW", Q)
    config = {
        "inputs": {"pv": {"sensor": ids["pv"]}},
        "sql": HEADROOM_SQL,
        "params": {"capacity_kw": 500},
    }
    result = sql_report(store, config, DAY, NEXT_DAY, output_sensor_id=out.id)
    agg = aggregate(
        store, {"inputs": [{"value": "500 kW"}, {"sensor": ids["pv"], "weight": -1}]}, DAY, NEXT_DAY
    )
    assert result.frame.equals(agg.frame)
    assert result.saved.n_new == 96
    src = store.get_source(int(store.search_beliefs(out.id)["source_id"][0]))
    assert (src.type, src.model) == ("reporter", "SQLReporter")
    assert sql_report(store, config, DAY, NEXT_DAY, output_sensor_id=out.id).saved.n_new == 0
    other = sql_report(
        store, {**config, "params": {"capacity_kw": 400}}, DAY, NEXT_DAY, output_sensor_id=out.id
    )
    assert other.saved.n_new == 96 and other.source.id != src.id  # another config, another source


def test_joins_inputs_of_different_resolutions_in_sql(store):
    """PV (15 min) valued at the hourly price: the join is the analyst's, in SQL."""
    ids = toy_process_site(store)
    sql = """
        SELECT pv.event_start, pv.value / 1000 * 0.25 * price.value AS value
        FROM pv JOIN price ON price.event_start = date_trunc('hour', pv.event_start)
        WHERE pv.event_start >= $window_start AND pv.event_start < $window_end
    """
    result = sql_report(
        store,
        {
            "inputs": {"pv": {"sensor": ids["pv"]}, "price": {"sensor": ids["price"]}},
            "sql": sql,
            "unit": "EUR",
        },
        DAY,
        NEXT_DAY,
    )
    expected = sum(p * pv / 1000 for p, pv in zip(TOY_PRICES, TOY_PV_KW, strict=True))
    assert result.frame["value"].sum() == pytest.approx(expected)
    assert result.unit == "EUR"


def test_resolution_option_resamples_inputs(store):
    ids = toy_process_site(store)
    result = sql_report(
        store,
        {
            "inputs": {"pv": {"sensor": ids["pv"]}},
            "resolution": "PT1H",
            "sql": "SELECT event_start, value FROM pv",
        },
        DAY,
        NEXT_DAY,
    )
    assert result.frame["value"].to_list() == [float(v) for v in TOY_PV_KW]


def test_sql_that_writes_is_refused_before_reading(store):
    ids = toy_process_site(store)
    before = store.count_beliefs()
    with pytest.raises(SQLReportError, match="is a DELETE statement"):
        sql_report(
            store, {"inputs": {"pv": {"sensor": ids["pv"]}}, "sql": "DELETE FROM pv"}, DAY, NEXT_DAY
        )
    with pytest.raises(SQLReportError, match="holds 2 statements"):
        sql_report(
            store,
            {
                "inputs": {"pv": {"sensor": ids["pv"]}},
                "sql": "SELECT event_start, value FROM pv; DROP TABLE beliefs",
            },
            DAY,
            NEXT_DAY,
        )
    assert store.count_beliefs() == before


def test_events_outside_the_window_or_grid_are_refused(store):
    ids = toy_process_site(store)
    cfg = {"inputs": {"pv": {"sensor": ids["pv"]}}}
    with pytest.raises(SQLReportError, match="outside the window"):
        sql_report(
            store,
            {**cfg, "sql": "SELECT event_start + INTERVAL 1 DAY AS event_start, value FROM pv"},
            DAY,
            NEXT_DAY,
        )
    with pytest.raises(SQLReportError, match="not on the PT15M grid"):
        sql_report(
            store,
            {
                **cfg,
                "sql": "SELECT event_start + INTERVAL 1 MINUTE AS event_start, "
                "value FROM pv WHERE value > 0",
            },
            DAY,
            NEXT_DAY,
        )


def test_empty_window_is_said(store):
    ids = toy_process_site(store)
    later = NEXT_DAY + timedelta(days=30)
    result = sql_report(
        store,
        {
            "inputs": {"pv": {"sensor": ids["pv"]}},
            "sql": HEADROOM_SQL,
            "params": {"capacity_kw": 500},
        },
        later,
        later + timedelta(days=1),
    )
    assert result.empty and "no input values" in result.notes[0]


def test_input_names_must_be_identifiers(store):
    ids = toy_process_site(store)
    with pytest.raises(SQLReportError, match="'pv; DROP' must be an SQL identifier"):
        sql_report(
            store, {"inputs": {"pv; DROP": {"sensor": ids["pv"]}}, "sql": "SELECT 1"}, DAY, NEXT_DAY
        )
