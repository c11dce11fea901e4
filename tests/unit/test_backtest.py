"""Backtests (issue 19): perfect foresight is the scheduler's optimum on realised inputs, the
realised value recomputed from the raw series, no input read from after its viewpoint, and
clear errors for bad requests. Real DuckDB files, real HiGHS solves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from flex_pipelines.backtest import BacktestError, parse_variants
from flex_pipelines.beliefs import open_store
from flex_pipelines.demo import TZ
from flex_pipelines.pipeline.sites import day_ahead_viewpoint
from flex_pipelines.service import LOCAL_ADMIN, AccessDenied, Caller
from flex_pipelines.service.backtest import backtest
from flex_pipelines.time import day_window
from tests.unit.test_backtest_support import GATE, belief_frame, demo_backtest_store, realised

DAY = date(2016, 8, 1)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    url = str(tmp_path_factory.mktemp("bt") / "demo.duckdb")
    with open_store(url) as s:
        demo_backtest_store(s, DAY, DAY + timedelta(days=1))
    return url


@pytest.fixture
def demo(demo_url: str, tmp_path):
    """A private copy of the module's demo store (tests may add beliefs)."""
    import shutil

    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_url, path)
    s = open_store(str(path))
    ids = {a.name: a.id for a in s.list_assets()}
    sensors = {x.name: x.id for x in s.list_sensors()}
    yield (
        s,
        {
            "site": ids["Demo site Brussels"],
            "price": sensors["BE day-ahead price"],
            "load": sensors["building load"],
            "pv": sensors["PV production"],
            "battery_power": sensors["battery power"],
            "account": s.get_asset(ids["Demo site Brussels"]).account_id,
        },
    )
    s.close()


def _raw_inputs(ids: dict[str, int], start: datetime, end: datetime) -> dict[str, np.ndarray]:
    """Price (EUR/MWh per quarter hour), load and PV (MW) straight from the bundled files."""
    n = int((end - start) / timedelta(minutes=15))
    price = realised("price", start, end)["event_value"].to_numpy()
    load = realised("load", start, end)["event_value"].to_numpy() / 1000.0
    pv = realised("pv", start, end)["event_value"].to_numpy() / 1000.0
    assert len(price) * 4 == n and len(load) == n and len(pv) == n
    return {"price": np.repeat(price, 4), "load": load, "pv": pv}


def test_perfect_foresight_is_the_schedulers_optimum_on_realised_inputs(demo) -> None:
    from flex_pipelines.scheduling.fields import RawSeries
    from flex_pipelines.scheduling.grid import make_grid
    from flex_pipelines.scheduling.storage import build_problem, solve

    store, ids = demo
    result = backtest(
        LOCAL_ADMIN,
        store,
        ids["site"],
        DAY,
        DAY,
        variants="perfect",
        gate_closure=GATE,
        save=False,
        keep_schedules=True,
    )
    assert [d.day for d in result.days] == [DAY] and not result.skipped
    start, end = day_window(DAY, TZ)
    raw = _raw_inputs(ids, start, end)
    q = timedelta(minutes=15)
    series = {
        ids["price"]: RawSeries(start, q, "EUR/MWh", raw["price"]),
        ids["load"]: RawSeries(start, q, "MW", raw["load"]),
        ids["pv"]: RawSeries(start, q, "MW", raw["pv"]),
    }
    fm = {
        k: v
        for k, v in store.get_asset(
            store.get_sensor(ids["battery_power"]).asset_id
        ).flex_model.items()
    }
    fm["name"] = "battery"
    fc = store.get_asset(ids["site"]).flex_context
    problem = build_problem(
        make_grid(start, q, end=end),
        [fm],
        fc,
        lambda sid, s, e, st=None: series[sid],
        {fm["sensor"]: "kWh"},
    )
    direct = solve(problem)
    day = result.days[0]
    assert day.costs["perfect"] == pytest.approx(direct.costs["total"], abs=1e-6)
    np.testing.assert_allclose(day.power_mw["perfect"], direct.devices[0].power_mw, atol=1e-7)


