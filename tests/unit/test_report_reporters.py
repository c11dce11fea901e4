"""Profit/loss and aggregator reporters on a real store (DuckDB file and PostgreSQL):
FlexMeasures' reporter tutorial (headroom = 500 kW − PV; process costs 9.60 / 5.40 / 4.30 EUR),
idempotent re-runs, and the bad inputs the issue lists."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from flex_pipelines.reporting import (
    ReportError,
    SQLReportError,
    aggregate,
    profit_loss,
    run_report,
)
from flex_pipelines.reporting.common import config_resolution, empty_note, latest_belief_time
from flex_pipelines.reporting.series import Series
from flex_pipelines.time import floor_to
from tests.unit.test_report_helpers import (
    DAY,
    NEXT_DAY,
    PUBLISHED,
    TOY_PRICES,
    TOY_PV_KW,
    beliefs,
    schedule,
    toy_process_site,
)

Q = timedelta(minutes=15)


def _pl_config(ids, **extra):
    return {
        "power": {"sensor": ids["power"], "source-types": ["scheduler"]},
        "consumption-price": {"sensor": ids["price"]},
        **extra,
    }


@pytest.mark.parametrize(
    ("process_type", "expected_eur", "hours"),
    [
        ("INFLEXIBLE", 9.60, [0, 1, 2, 3]),
        ("SHIFTABLE", 5.40, [11, 12, 13, 14]),
        ("BREAKABLE", 4.30, [13, 14, 16, 23]),
    ],
)
def test_process_costs_of_the_reporter_tutorial(store, process_type, expected_eur, hours):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], process_type)
    cost_sensor = store.add_sensor("process cost", "EUR", Q, timezone="Europe/Amsterdam")
    result = profit_loss(store, _pl_config(ids), DAY, NEXT_DAY, output_sensor_id=cost_sensor.id)
    assert result.totals["total_cost_eur"] == pytest.approx(expected_eur, abs=1e-9)
    assert result.totals["energy_consumed_mwh"] == pytest.approx(0.8)
    # per event: 0.2 MW × 0.25 h × the hour's price, only where the process runs
    values = result.frame["value"].to_list()
    for i, v in enumerate(values):
        expected = 0.2 * 0.25 * TOY_PRICES[i // 4] if i // 4 in hours else 0.0
        assert v == pytest.approx(expected), i
    stored = store.search_beliefs(cost_sensor.id, DAY, NEXT_DAY)
    assert stored.height == 96
    assert sum(stored["event_value"]) == pytest.approx(expected_eur)
    src = store.get_source(int(stored["source_id"][0]))
    assert (src.type, src.model) == ("reporter", "ProfitLossReporter")
    assert src.version.startswith("1+cfg")
    # re-running the same report stores nothing new
    again = profit_loss(store, _pl_config(ids), DAY, NEXT_DAY, output_sensor_id=cost_sensor.id)
    assert again.saved.n_new == 0 and again.saved.n_existing == 96
    assert store.count_beliefs(cost_sensor.id) == 96


def test_profit_is_positive_when_loss_is_not(store):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "SHIFTABLE")
    out = store.add_sensor("process profit", "EUR", Q)
    loss = profit_loss(store, _pl_config(ids), DAY, NEXT_DAY)
    profit = profit_loss(
        store,
        _pl_config(ids, **{"loss-is-positive": False}),
        DAY,
        NEXT_DAY,
        output_sensor_id=out.id,
    )
    assert profit.totals["total_profit_eur"] == pytest.approx(-5.40)
    assert (profit.frame["value"] + loss.frame["value"]).abs().max() == pytest.approx(0.0)
    # another config is another reporter source
    assert (
        profit.source.version
        != run_report(
            store, "profit-loss", _pl_config(ids), DAY, NEXT_DAY, output_sensor_id=out.id
        ).source.version
    )


def test_production_is_paid_at_the_production_price(store):
    """PV export (consumption-positive power below zero) earns the production price."""
    ids = toy_process_site(store)
    feed_in = store.add_sensor("feed-in price", "EUR/kWh", timedelta(hours=1))
    src = store.get_or_create_source("supplier", type="market")
    store.save_beliefs(beliefs(feed_in.id, src.id, DAY, timedelta(hours=1), [0.002] * 24))
    result = profit_loss(
        store,
        {
            "power": {"sensor": ids["pv"]},
            "consumption-price": {"sensor": ids["price"]},
            "production-price": {"sensor": feed_in.id},
            "consumption-is-positive": False,
        },
        DAY,
        NEXT_DAY,
    )
    pv_mwh = sum(TOY_PV_KW) / 1000  # hourly kW values, so kWh per hour
    assert result.totals["energy_produced_mwh"] == pytest.approx(pv_mwh)
    assert result.totals["total_cost_eur"] == pytest.approx(-pv_mwh * 2.0)  # 0.002 EUR/kWh


def test_inline_power_and_prices(store):
    ids = toy_process_site(store, with_pv=False)
    config = {
        "power": [
            {
                "start": DAY.isoformat(),
                "end": (DAY + timedelta(hours=2)).isoformat(),
                "value": "200 kW",
            }
        ],
        "consumption-price": "50 EUR/MWh",
        "resolution": "PT15M",
    }
    result = profit_loss(store, config, DAY, NEXT_DAY)
    assert result.totals["total_cost_eur"] == pytest.approx(0.2 * 2 * 50)
    assert result.frame.height == 8
    # an inline price next to a stored power series
    schedule(store, ids["power"], "INFLEXIBLE")
    fixed = profit_loss(
        store, {"power": {"sensor": ids["power"]}, "consumption-price": "10 EUR/MWh"}, DAY, NEXT_DAY
    )
    assert fixed.totals["total_cost_eur"] == pytest.approx(0.8 * 10)


def test_energy_sensor_input(store):
    ids = toy_process_site(store, with_pv=False)
    meter = store.add_sensor("process energy", "kWh", Q)
    src = store.get_or_create_source("meter", type="user")
    store.save_beliefs(beliefs(meter.id, src.id, DAY, Q, [50.0] * 16))  # 200 kW for 4 h
    result = profit_loss(
        store,
        {"energy": {"sensor": meter.id}, "consumption-price": {"sensor": ids["price"]}},
        DAY,
        NEXT_DAY,
    )
    assert result.totals["total_cost_eur"] == pytest.approx(9.60)


def test_prices_in_different_currencies_are_refused(store):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "SHIFTABLE")
    with pytest.raises(ReportError) as err:
        profit_loss(store, _pl_config(ids, **{"production-price": "30 USD/MWh"}), DAY, NEXT_DAY)
    msg = str(err.value)
    assert "different currencies" in msg and "'EUR/MWh'" in msg and "'USD/MWh'" in msg


def test_incompatible_price_resolution_is_refused(store):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "SHIFTABLE")
    odd = store.add_sensor("odd price", "EUR/MWh", timedelta(minutes=40))
    src = store.get_or_create_source("odd market", type="market")
    first = floor_to(DAY, timedelta(minutes=40))  # the 40-minute grid is anchored at the epoch
    store.save_beliefs(beliefs(odd.id, src.id, first, timedelta(minutes=40), [10.0] * 37))
    with pytest.raises(ReportError) as err:
        profit_loss(
            store,
            {"power": {"sensor": ids["power"]}, "consumption-price": {"sensor": odd.id}},
            DAY,
            NEXT_DAY,
        )
    msg = str(err.value)
    assert "PT40M" in msg and "PT15M" in msg and f"sensor {odd.id}" in msg


def test_finer_prices_keep_the_cost_exact(store):
    """5-minute prices under a 15-minute power series: the power is split, not the price averaged."""
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "INFLEXIBLE")
    fine = store.add_sensor("5-min price", "EUR/MWh", timedelta(minutes=5))
    src = store.get_or_create_source("imbalance", type="market")
    store.save_beliefs(beliefs(fine.id, src.id, DAY, timedelta(minutes=5), [10.0, 20.0, 60.0] * 96))
    result = profit_loss(
        store,
        {"power": {"sensor": ids["power"]}, "consumption-price": {"sensor": fine.id}},
        DAY,
        NEXT_DAY,
    )
    assert result.frame.height == 96
    assert result.frame["value"][0] == pytest.approx(0.2 * (5 / 60) * (10 + 20 + 60))


def test_missing_price_names_the_time(store):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "INFLEXIBLE")
    store.delete_beliefs(ids["price"], DAY + timedelta(hours=2), DAY + timedelta(hours=3))
    with pytest.raises(ReportError) as err:
        profit_loss(store, _pl_config(ids), DAY, NEXT_DAY)
    assert "has no price at 2026-11-26T01:00:00+00:00" in str(err.value)
    assert "4 of 96" in str(err.value)


def test_window_without_power_is_an_empty_report_not_zeros(store):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "INFLEXIBLE")
    out = store.add_sensor("cost", "EUR", Q)
    later = NEXT_DAY + timedelta(days=7)
    result = profit_loss(
        store, _pl_config(ids), later, later + timedelta(days=1), output_sensor_id=out.id
    )
    assert result.empty and result.frame.height == 0
    assert any("empty report" in n for n in result.notes)
    assert store.count_beliefs(out.id) == 0


def test_headroom_is_capacity_minus_pv(store):
    """FlexMeasures' reporter tutorial: headroom = 500 kW − PV production."""
    ids = toy_process_site(store)
    headroom = store.add_sensor("headroom", "kW", Q, timezone="Europe/Amsterdam")
    config = {
        "method": "sum",
        "inputs": [
            {"name": "capacity", "value": "500 kW"},
            {"name": "pv", "sensor": ids["pv"], "weight": -1},
        ],
    }
    result = aggregate(store, config, DAY, NEXT_DAY, output_sensor_id=headroom.id)
    assert result.frame["value"].to_list() == [500.0 - TOY_PV_KW[i // 4] for i in range(96)]
    assert result.totals["min"] == 280.0  # at noon: 500 − 220
    stored = store.search_beliefs(headroom.id, DAY, NEXT_DAY, one_per_event=True)
    assert stored["event_value"].to_list() == result.frame["value"].to_list()
    assert stored["belief_time"][0] == PUBLISHED  # believed when its input was
    again = aggregate(store, config, DAY, NEXT_DAY, output_sensor_id=headroom.id)
    assert again.saved.n_new == 0


def test_aggregator_converts_units_and_combines(store):
    ids = toy_process_site(store)
    schedule(store, ids["power"], "INFLEXIBLE")
    site = store.add_sensor("site power", "MW", Q)
    config = {"inputs": [{"sensor": ids["power"]}, {"sensor": ids["pv"], "weight": -1}]}
    result = aggregate(store, config, DAY, NEXT_DAY, output_sensor_id=site.id)
    assert result.unit == "MW"
    assert result.frame["value"][0] == pytest.approx(0.2)  # 200 kW process, no PV at 00:00
    assert result.frame["value"][48] == pytest.approx(-0.22)  # noon: PV 220 kW
    peak = aggregate(store, {**config, "method": "max"}, DAY, NEXT_DAY)
    assert peak.frame["value"][0] == pytest.approx(200.0)  # kW, the first sensor's unit


def test_aggregator_refuses_mixed_resolutions_unless_told(store):
    ids = toy_process_site(store)
    hourly = store.add_sensor("hourly load", "kW", timedelta(hours=1))
    src = store.get_or_create_source("meter", type="user")
    store.save_beliefs(beliefs(hourly.id, src.id, DAY, timedelta(hours=1), [100.0] * 24))
    config = {"inputs": [{"sensor": ids["pv"]}, {"sensor": hourly.id}]}
    with pytest.raises(ReportError) as err:
        aggregate(store, config, DAY, NEXT_DAY)
    msg = str(err.value)
    assert "different resolutions" in msg and "PT15M" in msg and "PT1H" in msg
    assert "'resolution'" in msg
    hourly_sum = aggregate(store, {**config, "resolution": "PT1H"}, DAY, NEXT_DAY)
    assert hourly_sum.frame["value"].to_list() == [100.0 + p for p in TOY_PV_KW]
    quarter = aggregate(store, {**config, "resolution": "PT15M"}, DAY, NEXT_DAY)
    assert quarter.frame.height == 96 and quarter.frame["value"][48] == 320.0


def test_aggregator_empty_window(store):
    ids = toy_process_site(store)
    later = NEXT_DAY + timedelta(days=3)
    result = aggregate(
        store,
        {"inputs": [{"value": "500 kW"}, {"sensor": ids["pv"], "weight": -1}]},
        later,
        later + timedelta(days=1),
    )
    assert result.empty and "empty report" in result.notes[-1]


def test_bad_configs_name_the_field(store):
    ids = toy_process_site(store, with_pv=False)
    with pytest.raises(ReportError, match="unknown field"):
        profit_loss(store, {**_pl_config(ids), "prize": 3}, DAY, NEXT_DAY)
    with pytest.raises(ReportError, match="not a price per energy"):
        profit_loss(store, _pl_config(ids, **{"consumption-price": "3 kW"}), DAY, NEXT_DAY)
    with pytest.raises(ReportError, match="method 'median'"):
        aggregate(store, {"method": "median", "inputs": [{"sensor": ids["pv"]}]}, DAY, NEXT_DAY)
    with pytest.raises(ReportError, match="reporter 'pandas'"):
        run_report(store, "pandas", {}, DAY, NEXT_DAY)


@pytest.mark.parametrize(
    ("reporter", "error"),
    [("profit-loss", ReportError), ("aggregator", ReportError), ("sql", SQLReportError)],
)
def test_every_reporter_refuses_unknown_fields_alike(store, reporter, error):
    with pytest.raises(error, match=r"config has unknown field\(s\) \['prize'\]; known fields: \["):
        run_report(store, reporter, {"prize": 3}, DAY, NEXT_DAY)


def test_shared_reporter_helpers():
    none = Series("x", pl.DataFrame(), "kW", Q)
    early = Series("y", pl.DataFrame(), "kW", Q, belief_time=PUBLISHED)
    late = Series("z", pl.DataFrame(), "kW", Q, belief_time=PUBLISHED + Q)
    assert latest_belief_time([none, late, early]) == PUBLISHED + Q
    assert latest_belief_time([none]) is None
    assert config_resolution({"resolution": "PT1H"}) == timedelta(hours=1)
    assert config_resolution({"resolution": None}) is None and config_resolution({}) is None
    note = empty_note([early, late], DAY, NEXT_DAY)
    assert (
        note == f"no input values in {DAY.isoformat()}–{NEXT_DAY.isoformat()} (y, z): empty report"
    )


def test_aggregator_input_names_must_differ(store):
    ids = toy_process_site(store)
    with pytest.raises(ReportError, match=r"input name\(s\) \['pv'\] are repeated"):
        aggregate(
            store,
            {"inputs": [{"name": "pv", "sensor": ids["pv"]}, {"name": "pv", "value": "1 kW"}]},
            DAY,
            NEXT_DAY,
        )
