"""Risk-aware scheduling through the service path on a real store (DuckDB and PostgreSQL):
quantile forecasts of the price stored by a forecaster source, the flex-context fields given in
the call (as the API's trigger and the backtest do), the first-stage schedule saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.service import LOCAL_ADMIN
from flex_pipelines.service.schedule import prepare_schedule, schedule

DAY = datetime(2026, 3, 10, tzinfo=UTC)  # the day scheduled
VIEW = DAY - timedelta(hours=12)  # the viewpoint: forecasts made at 12:00 the day before
STEP = timedelta(hours=1)
LEVELS = (0.1, 0.5, 0.9)


def _price_shape(n: int, day: int) -> np.ndarray:
    h = np.arange(n) % 24
    return 60 + 40 * np.sin((h - 6) / 24 * 2 * np.pi) + 3 * (day % 3)


def _quantile_frame(
    sid: int,
    src: int,
    start: datetime,
    median: np.ndarray,
    spread: np.ndarray,
    belief_time: datetime,
) -> pl.DataFrame:
    rows = []
    for i, (m, s) in enumerate(zip(median, spread, strict=True)):
        for p, k in zip(LEVELS, (-1.2816, 0.0, 1.2816), strict=True):
            rows.append((sid, start + i * STEP, belief_time, src, p, float(m + k * s)))
    return pl.DataFrame(
        rows,
        schema={
            "sensor_id": pl.Int64,
            "event_start": pl.Datetime("us", "UTC"),
            "belief_time": pl.Datetime("us", "UTC"),
            "source_id": pl.Int64,
            "cumulative_probability": pl.Float64,
            "event_value": pl.Float64,
        },
        orient="row",
    )


@pytest.fixture
def site(store_url):  # noqa: ANN001, ANN201
    """A site with an hourly price sensor, a battery, 14 past days of price forecasts with
    quantiles and their outcomes, and tomorrow's quantile forecast made at the viewpoint."""
    store = open_store(store_url)
    acc = store.add_account("A")
    price = store.add_sensor("price", "EUR/MWh", STEP)
    home = store.add_asset(
        "home", "building", acc.id, flex_context={"consumption-price": {"sensor": price.id}}
    )
    bat = store.add_asset("battery", "battery", acc.id, parent_id=home.id)
    power = store.add_sensor("battery power", "MW", timedelta(minutes=15), asset_id=bat.id)
    store.update_asset(
        bat.id,
        flex_model={
            "sensor": power.id,
            "soc-at-start": "1 MWh",
            "soc-min": "0 MWh",
            "soc-max": "2 MWh",
            "power-capacity": "1 MW",
            "roundtrip-efficiency": "90%",
        },
    )
    fc = store.get_or_create_source("price model", type="forecaster", model="test")
    market = store.get_or_create_source("market", type="market")
    rng = np.random.default_rng(3)
    frames = []
    for d in range(14, 0, -1):
        day = DAY - d * timedelta(days=1)
        med = _price_shape(24, d)
        frames.append(
            _quantile_frame(price.id, fc.id, day, med, np.full(24, 10.0), day - timedelta(hours=12))
        )
        err = np.cumsum(rng.normal(0, 4, 24))  # correlated errors over the lead times
        actual = pl.DataFrame(
            {
                "sensor_id": [price.id] * 24,
                "event_start": [day + i * STEP for i in range(24)],
                "belief_time": [day + (i + 1) * STEP for i in range(24)],
                "source_id": [market.id] * 24,
                "cumulative_probability": [0.5] * 24,
                "event_value": (med + err).tolist(),
            },
            schema_overrides={
                "event_start": pl.Datetime("us", "UTC"),
                "belief_time": pl.Datetime("us", "UTC"),
            },
        )
        frames.append(actual)
    spread = np.where(np.arange(24) >= 16, 40.0, 5.0)  # the evening is uncertain
    frames.append(
        _quantile_frame(
            price.id, fc.id, DAY, _price_shape(24, 0), spread, VIEW - timedelta(hours=1)
        )
    )
    store.save_beliefs(pl.concat(frames), changed_only=False)
    yield store, {"home": home.id, "power": power.id, "price": price.id, "source": fc.id}
    store.close()


