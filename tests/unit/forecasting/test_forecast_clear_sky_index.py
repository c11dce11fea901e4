"""The clear-sky-index climatology (``clear-sky-quantile``) on the bundled real PV, the regressor
values at the target's lag events it needs, and the load options of ``ridge-profiles``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from flex_pipelines.forecasting import CycleConfig, forecast_cycles
from flex_pipelines.forecasting.clearsky import CLEAR_SKY_NAME, clear_sky_history
from flex_pipelines.forecasting.datasets import PV_TIMEZONE, gb_demand, pv_serf
from flex_pipelines.forecasting.errors import ForecastingError, MissingRegressorError
from flex_pipelines.forecasting.features import build_design
from flex_pipelines.forecasting.grid import build_grid, to_us
from flex_pipelines.forecasting.history import SeriesHistory
from flex_pipelines.forecasting.models import get_model

MST = timezone(timedelta(hours=-7))
VP = datetime(2016, 9, 20, 12, tzinfo=MST)
CFG = CycleConfig(
    min_horizon=timedelta(hours=12),
    max_horizon=timedelta(hours=36),
    train_period=timedelta(days=7),
    quantiles=(0.1, 0.5, 0.9),
    calibration="none",
)


@pytest.fixture(scope="module")
def pv() -> tuple[SeriesHistory, SeriesHistory]:
    """NREL SERF East AC power (W) and the built-in pvlib clear-sky GHI at the site (W/m²)."""
    power, _, _ = pv_serf()
    clear = clear_sky_history(
        power.frame["event_start"], timedelta(minutes=15), 39.742, -105.18, PV_TIMEZONE
    )
    return power, clear


def _values(hist: SeriesHistory) -> dict[datetime, float]:
    return dict(zip(hist.frame["event_start"], hist.frame["event_value"], strict=True))


def test_regressor_at_lag_events_is_the_regressor_of_each_lag_day(
    pv: tuple[SeriesHistory, SeriesHistory],
) -> None:
    """``reglag_<name>_day_<n>`` is the regressor at the event ``lag_day_n`` was read from: a
    morning quarter hour's lag 1 is the day before the viewpoint's day, an afternoon's (not yet
    known at 12:00) the day before that."""
    power, clear = pv
    grid = build_grid(power, VP - timedelta(days=10), VP + timedelta(days=2))
    spec = get_model("clear-sky-quantile", days=3).feature_spec(None)
    targets = [datetime(2016, 9, 21, 9, tzinfo=MST), datetime(2016, 9, 21, 15, tzinfo=MST)]
    idx = grid.index_of(np.array([to_us(t) for t in targets]))
    dm = build_design(grid, idx, np.full(2, to_us(VP)), spec, [clear])
    cs, pw = _values(clear), _values(power)
    for row, (t, back) in enumerate(zip(targets, (1, 2), strict=True)):
        for n in (1, 2, 3):
            lag_t = (t - timedelta(days=back + n - 1)).astimezone(UTC)
            assert dm.column(f"lag_day_{n}")[row] == pytest.approx(pw[lag_t])
            assert dm.column(f"reglag_{CLEAR_SKY_NAME}_day_{n}")[row] == pytest.approx(cs[lag_t])
    # the two lag days differ: the sun's path moved, which is what the index corrects
    assert dm.column(f"reglag_{CLEAR_SKY_NAME}_day_1")[1] != dm.column(f"reg_{CLEAR_SKY_NAME}")[1]


def test_clear_sky_quantile_is_the_index_climatology_times_clear_sky(
    pv: tuple[SeriesHistory, SeriesHistory],
) -> None:
    """Real PV at 10:00: the median forecast is the median over the 21 known days of
    power / clear-sky GHI, times the target's clear-sky GHI; at night the plain climatology."""
    power, clear = pv
    fc = forecast_cycles(
        "clear-sky-quantile", power, VP, VP + timedelta(hours=1), CFG, regressors=[clear]
    )
    cs, pw = _values(clear), _values(power)
    t = datetime(2016, 9, 21, 10, tzinfo=MST)
    days = [(t - timedelta(days=k)).astimezone(UTC) for k in range(1, 22)]
    k = np.array([pw[d] / cs[d] for d in days])
    at = fc.filter(pl.col("event_start") == t).sort("cumulative_probability")
    q = at["event_value"].to_list()
    assert q[1] == pytest.approx(float(np.median(k)) * cs[t.astimezone(UTC)])
    assert q[0] == pytest.approx(float(np.quantile(k, 0.1)) * cs[t.astimezone(UTC)])
    # the recent-quantile median differs: the index corrects for the sun's lower path
    plain = float(np.median([pw[d] for d in days]))
    assert abs(q[1] - plain) > 1.0
    night = datetime(2016, 9, 21, 2, tzinfo=MST)
    at_night = fc.filter(
        (pl.col("event_start") == night) & (pl.col("cumulative_probability") == 0.5)
    )
    past = [pw[(night - timedelta(days=k)).astimezone(UTC)] for k in range(1, 22)]
    assert at_night["event_value"][0] == pytest.approx(float(np.median(past)))


