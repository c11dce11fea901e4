"""The demo site's real-data series and site builder."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from flex_pipelines.beliefs import open_store
from flex_pipelines.demo import (
    FIRST_DAY,
    LAST_DAY,
    LOAD_PEAK_KW,
    PV_PEAK_KW,
    build_demo_site,
    clear_sky_series,
    load_series,
    price_series,
    pv_series,
    write_inbox_files,
)


def test_series_are_utc_unique_and_scaled():
    for series, step in (
        (price_series(), 3600),
        (pv_series(), 900),
        (load_series(), 900),
        (clear_sky_series(), 900),
    ):
        assert series.schema["event_start"] == pl.Datetime("us", "UTC")
        assert series["event_start"].is_unique().all() and series["event_start"].is_sorted()
        assert (series["event_start"].dt.epoch("s") % step == 0).all()
        assert series["event_value"].null_count() == 0
    assert pv_series()["event_value"].max() == PV_PEAK_KW and pv_series()["event_value"].min() >= 0
    load = load_series()
    assert load["event_value"].max() == LOAD_PEAK_KW
    # 84 days of quarter hours, weekdays kept: Monday 4 July 2016 starts at local midnight (22:00 UTC)
    assert load.height == 84 * 96 and (LAST_DAY - FIRST_DAY).days == 83
    assert load["event_start"][0].isoformat() == "2016-07-03T22:00:00+00:00"
    # both quarter hours of a half hour carry the same value
    assert load["event_value"][0] == load["event_value"][1]


def test_price_series_handles_dst_days():
    p = price_series().with_columns(pl.col("event_start").dt.convert_time_zone("Europe/Brussels"))
    per_day = p.group_by(pl.col("event_start").dt.date()).len()
    counts = dict(zip(per_day["event_start"].to_list(), per_day["len"].to_list(), strict=True))
    from datetime import date

    assert counts[date(2016, 3, 27)] == 23  # spring: the 02:00 hour does not exist
    assert counts[date(2016, 10, 30)] == 24  # autumn: the repeated hour stored once
    assert counts[date(2016, 7, 1)] == 24


def test_build_demo_site_is_idempotent_and_writes_inbox_files(tmp_path):
    with open_store(tmp_path / "demo.duckdb") as store:
        ids = build_demo_site(store)
        assert build_demo_site(store) == ids
        site = store.get_asset(ids["site"])
        assert site.flex_context["consumption-price"] == {"sensor": ids["price"]}
        battery = store.get_asset(ids["battery"])
        assert battery.flex_model["sensor"] == ids["battery_power"] and battery.parent_id == site.id
        assert store.get_sensor(ids["price"]).knowledge_horizon.kind == "day_ahead"
        assert store.get_sensor(ids["battery_power"]).event_resolution == timedelta(minutes=15)
    files = write_inbox_files(ids, tmp_path / "inbox")
    assert {f.name.split("__")[0] for f in files} == {
        str(ids[k]) for k in ("price", "pv", "load", "clear_sky")
    }
    assert all(f.with_suffix(".json").exists() for f in files)
