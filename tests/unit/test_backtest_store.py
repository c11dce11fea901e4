"""Backtest results in the store and the analyst views over them, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from flex_pipelines.backtest.store import list_runs, load_days
from flex_pipelines.reporting.views import ensure_views
from flex_pipelines.service import LOCAL_ADMIN
from flex_pipelines.service.backtest import backtest
from tests.unit.test_backtest_support import GATE, demo_backtest_store

DAY = date(2016, 8, 1)


def test_a_backtest_is_saved_and_the_views_give_its_totals(store) -> None:
    ids = demo_backtest_store(store, DAY, DAY)
    result = backtest(
        LOCAL_ADMIN, store, ids["site"], DAY, DAY, variants="forecast,naive", gate_closure=GATE
    )
    assert result.run_id == 1
    again = backtest(
        LOCAL_ADMIN, store, ids["site"], DAY, DAY, variants="forecast", gate_closure=GATE
    )
    assert again.run_id == 2
    rows = load_days(store, 1)
    assert rows.height == 3 and sorted(rows["variant"]) == ["forecast", "naive", "perfect"]
    day = result.days[0]
    by_variant = {r["variant"]: r for r in rows.to_dicts()}
    for v, cost in day.costs.items():
        assert by_variant[v]["cost"] == pytest.approx(cost)
        assert by_variant[v]["baseline_cost"] == pytest.approx(day.baseline_cost)
        assert by_variant[v]["perfect_cost"] == pytest.approx(day.costs["perfect"])
    runs = list_runs(store, ids["site"])
    assert runs["id"].to_list() == [2, 1] and runs["n_days"].to_list() == [1, 1]

    ensure_views(store)
    totals = store.query(
        "SELECT variant, days, savings, value_capture FROM backtest_totals WHERE run_id = ? "
        "ORDER BY variant",
        [1],
    )
    expect = {t.variant: t for t in result.totals()}
    assert totals["variant"].to_list() == ["forecast", "naive", "perfect"]
    for r in totals.to_dicts():
        assert r["days"] == 1
        assert r["savings"] == pytest.approx(expect[r["variant"]].savings)
        assert r["value_capture"] == pytest.approx(expect[r["variant"]].value_capture)
    daily = store.query(
        "SELECT day, variant, savings, value_capture FROM backtest_daily "
        "WHERE run_id = 1 AND variant = 'forecast'"
    )
    assert daily.height == 1 and daily["day"][0] == DAY
    assert daily["value_capture"][0] == pytest.approx(day.capture("forecast"))
    # docs/sql-views.md's example: value capture per month of the latest run
    monthly = store.query(
        "SELECT date_trunc('month', day) AS month, variant, (sum(baseline_cost) - sum(cost)) / "
        "nullif(sum(baseline_cost) - sum(perfect_cost), 0) AS value_capture FROM backtest_daily "
        "WHERE run_id = (SELECT max(run_id) FROM backtest_daily) GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert monthly["variant"].to_list() == ["forecast", "perfect"]
    assert monthly["value_capture"][1] == pytest.approx(1.0)


def test_views_exist_before_any_backtest(store) -> None:
    ensure_views(store)
    assert store.query("SELECT count(*) AS n FROM backtest_totals")["n"][0] == 0