def test_pooled_neighbours_widen_each_sample(pv: tuple[SeriesHistory, SeriesHistory]) -> None:
    """With ``pool_slots=2`` the index sample of 10:00 also holds 09:30–10:30: its median is
    the median of those 5 × 21 values."""
    power, clear = pv
    cfg = CycleConfig(**{**CFG.__dict__, "model_params": {"pool_slots": 2}})
    fc = forecast_cycles(
        "clear-sky-quantile", power, VP, VP + timedelta(hours=1), cfg, regressors=[clear]
    )
    cs, pw = _values(clear), _values(power)
    t = datetime(2016, 9, 21, 10, tzinfo=MST)
    sample = [
        pw[e] / cs[e]
        for off in (-30, -15, 0, 15, 30)
        for k in range(1, 22)
        for e in [(t + timedelta(minutes=off) - timedelta(days=k)).astimezone(UTC)]
    ]
    med = fc.filter((pl.col("event_start") == t) & (pl.col("cumulative_probability") == 0.5))
    assert med["event_value"][0] == pytest.approx(float(np.median(sample)) * cs[t.astimezone(UTC)])


def test_clear_sky_quantile_without_the_clear_sky_regressor_says_so(
    pv: tuple[SeriesHistory, SeriesHistory],
) -> None:
    power, _ = pv
    with pytest.raises(MissingRegressorError, match="clear-sky regressor 'clear-sky-ghi'"):
        forecast_cycles("clear-sky-quantile", power, VP, VP + timedelta(hours=1), CFG)


def test_ridge_profiles_load_options_change_inputs_and_forecast() -> None:
    """GB demand: ``profile_weeks=[1, 2]`` adds the two-weeks-ago profile; ``transform="none"``
    fits load as it is (no asinh) and gives another forecast; a bad transform is refused."""
    hist = gb_demand()
    plain = get_model("ridge-profiles").feature_spec(None)
    weekly = get_model("ridge-profiles", profile_weeks=[1, 2]).feature_spec(None)
    assert plain.profile_weeks == (1,) and weekly.profile_weeks == (1, 2)
    vp = datetime(2000, 8, 1, 12, tzinfo=UTC)
    cfg = CycleConfig(
        min_horizon=timedelta(hours=12),
        max_horizon=timedelta(hours=36),
        train_period=timedelta(days=30),
    )
    runs = {}
    for label, params in {
        "asinh": {},
        "none": {"transform": "none", "profile_weeks": [1, 2]},
    }.items():
        c = CycleConfig(**{**cfg.__dict__, "model_params": params})
        runs[label] = forecast_cycles("ridge-profiles", hist, vp, vp + timedelta(hours=1), c)
    a, b = (runs[k]["event_value"].to_numpy() for k in ("asinh", "none"))
    assert len(a) == len(b) == 48 and np.isfinite(b).all()
    assert np.abs(a - b).max() > 1.0  # MW: the options reach the model
    bad = CycleConfig(**{**cfg.__dict__, "model_params": {"transform": "log"}})
    with pytest.raises(ForecastingError, match="transform='log'"):
        forecast_cycles("ridge-profiles", hist, vp, vp + timedelta(hours=1), bad)


def test_regressor_values_at_lag_events_not_yet_believed_change_nothing(
    pv: tuple[SeriesHistory, SeriesHistory],
) -> None:
    """A later vintage of the clear-sky input (believed after the viewpoint, doubled) changes
    no forecast through the lag-event values; the same change to what was believed at the
    viewpoint about the past days halves the daytime forecast (control)."""
    power, clear = pv
    end = VP + timedelta(hours=1)
    base = forecast_cycles("clear-sky-quantile", power, VP, end, CFG, regressors=[clear])
    later = clear.frame.with_columns(
        pl.col("belief_time") + timedelta(days=400), pl.col("event_value") * 2
    )
    revised = clear.with_frame(pl.concat([clear.frame, later]))
    again = forecast_cycles("clear-sky-quantile", power, VP, end, CFG, regressors=[revised])
    assert base.height == 96 * 3
    assert np.array_equal(base["event_value"].to_numpy(), again["event_value"].to_numpy())
    past_doubled = clear.with_frame(
        clear.frame.with_columns(
            pl.when(pl.col("event_start") < VP)
            .then(pl.col("event_value") * 2)
            .otherwise(pl.col("event_value"))
        )
    )
    changed = forecast_cycles("clear-sky-quantile", power, VP, end, CFG, regressors=[past_doubled])
    noon = datetime(2016, 9, 21, 12, tzinfo=MST)

    def at(fc: pl.DataFrame) -> float:
        row = fc.filter((pl.col("event_start") == noon) & (pl.col("cumulative_probability") == 0.5))
        return float(row["event_value"][0])

    assert at(changed) == pytest.approx(at(base) / 2)


def test_a_model_parameter_the_model_does_not_read_is_refused_naming_it() -> None:
    from flex_pipelines.forecasting.errors import ForecastingError
    from flex_pipelines.forecasting.models import get_model

    assert get_model("ridge-profiles", transform="none", alpha=2.0).params["alpha"] == 2.0
    with pytest.raises(ForecastingError, match=r"'ridge-profiles' has no parameter 'alhpa'.*alpha"):
        get_model("ridge-profiles", alhpa=2.0)
    with pytest.raises(ForecastingError, match="'naive-week' has no parameter 'days'.*none"):
        get_model("naive-week", days=3)