def test_realised_value_recomputed_from_the_raw_series(demo) -> None:
    store, ids = demo
    result = backtest(
        LOCAL_ADMIN,
        store,
        ids["site"],
        DAY,
        DAY + timedelta(days=1),
        variants="forecast,naive",
        gate_closure=GATE,
        save=False,
        keep_schedules=True,
    )
    assert len(result.days) == 2
    for day in result.days:
        start, end = day_window(day.day, TZ)
        raw = _raw_inputs(ids, start, end)
        base = raw["load"] - raw["pv"]
        for name, cost in [("baseline", day.baseline_cost)] + list(day.costs.items()):
            net = base + (0.0 if name == "baseline" else day.power_mw[name])
            expect = 0.25 * np.sum(
                raw["price"] * np.maximum(net, 0) - raw["price"] * np.maximum(-net, 0)
            )
            assert cost == pytest.approx(float(expect), abs=1e-6), name
        # the forecast schedule differs from perfect foresight, and costs at least as much unless
        # it overdraws the 300 kW connection at the realised load
        assert not np.allclose(day.power_mw["forecast"], day.power_mw["perfect"])
        if day.over_limit_mwh["forecast"] == 0:
            assert day.costs["forecast"] >= day.costs["perfect"] - 1e-6
    tot = {t.variant: t for t in result.totals()}
    assert tot["perfect"].value_capture == 1.0
    assert tot["forecast"].savings == pytest.approx(
        sum(d.baseline_cost - d.costs["forecast"] for d in result.days)
    )


