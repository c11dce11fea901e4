"""The fitted clear-sky-index references (``clear-sky-cliper``, ``clear-sky-qr``): synthetic PV
with a known clear-sky index, no lookahead, parameter checks, and the documented fitted values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from flex_pipelines.forecasting import CycleConfig, forecast_cycles
from flex_pipelines.forecasting.clearsky import clear_sky_history
from flex_pipelines.forecasting.datasets import PV_TIMEZONE, pv_serf
from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.history import SeriesHistory
from flex_pipelines.forecasting.models import get_model, list_models
from flex_pipelines.forecasting.models import solar_reference as sr

MST = timezone(timedelta(hours=-7))
LAT, LON = 39.742, -105.18
START = datetime(2016, 6, 1, tzinfo=UTC)
N_DAYS = 70
VP = datetime(2016, 7, 30, 12, tzinfo=MST)
CFG = CycleConfig(
    min_horizon=timedelta(hours=12),
    max_horizon=timedelta(hours=36),
    train_period=timedelta(days=40),
    calibration="none",
)


@pytest.fixture(scope="module")
def clear() -> SeriesHistory:
    times = pl.Series(
        "t",
        [START + timedelta(minutes=15 * k) for k in range(N_DAYS * 96)],
        pl.Datetime("us", "UTC"),
    )
    return clear_sky_history(times, timedelta(minutes=15), LAT, LON, PV_TIMEZONE)


def _pv(clear: SeriesHistory, index_of_day: np.ndarray) -> SeriesHistory:
    """Power (W) = the day's clear-sky index × clear-sky GHI, known at each event's end."""
    f = clear.frame
    day = ((f["event_start"] - START).dt.total_seconds() // 86400).cast(pl.Int64).to_numpy()
    values = f["event_value"].to_numpy() * index_of_day[np.minimum(day, N_DAYS - 1)]
    return SeriesHistory.from_values(
        f["event_start"],
        pl.Series(values),
        resolution=timedelta(minutes=15),
        timezone=PV_TIMEZONE,
        unit="W",
        name="pv",
    )


def _median(fc: pl.DataFrame) -> pl.DataFrame:
    return fc.filter(pl.col("cumulative_probability") == 0.5).sort("event_start")


def _fitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Record the (weight, shift) each ``clear-sky-cliper`` fit chooses."""
    seen: list[tuple[float, float]] = []
    fit = sr.ClearSkyCliper.fit

    def record(self: sr.ClearSkyCliper, train: object, ctx: object) -> None:
        fit(self, train, ctx)  # type: ignore[arg-type]
        seen.append((self.weight_, self.shift_))

    monkeypatch.setattr(sr.ClearSkyCliper, "fit", record)
    return seen


@pytest.mark.parametrize("name", ["clear-sky-cliper", "clear-sky-qr"])
def test_a_constant_clear_sky_index_is_forecast_as_the_clear_sky_times_that_index(
    clear: SeriesHistory, name: str
) -> None:
    """Every day clear with index 3 W per W/m²: the median forecast is 3 × the target's clear sky
    wherever that is at least 20 W/m² (elsewhere the plain climatology of the same times' power)."""
    pv = _pv(clear, np.full(N_DAYS, 3.0))
    fc = _median(forecast_cycles(name, pv, VP, VP + timedelta(hours=1), CFG, regressors=[clear]))
    cs = clear.frame.join(fc.select("event_start"), on="event_start").sort("event_start")
    sky = cs["event_value"].to_numpy()
    got = fc["event_value"].to_numpy()
    day = sky >= 20.0
    assert fc.height == 96 and day.sum() > 40
    np.testing.assert_allclose(got[day], 3.0 * sky[day], rtol=1e-9)
    # dawn, dusk and night: the plain climatology of the same times' power, small and not negative
    assert np.all((got[~day] >= 0.0) & (got[~day] < 3.0 * 100.0))


