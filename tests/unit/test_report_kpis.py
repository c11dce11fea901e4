"""Daily KPIs in SQL and the analyst views, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from flex_pipelines.reporting import ReportError, profit_loss
from flex_pipelines.reporting.kpis import kpi_totals, site_kpis
from flex_pipelines.reporting.site import find_sites, site_spec
from flex_pipelines.reporting.views import VIEW_NAMES, ensure_views
from flex_pipelines.toy import create_toy_account
from tests.unit.test_report_helpers import (
    AMS,
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


def test_process_savings_against_its_inflexible_start(store):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "SHIFTABLE")
    kpis = site_kpis(store, ids["building"], DAY, NEXT_DAY)
    assert kpis.height == 1
    row = kpis.row(0, named=True)
    assert row["day"] == date(2026, 11, 26) and row["n_events"] == 96
    assert row["cost"] == pytest.approx(5.40)
    assert row["baseline_cost"] == pytest.approx(9.60)  # INFLEXIBLE: 00:00–04:00
    assert row["savings"] == pytest.approx(4.20)
    assert row["energy_bought_mwh"] == pytest.approx(0.8)
    assert row["energy_sold_mwh"] == 0.0
    assert row["peak_consumption_mw"] == pytest.approx(0.2)
    assert row["currency"] == "EUR"
    assert row["self_consumption_ratio"] is None  # no PV values: not a made-up 0 or 1
    assert row["equivalent_full_cycles"] is None


def _battery_site(store):
    ids = create_toy_account(store, kind="battery")
    market = store.get_or_create_source("day-ahead market", type="market")
    store.save_beliefs(
        beliefs(ids["price sensor"]["id"], market.id, DAY, timedelta(hours=1), TOY_PRICES)
    )
    fc = store.get_or_create_source("pv forecaster", type="forecaster")
    pv = [float(TOY_PV_KW[i // 4]) for i in range(96)]
    store.save_beliefs(beliefs(ids["pv sensor"]["id"], fc.id, DAY, Q, pv))
    # a battery schedule (consumption positive, kW): charge 225 kW 13:00–15:00, discharge 18–20
    battery = [225.0 if 52 <= i < 60 else -225.0 if 72 <= i < 80 else 0.0 for i in range(96)]
    sched = store.get_or_create_source("storage scheduler", type="scheduler")
    store.save_beliefs(
        beliefs(
            ids["power sensor"]["id"], sched.id, DAY, Q, battery, PUBLISHED + timedelta(hours=1)
        )
    )
    return ids, pv, battery


def test_battery_site_kpis(store):
    ids, pv, battery = _battery_site(store)
    row = site_kpis(store, ids["building"]["id"], DAY, NEXT_DAY).row(0, named=True)
    # independent computation in Python, 15-minute events, MW
    net = [(b - p) / 1000 for b, p in zip(battery, pv, strict=True)]
    price = [TOY_PRICES[i // 4] for i in range(96)]
    cost = sum(n * 0.25 * c for n, c in zip(net, price, strict=True))  # production paid alike
    baseline = sum(-p / 1000 * 0.25 * c for p, c in zip(pv, price, strict=True))
    sold = [max(-n, 0) for n in net]
    self_used = sum(max(min(p / 1000, p / 1000 - s), 0) for p, s in zip(pv, sold, strict=True))
    assert row["cost"] == pytest.approx(cost)
    assert row["baseline_cost"] == pytest.approx(baseline)
    assert row["savings"] == pytest.approx(0.225 * (12 + 13 - 5 - 4))  # = 3.60 EUR
    assert row["equivalent_full_cycles"] == pytest.approx(1.0)  # 0.9 MWh through 450 kWh
    assert row["pv_production_mwh"] == pytest.approx(sum(TOY_PV_KW) / 1000)
    assert row["self_consumption_ratio"] == pytest.approx(self_used / (sum(pv) / 1000))
    assert 0 < row["self_consumption_ratio"] < 1
    assert row["energy_sold_mwh"] == pytest.approx(sum(sold) * 0.25)
    assert row["peak_consumption_mw"] == pytest.approx(max(net))
    assert row["baseline_peak_consumption_mw"] == pytest.approx(0.0)


def test_days_follow_the_site_timezone_across_dst(store):
    """25 October 2026 in Amsterdam has 25 hours: 100 quarter hours in one local day."""
    site = store.add_asset(
        "dst site",
        "building",
        None,
        timezone="Europe/Amsterdam",
        flex_context={"consumption-price": "80 EUR/MWh"},
    )
    meter = store.add_sensor("grid meter", "kW", Q, asset_id=site.id)
    store.update_asset(site.id, attributes={"kpis": {"site-power": {"sensor": meter.id}}})
    start = datetime(2026, 10, 24, tzinfo=AMS)
    end = datetime(2026, 10, 27, tzinfo=AMS)
    n = int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 900)  # 292
    src = store.get_or_create_source("meter", type="user")
    store.save_beliefs(beliefs(meter.id, src.id, start, Q, [100.0] * n))
    kpis = site_kpis(store, site.id, start, end)
    assert kpis["day"].to_list() == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    assert kpis["n_events"].to_list() == [96, 100, 96]
    assert kpis["cost"].to_list() == pytest.approx([192.0, 200.0, 192.0])  # 0.1 MW × h × 80
    assert kpis["savings"].to_list() == pytest.approx([0.0, 0.0, 0.0])  # no flexible devices


def test_no_data_no_rows_and_missing_prices_give_no_cost(store):
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "INFLEXIBLE")
    later = NEXT_DAY + timedelta(days=10)
    assert site_kpis(store, ids["building"], later, later + timedelta(days=1)).height == 0
    store.delete_beliefs(ids["price"], DAY + timedelta(hours=5), DAY + timedelta(hours=6))
    row = site_kpis(store, ids["building"], DAY, NEXT_DAY).row(0, named=True)
    assert row["cost"] is None and row["savings"] is None  # not zeros
    assert row["energy_bought_mwh"] == pytest.approx(0.8)


def test_site_spec_errors_name_the_site(store):
    site = store.add_asset("no price", "building", None)
    dev = store.add_asset("battery", "battery", None, parent_id=site.id)
    power = store.add_sensor("power", "kW", Q, asset_id=dev.id)
    store.update_asset(dev.id, flex_model={"sensor": power.id, "soc-max": "100 kWh"})
    store.update_asset(site.id, flex_context={"site-power-capacity": "1 MW"})
    assert find_sites(store) == [site.id]
    with pytest.raises(
        ReportError, match=f"site {site.id} \\(no price\\) has no 'consumption-price'"
    ):
        site_spec(store, site.id)
    hourly = store.add_sensor("hourly price", "EUR/MWh", timedelta(minutes=20))
    store.update_asset(site.id, flex_context={"consumption-price": {"sensor": hourly.id}})
    with pytest.raises(ReportError, match="PT20M, not a multiple of the site's finest power"):
        site_spec(store, site.id)


def test_views_are_created_idempotently_and_answer(store):
    ids = toy_process_site(store)
    schedule(store, ids["power"], "SHIFTABLE")
    cost = store.add_sensor("process cost", "EUR", Q)
    profit_loss(
        store,
        {"power": {"sensor": ids["power"]}, "consumption-price": {"sensor": ids["price"]}},
        DAY,
        NEXT_DAY,
        output_sensor_id=cost.id,
    )
    assert ensure_views(store) == VIEW_NAMES
    assert ensure_views(store) == VIEW_NAMES  # again: no error, same views
    sched = store.query(
        "SELECT count(*) AS n, sum(event_value) AS kw_sum, min(source_model) AS model FROM schedules "
        "WHERE sensor_id = ?",
        [ids["power"]],
    )
    assert sched.row(0) == (96, pytest.approx(200.0 * 16), "ProcessScheduler")
    fc = store.query("SELECT count(*), min(belief_horizon_h), max(belief_horizon_h) FROM forecasts")
    assert fc.row(0)[0] == 96 and fc.row(0)[1] < fc.row(0)[2]
    rep = store.query(
        "SELECT sum(event_value), min(reporter_model) FROM report_values WHERE sensor_id = ?",
        [cost.id],
    )
    assert rep.row(0) == (pytest.approx(5.40), "ProfitLossReporter")
    tl = store.query(
        "SELECT event_start, consumption_price, site_power_kw, devices_power_kw, pv_production_kw "
        "FROM site_timeline WHERE site_id = ? ORDER BY event_start",
        [ids["building"]],
    )
    assert tl.height == 96
    assert tl["consumption_price"].to_list() == [float(TOY_PRICES[i // 4]) for i in range(96)]
    assert tl["pv_production_kw"].to_list() == pytest.approx([TOY_PV_KW[i // 4] for i in range(96)])
    noon = tl.row(11 * 4, named=True)  # 11:00 local
    assert noon["site_power_kw"] == pytest.approx(200.0 - 210.0)  # process runs 11–15, PV 210 kW
    latest = store.query("SELECT count(*) FROM latest_beliefs WHERE sensor_id = ?", [cost.id])
    assert latest.row(0)[0] == 96


def test_corrected_values_count_once_with_their_latest_belief(store):
    """A meter value corrected later: two beliefs for one event; KPIs use the latest only."""
    site = store.add_asset(
        "metered",
        "building",
        None,
        timezone="Europe/Amsterdam",
        flex_context={"consumption-price": "100 EUR/MWh"},
    )
    meter = store.add_sensor("grid meter", "kW", Q, asset_id=site.id)
    store.update_asset(site.id, attributes={"kpis": {"site-power": {"sensor": meter.id}}})
    src = store.get_or_create_source("meter", type="user")
    store.save_beliefs(beliefs(meter.id, src.id, DAY, Q, [100.0] * 96))
    fix = beliefs(
        meter.id, src.id, DAY + timedelta(hours=6), Q, [500.0] * 4, PUBLISHED + timedelta(days=2)
    )
    store.save_beliefs(fix)
    row = site_kpis(store, site.id, DAY, NEXT_DAY).row(0, named=True)
    assert row["n_events"] == 96
    assert row["energy_bought_mwh"] == pytest.approx((92 * 0.1 + 4 * 0.5) * 0.25)
    assert row["peak_consumption_mw"] == pytest.approx(0.5)
    before = site_kpis(store, site.id, DAY, NEXT_DAY, as_of=PUBLISHED + timedelta(days=1))
    assert before.row(0, named=True)["peak_consumption_mw"] == pytest.approx(0.1)
    ensure_views(store)
    tl = store.query(
        "SELECT count(*), max(site_power_kw) FROM site_timeline WHERE site_id = ?", [site.id]
    )
    assert tl.row(0) == (96, pytest.approx(500.0))


def test_kpi_totals_over_days(store):
    site = store.add_asset(
        "two days",
        "building",
        None,
        timezone="Europe/Amsterdam",
        flex_context={"consumption-price": "50 EUR/MWh"},
    )
    meter = store.add_sensor("grid meter", "kW", Q, asset_id=site.id)
    store.update_asset(site.id, attributes={"kpis": {"site-power": {"sensor": meter.id}}})
    src = store.get_or_create_source("meter", type="user")
    store.save_beliefs(beliefs(meter.id, src.id, DAY, Q, [200.0] * 96 + [400.0] * 96))
    totals = kpi_totals(site_kpis(store, site.id, DAY, NEXT_DAY + timedelta(days=1)))
    assert totals["days"] == 2 and totals["n_events"] == 192
    assert totals["energy_bought_mwh"] == pytest.approx(4.8 + 9.6)
    assert totals["cost"] == pytest.approx((4.8 + 9.6) * 50)
    assert totals["savings"] == pytest.approx(0.0)
    assert totals["peak_consumption_mw"] == pytest.approx(0.4)
    assert totals["self_consumption_ratio"] is None and totals["equivalent_full_cycles"] is None


def test_site_spec_reads_flexmeasures_inflexible_fields(store):
    site = store.add_asset("fm site", "building", None)
    load = store.add_sensor("load", "kW", Q, asset_id=site.id)
    pv = store.add_sensor("pv", "MW", Q, asset_id=site.id)
    store.update_asset(
        site.id,
        flex_context={
            "consumption-price": "80 EUR/MWh",
            "inflexible-consumption": {"sensor": load.id},
            "inflexible-production": [{"sensor": pv.id}],
        },
    )
    spec = site_spec(store, site.id)
    roles = {(c.sensor_id, c.role, c.factor) for c in spec.components}
    assert roles == {(load.id, "load", 0.001), (pv.id, "pv", 1.0)}  # PV: production positive, MW
    assert spec.fixed_consumption_price == 80.0 and spec.currency == "EUR"


def test_one_query_for_sites_of_one_and_of_several_sensors(store):
    """A metered site (read directly) and a battery site (pivoted) in one KPI query."""
    ids, _pv, _battery = _battery_site(store)
    site = store.add_asset(
        "metered",
        "building",
        None,
        timezone="Europe/Amsterdam",
        flex_context={"consumption-price": {"sensor": ids["price sensor"]["id"]}},
    )
    meter = store.add_sensor("grid meter", "kW", Q, asset_id=site.id)
    store.update_asset(site.id, attributes={"kpis": {"site-power": {"sensor": meter.id}}})
    src = store.get_or_create_source("meter", type="user")
    store.save_beliefs(beliefs(meter.id, src.id, DAY, Q, [100.0] * 96))
    both = site_kpis(store, [ids["building"]["id"], site.id], DAY, NEXT_DAY)
    alone = [site_kpis(store, i, DAY, NEXT_DAY) for i in (ids["building"]["id"], site.id)]
    assert both.height == 2
    for row, single in zip(both.iter_rows(named=True), alone, strict=True):
        assert row == pytest.approx(single.row(0, named=True))
    assert both.row(1, named=True)["cost"] == pytest.approx(
        sum(0.1 * 0.25 * p * 4 for p in TOY_PRICES)
    )


def test_costs_settle_at_published_prices_not_forecasts(store):
    """A price forecast believed at the same time as the published price (and by a source of
    a higher id) must not replace it: KPIs, profit-loss and charts use the published price."""
    ids = toy_process_site(store, with_pv=False)
    schedule(store, ids["power"], "INFLEXIBLE")
    fc = store.get_or_create_source("price forecaster", type="forecaster")
    store.save_beliefs(beliefs(ids["price"], fc.id, DAY, timedelta(hours=1), [1000.0] * 24))
    row = site_kpis(store, ids["building"], DAY, NEXT_DAY).row(0, named=True)
    assert row["cost"] == pytest.approx(9.60)  # INFLEXIBLE at the published prices
    pl_cost = profit_loss(
        store,
        {"power": {"sensor": ids["power"]}, "consumption-price": {"sensor": ids["price"]}},
        DAY,
        NEXT_DAY,
    )
    assert pl_cost.totals["total_cost_eur"] == pytest.approx(9.60)
    from flex_pipelines.reporting.charts import schedule_chart_data

    data = schedule_chart_data(store, ids["power"], DAY, NEXT_DAY)
    assert data["price"].max() == max(TOY_PRICES)
    # without the published price, the forecast is what there is
    store.delete_beliefs(ids["price"], source_ids=[store.get_source("day-ahead market").id])
    assert site_kpis(store, ids["building"], DAY, NEXT_DAY)["cost"][0] == pytest.approx(800.0)


def test_process_baseline_respects_its_time_restrictions(store):
    """Not allowed 00:00–02:00: the INFLEXIBLE baseline runs 02:00–06:00 (12, 15, 18, 17)."""
    ids = toy_process_site(store, with_pv=False)
    fm = store.get_asset(ids["process"]).flex_model
    forbid = [{"start": DAY.isoformat(), "duration": "PT2H"}]
    store.update_asset(ids["process"], flex_model={**fm, "time-restrictions": forbid})
    schedule(store, ids["power"], "SHIFTABLE")  # 11:00–15:00 as before: 5.40 EUR
    row = site_kpis(store, ids["building"], DAY, NEXT_DAY).row(0, named=True)
    assert row["cost"] == pytest.approx(5.40)
    assert row["baseline_cost"] == pytest.approx(0.2 * (12 + 15 + 18 + 17))
    assert row["savings"] == pytest.approx(12.40 - 5.40)
