"""Charts: PNGs that render (real matplotlib), Vega-Lite specs with the data inlined."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from flex_pipelines.reporting import ReportError
from flex_pipelines.reporting.charts import (
    cost_chart_png,
    cost_chart_vega,
    png_markdown,
    schedule_chart_data,
    schedule_chart_png,
    schedule_chart_vega,
)
from flex_pipelines.reporting.kpis import site_kpis
from tests.unit.test_report_helpers import DAY, NEXT_DAY, PUBLISHED, TOY_PRICES, beliefs
from tests.unit.test_report_kpis import _battery_site

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def battery(tmp_path):
    from flex_pipelines.beliefs import open_store

    store = open_store(tmp_path / "charts.duckdb")
    ids, _pv, battery = _battery_site(store)
    soc = [225.0]
    for p in battery[:-1]:
        soc.append(soc[-1] + p * 0.25)
    src = store.get_or_create_source("storage scheduler", type="scheduler")
    store.save_beliefs(
        beliefs(
            ids["soc sensor"]["id"],
            src.id,
            DAY,
            timedelta(minutes=15),
            soc,
            PUBLISHED + timedelta(hours=1),
        )
    )
    yield store, ids, battery, soc
    store.close()


def test_schedule_chart_data_finds_price_and_soc(battery):
    store, ids, power, soc = battery
    data = schedule_chart_data(store, ids["power sensor"]["id"], DAY, NEXT_DAY)
    assert data.columns == ["event_start", "power_kw", "price", "soc_kwh"]
    assert data.height == 96
    assert data["power_kw"].to_list() == power
    assert data["price"].to_list() == [float(TOY_PRICES[i // 4]) for i in range(96)]
    assert data["soc_kwh"].to_list() == soc


def test_schedule_chart_png_and_vega(battery, tmp_path):
    store, ids, *_ = battery
    data = schedule_chart_data(store, ids["power sensor"]["id"], DAY, NEXT_DAY)
    path = tmp_path / "out" / "schedule.png"
    png = schedule_chart_png(data, path, title="toy battery", timezone="Europe/Amsterdam")
    assert path.read_bytes() == png and png.startswith(PNG_MAGIC) and len(png) > 20_000
    spec = schedule_chart_vega(data, title="toy battery")
    assert spec["$schema"].endswith("vega-lite/v5.json")
    assert len(spec["vconcat"]) == 3  # price, power, SoC
    assert len(spec["data"]["values"]) == 96
    json.dumps(spec)  # serialisable as Dagster JSON metadata
    assert png_markdown(png).startswith("![chart](data:image/png;base64,iVBOR")


def test_cost_chart(battery, tmp_path):
    store, ids, *_ = battery
    kpis = site_kpis(store, ids["building"]["id"], DAY, NEXT_DAY)
    png = cost_chart_png(kpis, tmp_path / "cost.png", title="toy building")
    assert png.startswith(PNG_MAGIC)
    spec = cost_chart_vega(kpis)
    kinds = {v["kind"] for v in spec["data"]["values"]}
    assert kinds == {"cost", "baseline cost"}


def test_empty_charts_are_refused(battery):
    store, ids, *_ = battery
    later = NEXT_DAY + timedelta(days=5)
    data = schedule_chart_data(store, ids["power sensor"]["id"], later, later + timedelta(days=1))
    assert data.is_empty()
    with pytest.raises(ReportError, match="no schedule values to chart"):
        schedule_chart_png(data)
    with pytest.raises(ReportError, match="no costs to chart"):
        cost_chart_png(site_kpis(store, ids["building"]["id"], later, later + timedelta(days=1)))
