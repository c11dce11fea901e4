"""Day-ahead regressors (the bundled BE prices' load and generation forecasts): whole-day
profiles as features, and no leakage through them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from flex_pipelines.forecasting import CycleConfig, SeriesHistory, forecast_cycles, known_at
from flex_pipelines.forecasting.datasets import epf_exogenous
from flex_pipelines.forecasting.exogenous import degree_days, is_temperature, regressor_profiles
from flex_pipelines.forecasting.grid import build_grid, to_us

CET = timezone(timedelta(hours=1))
VIEWPOINT = datetime(2015, 11, 10, 12, tzinfo=CET)
CFG = CycleConfig(
    min_horizon=timedelta(hours=12),
    max_horizon=timedelta(hours=36),
    train_period=timedelta(days=28),
)
HGB_FAST = {"max_iter": 40}  # keeps the test fast; a parameter of hgb only


def _cfg(model: str) -> CycleConfig:
    """The cycle settings, with hgb's fast setting where the model is hgb."""
    from dataclasses import replace

    return replace(CFG, model_params=HGB_FAST) if model == "hgb" else CFG


@pytest.fixture(scope="module")
def be_exogenous() -> list[SeriesHistory]:
    """France's day-ahead generation and load forecasts (MW) for the BE prices, Sep–Nov 2015."""
    lo, hi = datetime(2015, 9, 1, tzinfo=CET), datetime(2015, 12, 1, tzinfo=CET)
    return [
        r.with_frame(r.frame.filter((pl.col("event_start") >= lo) & (pl.col("event_start") < hi)))
        for r in epf_exogenous("be")
    ]


def test_day_ahead_forecasts_are_known_at_noon_the_day_before(
    be_exogenous: list[SeriesHistory],
) -> None:
    known = known_at(be_exogenous[0], VIEWPOINT)
    # the whole of 11 Nov (published 10 Nov 10:00 UTC+1) is known at 12:00, 12 Nov is not
    assert known.frame["event_start"].max() == datetime(2015, 11, 11, 23, tzinfo=CET)


