"""Scenario paths from calibrated quantile forecasts (flex_pipelines.forecasting.scenarios):
the quantile function, the copula, the lead-time correlation, and reading only what was known at
the viewpoint (a real DuckDB store)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from scipy.special import ndtri

from flex_pipelines.forecasting.scenarios import (
    DEFAULT_RHO,
    QuantileForecast,
    lead_time_correlation,
    quantile_forecast_from_store,
    quantile_values,
    sample_paths,
    scenario_paths,
)
from flex_pipelines.scheduling.scenario_store import uncertain_sensors
from tests.unit.test_risk_aware_service import DAY, STEP, VIEW, _quantile_frame, site  # noqa: F401


def test_the_quantile_function_reproduces_a_gaussian_forecast_exactly() -> None:
    levels = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    m, s = np.array([10.0, -3.0]), np.array([2.0, 0.5])
    values = m[:, None] + s[:, None] * ndtri(levels)[None, :]
    z = np.array([[-3.0, 0.1], [0.0, 2.5], [1.7, -0.4]])
    np.testing.assert_allclose(quantile_values(levels, values, z), m + s * z, rtol=1e-12)


def test_crossing_quantiles_are_sorted_and_one_quantile_is_certain() -> None:
    levels = np.array([0.1, 0.5, 0.9])
    crossed = np.array([[5.0, 3.0, 1.0]])
    z = np.array([[ndtri(0.1)], [0.0], [ndtri(0.9)]])
    np.testing.assert_allclose(quantile_values(levels, crossed, z)[:, 0], [1.0, 3.0, 5.0])
    one = quantile_values(np.array([0.5]), np.array([[7.0], [8.0]]), np.zeros((4, 2)))
    np.testing.assert_array_equal(one, np.tile([7.0, 8.0], (4, 1)))


def test_paths_keep_the_marginal_quantiles_and_the_lead_time_correlation() -> None:
    levels = np.array([0.1, 0.5, 0.9])
    skewed = np.array([[40.0, 50.0, 90.0]] * 6)  # a long upper tail
    fc = QuantileForecast(
        np.arange(6).astype("datetime64[h]").astype("datetime64[us]"), levels, skewed
    )
    paths = sample_paths(fc, 40_000, 0.7, np.random.default_rng(0))
    for q, v in zip(levels, skewed[0], strict=True):
        assert np.quantile(paths[:, 3], q) == pytest.approx(v, abs=1.0)
    gauss = QuantileForecast(fc.event_starts, levels, np.array([[-1.2816, 0.0, 1.2816]] * 6))
    g = sample_paths(gauss, 40_000, 0.7, np.random.default_rng(1))
    assert np.corrcoef(g[:, 2], g[:, 3])[0, 1] == pytest.approx(0.7, abs=0.02)
    assert np.corrcoef(g[:, 0], g[:, 5])[0, 1] == pytest.approx(0.7**5, abs=0.02)
    again = sample_paths(fc, 50, 0.7, np.random.default_rng(0))
    np.testing.assert_array_equal(again, sample_paths(fc, 50, 0.7, np.random.default_rng(0)))


def test_lead_time_correlation_from_residual_scores() -> None:
    rng = np.random.default_rng(2)
    issues = []
    for _ in range(60):
        z = np.empty(24)
        z[0] = rng.standard_normal()
        for t in range(1, 24):
            z[t] = 0.6 * z[t - 1] + 0.8 * rng.standard_normal()
        issues.append(z)
    rho, pairs = lead_time_correlation(issues)
    assert pairs == 60 * 23 and rho == pytest.approx(0.6, abs=0.06)
    assert lead_time_correlation([np.arange(5.0)]) == (DEFAULT_RHO, 4)


def test_the_uncertain_inputs_are_prices_and_inflexible_power_only() -> None:
    fc = {
        "consumption-price": {"sensor": 1},
        "production-price": {"sensor": 2},
        "site-power-capacity": {"sensor": 3},
        "inflexible-consumption": [{"sensor": 4}],
        "commodities": [{"commodity": "gas", "consumption-price": {"sensor": 5}}],
    }
    fms = [
        {"sensor": 9, "power-capacity": {"sensor": 6}, "soc-max": "1 MWh"},
        {"name": "pv", "inflexible-production": {"sensor": 7}},
    ]
    assert uncertain_sensors(fms, fc) == {7: "power", 1: "price", 2: "price", 4: "power"}


def _paths(store, price: int, as_of):  # noqa: ANN001, ANN202
    return scenario_paths(store, price, DAY, DAY + timedelta(days=1), as_of, 25, seed=3)


def test_no_belief_made_after_the_viewpoint_is_read(site) -> None:  # noqa: F811, ANN001
    store, ids = site
    before = _paths(store, ids["price"], VIEW)
    assert before is not None and before.event_starts.size == 24
    # 13 whole past days of 24 consecutive hours (23 pairs each) and the part of the last day
    # measured by the viewpoint; the fixture's errors are a random walk: strongly correlated
    assert 13 * 23 <= before.n_pairs < 14 * 23 and before.rho > 0.8
    later = VIEW + timedelta(minutes=30)
    market = store.get_or_create_source("market", type="market")
    n = 24 * 14
    frames = [
        # a newer forecast of the day, with other quantiles
        _quantile_frame(
            ids["price"], ids["source"], DAY, np.full(24, 500.0), np.full(24, 90.0), later
        ),
        # the past restated after the viewpoint (other outcomes, other residuals)
        pl.DataFrame(
            {
                "sensor_id": [ids["price"]] * n,
                "event_start": [DAY - timedelta(days=14) + i * STEP for i in range(n)],
                "belief_time": [later] * n,
                "source_id": [market.id] * n,
                "cumulative_probability": [0.5] * n,
                "event_value": np.linspace(-300, 300, n).tolist(),
            },
            schema_overrides={
                "event_start": pl.Datetime("us", "UTC"),
                "belief_time": pl.Datetime("us", "UTC"),
            },
        ),
    ]
    store.save_beliefs(pl.concat(frames), changed_only=False)
    after = _paths(store, ids["price"], VIEW)
    np.testing.assert_array_equal(after.values, before.values)
    np.testing.assert_array_equal(after.event_starts, before.event_starts)
    assert (after.rho, after.n_pairs) == (before.rho, before.n_pairs)
    # the control: as of later, the newer beliefs are read (so the test above can fail)
    seen = _paths(store, ids["price"], later + timedelta(minutes=1))
    assert seen is not None and np.median(seen.values) == pytest.approx(500.0, abs=30.0)
    assert seen.rho != before.rho


def test_published_prices_are_certain(site) -> None:  # noqa: F811, ANN001
    store, ids = site
    market = store.get_or_create_source("market", type="market")
    published = pl.DataFrame(
        {
            "sensor_id": [ids["price"]] * 12,
            "event_start": [DAY + i * STEP for i in range(12)],
            "belief_time": [VIEW - timedelta(minutes=30)] * 12,
            "source_id": [market.id] * 12,
            "cumulative_probability": [0.5] * 12,
            "event_value": [42.0] * 12,
        },
        schema_overrides={
            "event_start": pl.Datetime("us", "UTC"),
            "belief_time": pl.Datetime("us", "UTC"),
        },
    )
    store.save_beliefs(published)
    fc = quantile_forecast_from_store(store, ids["price"], DAY, DAY + timedelta(days=1), VIEW)
    assert fc is not None and fc.event_starts.size == 12
    assert fc.event_starts[0] == np.datetime64((DAY + 12 * STEP).replace(tzinfo=None), "us")
    np.testing.assert_array_equal(fc.levels, [0.1, 0.5, 0.9])


def test_power_that_cannot_be_negative_is_cut_at_zero(site) -> None:  # noqa: F811, ANN001
    store, ids = site
    pv = store.add_sensor("pv", "kW", STEP)
    fc = store.get_or_create_source("pv model", type="forecaster", model="test")
    dawn = np.linspace(0.0, 20.0, 24)  # quantiles 0.1/0.5/0.9: dawn − 0, dawn, dawn + 1.28 s
    frame = _quantile_frame(pv.id, fc.id, DAY, dawn + 5.0, np.full(24, 5.0 / 1.2816), VIEW)
    store.save_beliefs(frame, changed_only=False)
    raw = scenario_paths(store, pv.id, DAY, DAY + timedelta(days=1), VIEW, 200, seed=1)
    cut = scenario_paths(
        store, pv.id, DAY, DAY + timedelta(days=1), VIEW, 200, seed=1, nonnegative=True
    )
    assert raw.values.min() < 0  # the tail below the 0.1 quantile crosses zero
    assert cut.values.min() == 0.0
    np.testing.assert_array_equal(cut.values, np.maximum(raw.values, 0.0))
