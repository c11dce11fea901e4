"""Pure helpers of the pipeline: sites and their inputs, and re-optimisation targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flex_pipelines.beliefs import Asset, Ingestion, open_store
from flex_pipelines.demo import build_demo_site
from flex_pipelines.pipeline import Site, list_sites, reopt_targets
from flex_pipelines.sites import Device


def _site(site_id: int, ctx: dict, devices: list[dict], forecast_ids: tuple[int, ...] = ()) -> Site:
    def asset(i: int, fm: dict) -> Asset:
        return Asset(id=i, name=f"a{i}", type="x", account_id=1, parent_id=site_id, flex_model=fm)

    site = Asset(id=site_id, name="site", type="building", account_id=1, flex_context=ctx)
    devs = tuple(Device(asset(100 + k, fm), fm) for k, fm in enumerate(devices))
    return Site(site, devs, ctx, (site,), forecast_ids=forecast_ids)


def _ing(i: int, sensor: int, start: datetime, hours: int) -> Ingestion:
    return Ingestion(i, sensor, hours, start, start + timedelta(hours=hours), start)


@pytest.mark.parametrize(
    ("ctx", "devices", "expected"),
    [
        ({"consumption-price": {"sensor": 1}}, [{"sensor": 9}], {1}),
        (
            {"consumption-price": {"sensor": 1}, "production-price": {"sensor": 2}},
            [{"sensor": 9}],
            {1, 2},
        ),
        (
            {"consumption-price": "80 EUR/MWh", "inflexible-device-sensors": [3, 4]},
            [{"sensor": 9}],
            {3, 4},
        ),
        (
            {"inflexible-consumption": [{"sensor": 5}], "inflexible-production": [{"sensor": 6}]},
            [{"sensor": 9, "state-of-charge": {"sensor": 10}}],
            {5, 6, 10},
        ),
    ],
)
def test_inputs_of_a_site_are_prices_loads_and_soc_not_the_schedule(
    ctx: dict, devices: list[dict], expected: set[int]
) -> None:
    site = _site(1, ctx, devices)
    assert site.input_sensor_ids() == expected
    assert 9 not in site.input_sensor_ids()


def test_reopt_targets_map_ingestions_to_local_days_and_sites() -> None:
    a = _site(1, {"consumption-price": {"sensor": 1}}, [{"sensor": 9}])
    b = _site(
        2, {"consumption-price": {"sensor": 1}, "inflexible-device-sensors": [5]}, [{"sensor": 8}]
    )
    midnight = datetime(2024, 3, 30, 23, tzinfo=UTC)  # 31 March 00:00 in Amsterdam (a 23-hour day)
    targets = reopt_targets(
        [a, b],
        [
            _ing(7, 1, midnight, 23),
            _ing(8, 5, midnight + timedelta(hours=23), 1),
            _ing(9, 9, midnight, 24),
        ],
    )
    assert targets == {"2024-03-31": {1: 7, 2: 7}, "2024-04-01": {2: 8}}


def test_list_sites_finds_the_demo_site_with_its_battery_and_forecast_inputs(tmp_path) -> None:
    with open_store(tmp_path / "s.duckdb") as s:
        ids = build_demo_site(s)
        [site] = list_sites(s)
    assert site.id == ids["site"]
    assert [d.id for d in site.devices] == [ids["battery"]]
    assert site.input_sensor_ids() == {ids["price"], ids["load"], ids["pv"], ids["battery_soc"]}
    assert set(site.forecast_ids) == {ids["load"], ids["pv"]}