def test_persistent_weather_regimes_give_persistence_a_high_weight(
    clear: SeriesHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six-day runs of clear (3) and overcast (1) days: the latest known day predicts the next
    one far better than the climatology, so the fitted weight is high (and the MAE-optimal one
    of the grid on the training rows)."""
    seen = _fitted(monkeypatch)
    regimes = np.where((np.arange(N_DAYS) // 6) % 2 == 0, 3.0, 1.0)
    pv = _pv(clear, regimes)
    forecast_cycles("clear-sky-cliper", pv, VP, VP + timedelta(hours=1), CFG, regressors=[clear])
    assert len(seen) == 1 and seen[0][0] >= 0.7


def test_independent_days_give_persistence_a_low_weight(
    clear: SeriesHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days drawn independently (80 % clear at 3, else 1): yesterday says nothing about
    tomorrow, the fitted weight stays low and the level near the median."""
    seen = _fitted(monkeypatch)
    rng = np.random.default_rng(7)
    pv = _pv(clear, np.where(rng.random(N_DAYS) < 0.8, 3.0, 1.0))
    forecast_cycles("clear-sky-cliper", pv, VP, VP + timedelta(hours=1), CFG, regressors=[clear])
    assert len(seen) == 1 and seen[0][0] <= 0.2


def test_fixed_weight_zero_and_shift_is_the_clear_sky_quantile(
    clear: SeriesHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the weight and the level fixed, nothing is fitted and CLIPER at weight 0 is the
    index climatology ``clear-sky-quantile`` with the same level."""
    seen = _fitted(monkeypatch)
    rng = np.random.default_rng(3)
    pv = _pv(clear, rng.uniform(0.5, 3.0, N_DAYS))
    end = VP + timedelta(hours=1)
    cfg = CycleConfig(**{**CFG.__dict__, "model_params": {"weight": 0.0, "shift": 0.1}})
    cliper = forecast_cycles("clear-sky-cliper", pv, VP, end, cfg, regressors=[clear])
    cfg_q = CycleConfig(**{**CFG.__dict__, "model_params": {"shift": 0.1}})
    quantile = forecast_cycles("clear-sky-quantile", pv, VP, end, cfg_q, regressors=[clear])
    assert seen == [(0.0, 0.1)]
    np.testing.assert_allclose(
        _median(cliper)["event_value"].to_numpy(), _median(quantile)["event_value"].to_numpy()
    )


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("clear-sky-cliper", {}),
        ("clear-sky-cliper", {"persistence": "day", "fit_days": 10}),
        ("clear-sky-qr", {}),
        ("clear-sky-qr", {"method": "hgb"}),
    ],
)
def test_values_believed_after_the_viewpoint_change_nothing(name: str, params: dict) -> None:
    """Real PV: a later vintage of every value (believed after the viewpoint, doubled) leaves
    the forecast as it was; doubling what was known before the viewpoint changes it (control)."""
    power, _, _ = pv_serf()
    cs = clear_sky_history(power.frame["event_start"], timedelta(minutes=15), LAT, LON, PV_TIMEZONE)
    vp = datetime(2016, 8, 20, 12, tzinfo=MST)
    cfg = CycleConfig(**{**CFG.__dict__, "model_params": params})
    end = vp + timedelta(hours=1)
    base = forecast_cycles(name, power, vp, end, cfg, regressors=[cs])
    later = power.frame.with_columns(
        pl.max_horizontal(pl.col("belief_time"), pl.lit(vp)) + timedelta(minutes=1),
        pl.col("event_value") * 2,
    )
    revised = power.with_frame(pl.concat([power.frame, later]))
    again = forecast_cycles(name, revised, vp, end, cfg, regressors=[cs])
    assert np.array_equal(base["event_value"].to_numpy(), again["event_value"].to_numpy())
    doubled = power.with_frame(power.frame.with_columns(pl.col("event_value") * 2))
    changed = forecast_cycles(name, doubled, vp, end, cfg, regressors=[cs])
    assert np.abs(changed["event_value"].to_numpy() - base["event_value"].to_numpy()).max() > 100


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("clear-sky-cliper", {"weight": 1.5}, r"weight=1.5: expected a number in \[0, 1\] or null"),
        ("clear-sky-cliper", {"weight": "fit"}, "weight='fit': expected a number in"),
        ("clear-sky-cliper", {"shift": "auto"}, "shift='auto': expected a number in"),
        ("clear-sky-cliper", {"fit_days": 0}, "fit_days=0: expected an integer in \\[1, 366\\]"),
        ("clear-sky-qr", {"fit_days": 2.5}, "fit_days=2.5: expected an integer in \\[1, 366\\]"),
        ("clear-sky-qr", {"persistence": "week"}, "persistence='week' must be 'slot' or 'day'"),
        ("clear-sky-qr", {"method": "forest"}, "method='forest' must be 'linear' or 'hgb'"),
        ("clear-sky-qr", {"shift": 0.1}, "'clear-sky-qr' has no parameter 'shift'"),
    ],
)
def test_bad_parameters_are_refused_naming_them(name: str, params: dict, message: str) -> None:
    with pytest.raises(ForecastingError, match=message):
        get_model(name, **params)


def test_the_models_are_registered_with_their_parameters() -> None:
    cliper = get_model("clear-sky-cliper", weight=None, shift=None)
    assert cliper.weight is None and cliper.shift_param is None and cliper.fit_days == 28
    assert {"weight", "shift", "fit_days", "persistence", "pool_slots"} <= cliper.parameters
    qr = get_model("clear-sky-qr", method="hgb", fit_days=14)
    assert qr.fit_days == 14 and qr.method == "hgb" and qr.persistence == "slot"
    assert {"clear-sky-cliper", "clear-sky-qr"} <= set(list_models())
