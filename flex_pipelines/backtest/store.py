"""Backtest results in the store: ``backtest_runs`` (one row per run) and ``backtest_days``
(one row per run, local day and variant), the same DDL on DuckDB and PostgreSQL (created on
first use). The analyst views ``backtest_daily`` and ``backtest_totals`` over them are made by
:func:`flex_pipelines.reporting.views.ensure_views` (docs/sql-views.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from flex_pipelines.backtest.results import BacktestResult
from flex_pipelines.beliefs.store import BeliefStore

__all__ = ["ensure_tables", "list_runs", "load_days", "save_result"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS backtest_runs ("
    " id BIGINT PRIMARY KEY, site_id BIGINT NOT NULL, site_name TEXT, first_day DATE,"
    " last_day DATE, gate_closure TEXT, currency TEXT, variants TEXT, n_days BIGINT,"
    " skipped TEXT, seconds DOUBLE PRECISION, totals TEXT, created_at TIMESTAMPTZ)",
    "CREATE TABLE IF NOT EXISTS backtest_days ("
    " run_id BIGINT NOT NULL, day DATE NOT NULL, variant TEXT NOT NULL,"
    " viewpoint TIMESTAMPTZ, cost DOUBLE PRECISION, baseline_cost DOUBLE PRECISION,"
    " perfect_cost DOUBLE PRECISION, solve_s DOUBLE PRECISION, over_limit_mwh DOUBLE PRECISION,"
    " PRIMARY KEY (run_id, day, variant))",
)
_ROWS_PER_INSERT = 500


def ensure_tables(store: BeliefStore) -> None:
    """Create the two tables when they are not there (idempotent)."""
    with store.transaction():
        for ddl in _DDL:
            store.execute(ddl)


def save_result(store: BeliefStore, result: BacktestResult) -> int:
    """Save a backtest (all rows in one transaction); returns and sets its run id."""
    ensure_tables(store)
    rows = [
        (
            d.day,
            v,
            d.viewpoint,
            d.costs[v],
            d.baseline_cost,
            d.costs["perfect"],
            d.solve_s[v],
            d.over_limit_mwh.get(v, 0.0),
        )
        for d in result.days
        for v in result.variant_names
    ]
    rec = result.to_record()
    with store.transaction():
        got = store.query("SELECT coalesce(max(id), 0) + 1 AS id FROM backtest_runs")
        run_id = int(got["id"][0])
        store.execute(
            "INSERT INTO backtest_runs (id, site_id, site_name, first_day, last_day, gate_closure,"
            " currency, variants, n_days, skipped, seconds, totals, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                result.site_id,
                result.site_name,
                result.first,
                result.last,
                result.gate_closure,
                result.currency,
                json.dumps(
                    [
                        {"name": v.name, "actual": sorted(v.actual), "naive": v.naive}
                        | ({"flex-context": dict(v.flex_context)} if v.flex_context else {})
                        | ({"forecaster": v.forecaster} if v.forecaster else {})
                        for v in result.variants
                    ]
                ),
                len(result.days),
                json.dumps(rec["skipped"]),
                result.seconds,
                json.dumps(rec["totals"]),
                datetime.now(UTC),
            ],
        )
        for i in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[i : i + _ROWS_PER_INSERT]
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            store.execute(
                "INSERT INTO backtest_days (run_id, day, variant, viewpoint, cost,"
                f" baseline_cost, perfect_cost, solve_s, over_limit_mwh) VALUES {values}",
                [x for r in chunk for x in (run_id, *r)],
            )
    result.run_id = run_id
    return run_id


def load_days(store: BeliefStore, run_id: int) -> pl.DataFrame:
    """The rows of one run: day, variant, viewpoint, cost, baseline_cost, perfect_cost, solve_s."""
    ensure_tables(store)
    return store.query(
        "SELECT day, variant, viewpoint, cost, baseline_cost, perfect_cost, solve_s,"
        " over_limit_mwh"
        " FROM backtest_days WHERE run_id = ? ORDER BY day, variant",
        [run_id],
    )


def list_runs(store: BeliefStore, site_id: int | None = None) -> pl.DataFrame:
    """The runs (newest first), optionally of one site."""
    ensure_tables(store)
    where, params = ("WHERE site_id = ?", [site_id]) if site_id is not None else ("", [])
    return store.query(
        "SELECT id, site_id, site_name, first_day, last_day, gate_closure, currency, n_days,"
        f" seconds, created_at FROM backtest_runs {where} ORDER BY id DESC",
        params,
    )
