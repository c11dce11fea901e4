"""The risk-aware variant (issue 19, part 2's scheduler) through the backtest: point-forecast
inputs plus the flex-context's risk fields, scenarios from the quantile forecasts known at the
viewpoint."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from flex_pipelines.backtest import RISK_AWARE
from flex_pipelines.beliefs import open_store
from flex_pipelines.service import LOCAL_ADMIN
from flex_pipelines.service.backtest import backtest
from tests.unit.test_backtest_support import GATE, demo_backtest_store

DAY = date(2016, 8, 1)


def _add_quantiles(store, sensor_id: int, spread: float, late: timedelta = timedelta(0)) -> None:
    """10 % and 90 % quantiles around each stored point forecast (same source and viewpoint,
    believed ``late`` after it)."""
    point = store.search_beliefs(sensor_id, source_types=["forecaster"]).filter(
        pl.col("cumulative_probability") == 0.5
    )
    rows = [
        point.with_columns(
            pl.col("belief_time") + late,
            pl.lit(p).alias("cumulative_probability"),
            (pl.col("event_value") * f).alias("event_value"),
        )
        for p, f in ((0.1, 1 - spread), (0.9, 1 + spread))
    ]
    store.save_beliefs(pl.concat(rows))


@pytest.fixture
def demo(tmp_path):
    s = open_store(str(tmp_path / "demo.duckdb"))
    ids = demo_backtest_store(s, DAY, DAY)
    yield s, ids
    s.close()


def test_without_quantiles_the_risk_aware_schedule_is_the_point_forecasts(demo) -> None:
    store, ids = demo
    r = backtest(
        LOCAL_ADMIN,
        store,
        ids["site"],
        DAY,
        DAY,
        variants="forecast,risk-aware",
        gate_closure=GATE,
        save=False,
        keep_schedules=True,
    )
    day = r.days[0]
    np.testing.assert_allclose(day.power_mw["risk-aware"], day.power_mw["forecast"], atol=1e-6)


def test_quantiles_known_at_the_viewpoint_shape_it_and_later_ones_do_not(demo) -> None:
    store, ids = demo
    args = dict(
        variants=["forecast", RISK_AWARE], gate_closure=GATE, save=False, keep_schedules=True
    )
    _add_quantiles(store, ids["load"], 0.1, late=timedelta(hours=1))  # after the viewpoint
    late = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, **args).days[0]
    np.testing.assert_allclose(late.power_mw["risk-aware"], late.power_mw["forecast"], atol=1e-6)
    _add_quantiles(store, ids["load"], 0.1)  # at the viewpoint: load uncertainty
    known = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, **args).days[0]
    # the 300 kW connection must hold in every load scenario: the schedule changes
    assert not np.allclose(known.power_mw["risk-aware"], known.power_mw["forecast"], atol=1e-4)
    assert known.over_limit_mwh["risk-aware"] <= known.over_limit_mwh["forecast"] + 1e-9