def test_profiles_are_the_regressor_values_of_d_d1_d7(
    be_prices: SeriesHistory, be_exogenous: list[SeriesHistory]
) -> None:
    load = be_exogenous[1]
    grid = build_grid(be_prices, VIEWPOINT - timedelta(days=20), VIEWPOINT + timedelta(days=2))
    target = datetime(2015, 11, 11, 17, tzinfo=CET)  # an hour of delivery day D = 11 Nov
    idx = np.array([int((to_us(target) - grid.start_us) // grid.step_us)])
    block, names = regressor_profiles(load, grid, idx, np.array([to_us(VIEWPOINT)]), (0, 1, 7))
    values = dict(zip(load.frame["event_start"].to_list(), load.frame["event_value"], strict=True))
    for k in (0, 1, 7):
        for slot in (0, 8, 17, 23):
            day = datetime(2015, 11, 11 - k, slot, tzinfo=CET)
            got = block[0, names.index(f"regprof_system_load_forecast_d{k}_s{slot}")]
            assert got == values[day.astimezone(UTC)], (k, slot)


def _bump_after(hist: SeriesHistory, when: datetime) -> SeriesHistory:
    return hist.with_frame(
        hist.frame.with_columns(
            pl.when(pl.col("belief_time") > when)
            .then(pl.col("event_value") * 1.5 + 5000)
            .otherwise(pl.col("event_value"))
            .alias("event_value")
        )
    )


@pytest.mark.parametrize("model", ["lear", "ridge-profiles", "ridge", "hgb"])
def test_regressor_values_not_yet_believed_change_nothing(
    be_prices: SeriesHistory, be_exogenous: list[SeriesHistory], model: str
) -> None:
    """Day-ahead profiles included: D+1 (published after the viewpoint) is bumped, so are the
    D, D-1, D-7 values the regressors will only believe later."""
    end = VIEWPOINT + timedelta(hours=1)
    base = forecast_cycles(model, be_prices, VIEWPOINT, end, _cfg(model), regressors=be_exogenous)
    # a later vintage of every regressor value (a revised forecast published after the viewpoint)
    revised = [
        r.with_frame(
            pl.concat([r.frame, r.frame.with_columns(pl.col("belief_time") + timedelta(days=3))])
        )
        for r in be_exogenous
    ]
    leaked = [_bump_after(r, VIEWPOINT) for r in revised]
    again = forecast_cycles(model, be_prices, VIEWPOINT, end, _cfg(model), regressors=leaked)
    assert base.height == 24
    assert np.array_equal(base["event_value"].to_numpy(), again["event_value"].to_numpy())
    # control: the same bump of what *was* believed at the viewpoint about the delivery day
    # changes the forecast (a bump of every known value would be absorbed by the scaling)
    known = [
        r.with_frame(
            r.frame.with_columns(
                pl.when(pl.col("event_start") > VIEWPOINT)
                .then(pl.col("event_value") * 1.5 + 5000)
                .otherwise(pl.col("event_value"))
                .alias("event_value")
            )
        )
        for r in be_exogenous
    ]
    changed = forecast_cycles(model, be_prices, VIEWPOINT, end, _cfg(model), regressors=known)
    assert not np.allclose(base["event_value"].to_numpy(), changed["event_value"].to_numpy())


@pytest.mark.parametrize(
    ("model", "per_regressor"),
    [("lear", 3 * 24), ("ridge-profiles", 3 * 24), ("ridge", 2), ("hgb", 1)],
)
def test_which_regressor_inputs_each_model_gets(
    be_prices: SeriesHistory, be_exogenous: list[SeriesHistory], model: str, per_regressor: int
) -> None:
    """LEAR family: the 24 hours of D, D-1 and D-7 (epftoolbox); ridge: the target hour and
    D's mean; hgb: the target hour."""
    from flex_pipelines.forecasting import get_model
    from flex_pipelines.forecasting.features import build_design

    spec = get_model(model).feature_spec(None)
    grid = build_grid(be_prices, VIEWPOINT - timedelta(days=20), VIEWPOINT + timedelta(days=2))
    day = to_us(datetime(2015, 11, 11, tzinfo=CET))  # the delivery day D of the viewpoint
    idx = (day - grid.start_us) // grid.step_us + np.arange(24)
    dm = build_design(grid, idx, np.full(len(idx), to_us(VIEWPOINT)), spec, be_exogenous)
    reg_cols = [c for c in dm.columns if c.startswith(("reg_", "regprof_", "regmean_"))]
    assert len(reg_cols) == 2 * per_regressor
    assert not np.isnan(dm.X[:, [dm.columns.index(c) for c in reg_cols]]).any()


def test_degree_days_of_temperatures() -> None:
    assert is_temperature("°C") and is_temperature("K") and not is_temperature("MW")
    hdd, cdd = degree_days(np.array([5.0, 15.5, 20.0, 30.0, np.nan]), "°C")
    assert hdd[:4].tolist() == [10.5, 0.0, 0.0, 0.0] and cdd[:4].tolist() == [0.0, 0.0, 0.0, 8.0]
    assert np.isnan(hdd[4]) and np.isnan(cdd[4])
    hdd_k, _ = degree_days(np.array([278.15]), "K")
    assert hdd_k[0] == pytest.approx(10.5)


def test_linear_models_get_degree_terms_of_a_temperature_regressor() -> None:
    """Real air temperature (NSRDB PSM3 at SERF) as a regressor: ridge gets its heating and
    cooling degree terms at the target time, hgb the temperature itself."""
    from flex_pipelines.forecasting import get_model
    from flex_pipelines.forecasting.datasets import PV_TIMEZONE, pv_serf, read_csv
    from flex_pipelines.forecasting.features import build_design

    power, _, _ = pv_serf()
    wx = read_csv("weather_psm3_serf_east_2016_15min.csv")
    temp = SeriesHistory.from_values(
        wx["timestamp"],
        wx["temp_air_c"],
        resolution=timedelta(minutes=15),
        timezone=PV_TIMEZONE,
        unit="°C",
        name="temp",
    )
    vp = datetime(2016, 8, 20, 12, tzinfo=timezone(timedelta(hours=-7)))
    grid = build_grid(power, vp - timedelta(days=3), vp)
    idx = np.arange(grid.n - 96, grid.n)  # events of the day before the viewpoint, all known
    vps = np.full(len(idx), to_us(vp))
    ridge = build_design(grid, idx, vps, get_model("ridge").feature_spec(None), [temp])
    t = ridge.column("reg_temp")
    assert np.array_equal(ridge.column("hdd_temp"), np.maximum(15.5 - t, 0))
    assert np.array_equal(ridge.column("cdd_temp"), np.maximum(t - 22.0, 0))
    assert ridge.column("cdd_temp").max() > 0  # a Colorado August afternoon
    hgb = build_design(grid, idx, vps, get_model("hgb").feature_spec(None), [temp])
    assert "reg_temp" in hgb.columns and "hdd_temp" not in hgb.columns


def test_recent_quantile_is_the_climatology_of_the_last_known_days() -> None:
    """Real PV: the median forecast is the median of the same quarter hour on the 21 days
    known at the viewpoint; other quantiles are that distribution's."""
    from flex_pipelines.forecasting.datasets import pv_serf

    power, _, _ = pv_serf()
    vp = datetime(2016, 8, 20, 12, tzinfo=timezone(timedelta(hours=-7)))
    cfg = CycleConfig(
        min_horizon=timedelta(hours=12),
        max_horizon=timedelta(hours=36),
        train_period=timedelta(days=7),
        quantiles=(0.1, 0.5, 0.9),
        calibration="none",
    )
    fc = forecast_cycles("recent-quantile", power, vp, vp + timedelta(hours=1), cfg)
    noon = datetime(2016, 8, 21, 12, tzinfo=vp.tzinfo)
    at = fc.filter(pl.col("event_start") == noon).sort("cumulative_probability")
    values = dict(zip(power.frame["event_start"], power.frame["event_value"], strict=True))
    # 20 Aug 12:00 is known only at 12:15, after the viewpoint: the 21 days are 30 Jul–19 Aug
    days = [noon - timedelta(days=k) for k in range(2, 23)]
    past = np.array([values[d.astimezone(UTC)] for d in days])
    q = at["event_value"].to_list()
    assert q[1] == pytest.approx(float(np.median(past)))
    assert q[0] == pytest.approx(float(np.quantile(past, 0.1)))
    assert q[0] < q[1] < q[2]