def test_risk_fields_in_the_call_give_a_risk_aware_schedule_saved_as_the_first_stage(site) -> None:  # noqa: ANN001
    store, ids = site
    ctx = {"risk-aversion": 1.0, "cvar-alpha": 0.8, "scenarios": 12, "scenario-seed": 7}
    plan = prepare_schedule(LOCAL_ADMIN, store, asset_id=ids["home"], flex_context=ctx)
    (rec,) = schedule(LOCAL_ADMIN, store, DAY, DAY + timedelta(days=1), as_of=VIEW, plan=plan)
    (run,) = rec.runs
    res = run.result.result
    assert res.risk is not None and res.risk.scenarios == 12
    assert res.risk.cvar >= res.risk.expected_cost
    assert any(
        "risk-aware: sensor" in w.message and "past residual pairs" in w.message
        for w in rec.warnings
    )
    assert any("CVaR(0.8)" in w.message for w in rec.warnings)
    assert run.risk is res.risk
    meta = rec.to_record()["devices"][0]["risk"]
    assert meta["scenarios"] == 12 and meta["cvar"] == pytest.approx(res.risk.cvar, abs=1e-6)
    assert run.cost_eur == pytest.approx(res.risk.expected_cost)  # the record's cost: expected
    saved = store.search_beliefs(ids["power"], DAY, DAY + timedelta(days=1), one_per_event=True)
    np.testing.assert_allclose(saved["event_value"].to_numpy(), res.devices[0].power_mw, atol=1e-9)
    # the same request without the fields: the deterministic schedule, no risk summary
    (det,) = schedule(
        LOCAL_ADMIN,
        store,
        DAY,
        DAY + timedelta(days=1),
        asset_id=ids["home"],
        as_of=VIEW,
        save=False,
    )
    assert det.runs[0].result.result.risk is None
    assert not any("risk-aware" in w.message for w in det.warnings)


def test_bad_risk_field_is_refused_naming_field_and_value(site) -> None:  # noqa: ANN001
    store, ids = site
    with pytest.raises(SchedulingError, match=r"'cvar-alpha' = 1\.5"):
        schedule(
            LOCAL_ADMIN,
            store,
            DAY,
            DAY + timedelta(days=1),
            asset_id=ids["home"],
            flex_context={"cvar-alpha": 1.5},
            as_of=VIEW,
            save=False,
        )


def test_bad_risk_fields_are_refused_when_the_request_is_prepared(site) -> None:  # noqa: ANN001
    """prepare_schedule is the API trigger's check (400 before a job exists): the request's
    fields and the ones stored on the site's flex-context are both read there."""
    store, ids = site
    with pytest.raises(SchedulingError, match=r"'scenarios' = 0: must be between 1 and 1000"):
        prepare_schedule(LOCAL_ADMIN, store, asset_id=ids["home"], flex_context={"scenarios": 0})
    home = store.get_asset(ids["home"])
    store.update_asset(home.id, flex_context={**home.flex_context, "risk-aversion": -1})
    with pytest.raises(SchedulingError, match=r"'risk-aversion' = -1: must be 0"):
        prepare_schedule(LOCAL_ADMIN, store, asset_id=ids["home"])
    # the request's field wins over the stored one (nearest wins), and is valid
    prepare_schedule(LOCAL_ADMIN, store, asset_id=ids["home"], flex_context={"risk-aversion": 0})


def test_a_day_with_published_prices_only_is_solved_as_one_scenario(site) -> None:  # noqa: ANN001
    store, ids = site
    day = DAY - timedelta(days=1)  # its prices measured by DAY: no quantile is chosen
    (rec,) = schedule(
        LOCAL_ADMIN,
        store,
        day,
        DAY,
        asset_id=ids["home"],
        flex_context={"scenarios": 30, "risk-aversion": 1},
        as_of=DAY,
        save=False,
    )
    res = rec.runs[0].result.result
    assert res.risk.scenarios == 1
    assert any("one scenario, the point forecast" in w.message for w in rec.warnings)
    (det,) = schedule(LOCAL_ADMIN, store, day, DAY, asset_id=ids["home"], as_of=DAY, save=False)
    np.testing.assert_allclose(
        res.devices[0].power_mw, det.runs[0].result.result.devices[0].power_mw, atol=1e-7
    )