def test_beliefs_made_after_the_viewpoint_change_nothing(demo) -> None:
    store, ids = demo
    args = dict(variants="forecast,naive", gate_closure=GATE, save=False, keep_schedules=True)
    before = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, **args)
    start, end = day_window(DAY, TZ)
    vp = day_ahead_viewpoint(DAY, TZ, GATE)
    late = vp + timedelta(minutes=1)
    q = timedelta(minutes=15)
    liar = store.get_or_create_source("late forecaster", type="forecaster", model="late")
    fixer = store.get_or_create_source("late corrections", type="demo")
    n = int((end - start) / q)
    rng = np.random.default_rng(1)
    store.save_beliefs(
        pl.concat(
            [  # a new forecast of the day's load and PV, made a minute after the viewpoint
                belief_frame(
                    ids["load"],
                    liar.id,
                    pl.Series([start + i * q for i in range(n)]),
                    pl.Series(rng.uniform(0, 400, n)),
                    pl.lit(late),
                ),
                belief_frame(
                    ids["pv"],
                    liar.id,
                    pl.Series([start + i * q for i in range(n)]),
                    pl.Series(rng.uniform(0, 100, n)),
                    pl.lit(late),
                ),
                # corrected measurements of last week's load (the naive forecast's input) and of
                # the day's prices, believed after the viewpoint
                belief_frame(
                    ids["load"],
                    fixer.id,
                    pl.Series([start - timedelta(days=7) + i * q for i in range(n)]),
                    pl.Series(rng.uniform(0, 400, n)),
                    pl.lit(late),
                ),
                belief_frame(
                    ids["price"],
                    fixer.id,
                    pl.Series([start + i * timedelta(hours=1) for i in range(n // 4)]),
                    pl.Series(rng.uniform(-50, 300, n // 4)),
                    pl.lit(late),
                ),
            ]
        )
    )
    after = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, **args)
    for name in ("forecast", "naive"):
        np.testing.assert_array_equal(after.days[0].power_mw[name], before.days[0].power_mw[name])
    # the settlement does see the corrected prices: the test would notice a backtest that
    # ignored new beliefs altogether
    assert after.days[0].baseline_cost != pytest.approx(before.days[0].baseline_cost)
    # control: the same kind of beliefs known at the viewpoint (a forecast made at it, a
    # correction a minute before) do change the schedules (the test can fail)
    early = vp - timedelta(minutes=1)
    store.save_beliefs(
        pl.concat(
            [
                belief_frame(
                    ids["load"],
                    liar.id,
                    pl.Series([start + i * q for i in range(n)]),
                    pl.Series(rng.uniform(0, 400, n)),
                    pl.lit(vp),
                ),
                belief_frame(
                    ids["load"],
                    fixer.id,
                    pl.Series([start - timedelta(days=7) + i * q for i in range(n)]),
                    pl.Series(rng.uniform(0, 400, n)),
                    pl.lit(early),
                ),
            ]
        )
    )
    known = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, **args)
    for name in ("forecast", "naive"):
        assert not np.allclose(known.days[0].power_mw[name], before.days[0].power_mw[name]), name


def test_a_variant_of_one_forecaster_reads_only_its_forecasts(demo) -> None:
    from flex_pipelines.backtest import Variant

    store, ids = demo
    args = dict(gate_closure=GATE, save=False, keep_schedules=True)
    before = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, variants="forecast", **args)
    start, end = day_window(DAY, TZ)
    vp = day_ahead_viewpoint(DAY, TZ, GATE)
    wild = store.get_or_create_source("wild forecaster", type="forecaster", model="wild")
    q = timedelta(minutes=15)
    n = int((end - start) / q)
    starts = pl.Series([start + i * q for i in range(n)])
    store.save_beliefs(
        belief_frame(ids["load"], wild.id, starts, pl.Series([250.0] * n), pl.lit(vp))
    )
    mine = Variant("persistence", "the test's persistence forecasts", forecaster="persistence")
    after = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, variants=["forecast", mine], **args)
    day = after.days[0]
    # the pipeline's rule now picks the wild forecast (saved later at the same belief time) ...
    assert not np.allclose(day.power_mw["forecast"], before.days[0].power_mw["forecast"])
    # ... the persistence variant still reads its own
    np.testing.assert_array_equal(day.power_mw["persistence"], before.days[0].power_mw["forecast"])
    with pytest.raises(BacktestError, match="no forecaster source of that model.*persistence"):
        backtest(
            LOCAL_ADMIN,
            store,
            ids["site"],
            DAY,
            DAY,
            variants=[Variant("x", "x", forecaster="oracle")],
            **args,
        )


def test_error_split_and_value_capture_use_the_swap_variants(demo) -> None:
    store, ids = demo
    result = backtest(LOCAL_ADMIN, store, ids["site"], DAY, DAY, gate_closure=GATE, save=False)
    split = result.error_split()
    assert split is not None and set(split.per_input) == {"price", "load", "pv"}
    day = result.days[0]
    assert split.gap == pytest.approx(day.costs["forecast"] - day.costs["perfect"])
    assert split.per_input["load"] == pytest.approx(
        day.costs["forecast"] - day.costs["load-actual"]
    )
    # prices are published at 12:00, the viewpoint: the point forecast already has them
    assert split.per_input["price"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("site", "first", "last", "variants", "message"),
    [
        (999, "2016-08-01", "2016-08-01", None, "site 999"),
        (None, "2016-08-02", "2016-08-01", None, "period is empty"),
        (None, "2016-08-01T00:00:00", "2016-08-01", None, "naive timestamp"),
        (None, "first of august", "2016-08-01", None, "'first of august'"),
        (None, "2016-08-01", "2016-08-01", "forecast,oracle", "unknown 'oracle'"),
    ],
)
def test_bad_requests_are_refused_with_what_is_wrong(demo, site, first, last, variants, message):
    store, ids = demo
    with pytest.raises(BacktestError, match=message):
        backtest(
            LOCAL_ADMIN, store, site or ids["site"], first, last, variants=variants, save=False
        )


def test_aware_datetimes_give_their_local_day_and_missing_forecasts_skip_the_day(demo) -> None:
    store, ids = demo
    t = datetime(2016, 8, 2, 22, 30, tzinfo=UTC)  # 00:30 on the 3rd in Brussels: no forecasts
    result = backtest(LOCAL_ADMIN, store, ids["site"], t, t, gate_closure=GATE, save=False)
    assert result.first == date(2016, 8, 3) and not result.days
    assert result.skipped and "2016-08-03" in str(result.skipped[0][0])


def test_another_accounts_caller_may_not_backtest_the_site(demo) -> None:
    store, ids = demo
    other = store.add_account("Other Co")
    with pytest.raises(AccessDenied):
        backtest(Caller(other.id, frozenset(), "other"), store, ids["site"], DAY, DAY, save=False)
    own = Caller(ids["account"], frozenset(), "owner")
    assert backtest(own, store, ids["site"], DAY, DAY, gate_closure=GATE, save=False).days


def test_variants_always_include_perfect_foresight() -> None:
    assert [v.name for v in parse_variants("forecast")] == ["forecast", "perfect"]
    with pytest.raises(BacktestError, match="at least one"):
        parse_variants("")


def test_settlement_agrees_with_the_daily_kpis_of_the_saved_schedule(demo) -> None:
    """The pipeline's own settlement (the KPI SQL behind the demo's savings) of the schedule the
    pipeline saves at the viewpoint gives the backtest's cost and baseline for that day."""
    from flex_pipelines.reporting.kpis import site_kpis
    from flex_pipelines.service import schedule

    store, ids = demo
    result = backtest(
        LOCAL_ADMIN,
        store,
        ids["site"],
        DAY,
        DAY,
        variants="forecast",
        gate_closure=GATE,
        save=False,
    )
    start, end = day_window(DAY, TZ)
    schedule(
        LOCAL_ADMIN,
        store,
        start,
        end,
        asset_id=ids["site"],
        as_of=day_ahead_viewpoint(DAY, TZ, GATE),
    )
    kpis = site_kpis(store, ids["site"], start, end)
    assert kpis.height == 1
    day = result.days[0]
    assert kpis["cost"][0] == pytest.approx(day.costs["forecast"], abs=1e-6)
    assert kpis["baseline_cost"][0] == pytest.approx(day.baseline_cost, abs=1e-6)
