"""Process scheduling on a real belief store (DuckDB and PostgreSQL, via the shared ``store_url``
fixture): hourly prices, 15-minute process sensor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.process_store import (
    PROCESS_SCHEDULER_SOURCE,
    schedule_process_for_sensor,
)
from tests.helpers import TOY_PRICES_EUR_PER_MWH

AMS = ZoneInfo("Europe/Amsterdam")
TOY_PRICES = TOY_PRICES_EUR_PER_MWH
DAY = datetime(2026, 11, 26, tzinfo=AMS)
PUBLISHED = datetime(2026, 11, 25, 12, tzinfo=UTC)  # day-ahead prices known the day before


def price_frame(sensor_id: int, source_id: int, day: datetime, prices, belief_time=PUBLISHED):
    starts = [(day.astimezone(UTC) + h * timedelta(hours=1)) for h in range(len(prices))]
    return pl.DataFrame(
        {
            "sensor_id": [sensor_id] * len(prices),
            "event_start": starts,
            "belief_time": [belief_time] * len(prices),
            "source_id": [source_id] * len(prices),
            "event_value": [float(p) for p in prices],
        }
    )


@pytest.fixture
def toy(store_url):
    store = open_store(store_url)
    acc = store.add_account("Toy Account")
    site = store.add_asset("toy-building", "building", acc.id, timezone="Europe/Amsterdam")
    proc = store.add_asset(
        "toy-process", "process", acc.id, parent_id=site.id, timezone="Europe/Amsterdam"
    )
    price = store.add_sensor(
        "day-ahead prices", "EUR/MWh", timedelta(hours=1), timezone="Europe/Amsterdam"
    )
    power = store.add_sensor(
        "process power", "kW", timedelta(minutes=15), timezone="Europe/Amsterdam", asset_id=proc.id
    )
    src = store.get_or_create_source("EPEX", type="market")
    store.save_beliefs(price_frame(price.id, src.id, DAY, TOY_PRICES))
    yield store, site, price, power
    store.close()


FORBID = [{"start": "2026-11-26T15:00:00+01:00", "duration": "PT1H"}]


@pytest.mark.parametrize(
    ("process_type", "cost"), [("INFLEXIBLE", 9.60), ("SHIFTABLE", 5.40), ("BREAKABLE", 4.30)]
)
def test_toy_costs_from_stored_prices_and_saved_schedule(toy, process_type, cost) -> None:
    store, _, price, power = toy
    fm = {
        "duration": "PT4H",
        "power": "200 kW",
        "process-type": process_type,
        "time-restrictions": FORBID,
    }
    run = schedule_process_for_sensor(
        store, power.id, DAY, "P1D", fm, consumption_price_sensor_id=price.id, as_of=PUBLISHED
    )
    assert run.schedule.n_steps == 96
    assert run.schedule.cost_eur == pytest.approx(cost)
    assert run.saved.n_new == 96
    # stored in kW, 16 quarter hours at 200 kW, believed at as_of by the process scheduler
    stored = store.search_beliefs(power.id, DAY, DAY + timedelta(days=1))
    assert stored.height == 96
    assert stored["event_value"].sum() == pytest.approx(16 * 200.0)
    assert set(stored["belief_time"].to_list()) == {PUBLISHED}
    source = store.get_source(int(stored["source_id"][0]))
    assert (source.name, source.type, source.model) == (
        PROCESS_SCHEDULER_SOURCE,
        "scheduler",
        "ProcessScheduler",
    )
    # the same request again changes nothing (idempotent)
    again = schedule_process_for_sensor(
        store, power.id, DAY, "P1D", fm, consumption_price_sensor_id=price.id, as_of=PUBLISHED
    )
    assert again.saved.n_new == 0


def test_hourly_prices_are_repeated_per_quarter_hour(toy) -> None:
    store, _, price, power = toy
    run = schedule_process_for_sensor(
        store,
        power.id,
        "2026-11-26T07:15:00",  # naive: the sensor's timezone; not on the hourly price grid
        "PT2H",
        {"duration": "PT15M", "power": "1 MW", "process-type": "BREAKABLE"},
        consumption_price_sensor_id=price.id,
        save=False,
    )
    assert run.prices_eur_per_mwh.tolist() == [9.0] * 3 + [9.5] * 4 + [9.0]
    assert run.schedule.block_starts[0] == datetime(2026, 11, 26, 7, 15, tzinfo=AMS)
    assert run.saved is None


def test_prices_not_yet_known_as_of_are_an_error_naming_the_time(toy) -> None:
    store, _, price, power = toy
    with pytest.raises(FlexPipelinesError) as exc:
        schedule_process_for_sensor(
            store,
            power.id,
            DAY,
            "P1D",
            {"duration": "PT4H", "power": "200 kW"},
            consumption_price_sensor_id=price.id,
            as_of=PUBLISHED - timedelta(hours=1),
        )
    msg = str(exc.value)
    assert "has no price as of 2026-11-25T11:00:00+00:00 at 2026-11-26T00:00:00+01:00" in msg
    assert "96 of 96 PT15M steps" in msg


def test_missing_hour_names_its_first_quarter(toy) -> None:
    store, _, price, power = toy
    with pytest.raises(FlexPipelinesError, match=r"no price at 2026-11-27T00:00:00\+01:00"):
        schedule_process_for_sensor(
            store,
            power.id,
            DAY,
            "P2D",
            {"duration": "PT4H", "power": "200 kW"},
            consumption_price_sensor_id=price.id,
        )


def test_price_from_the_site_flex_context_and_newer_prices_win(toy) -> None:
    store, site, price, power = toy
    store.update_asset(site.id, flex_context={"consumption-price": {"sensor": price.id}})
    src = store.get_or_create_source("EPEX", type="market")
    later = PUBLISHED + timedelta(hours=1)
    revised = list(TOY_PRICES)
    revised[2] = 1.0  # a cheaper hour published later
    store.save_beliefs(price_frame(price.id, src.id, DAY, revised, belief_time=later))
    fm = {"duration": "PT1H", "power": "1 MW", "process-type": "SHIFTABLE"}
    old = schedule_process_for_sensor(store, power.id, DAY, "P1D", fm, as_of=PUBLISHED, save=False)
    new = schedule_process_for_sensor(store, power.id, DAY, "P1D", fm, as_of=later, save=False)
    assert old.price_sensor.id == price.id
    assert old.schedule.block_starts[0].hour == 14 and old.schedule.cost_eur == pytest.approx(4.0)
    assert new.schedule.block_starts[0].hour == 2 and new.schedule.cost_eur == pytest.approx(1.0)


def test_fixed_price_in_the_flex_context(toy) -> None:
    store, _, _, power = toy
    run = schedule_process_for_sensor(
        store,
        power.id,
        DAY,
        "PT4H",
        {"duration": "PT1H", "power": "200 kW"},
        flex_context={"consumption-price": "0.1 EUR/kWh"},
        save=False,
    )
    assert run.schedule.cost_eur == pytest.approx(20.0)


def test_no_price_anywhere_is_an_error(toy) -> None:
    store, _, _, power = toy
    with pytest.raises(FlexPipelinesError, match="'consumption-price' is not set for sensor"):
        schedule_process_for_sensor(
            store, power.id, DAY, "P1D", {"duration": "PT1H", "power": "1 kW"}
        )


def test_dst_day_schedule_has_92_quarter_hours(toy) -> None:
    store, _, price, power = toy
    day = datetime(2026, 3, 29, tzinfo=AMS)
    src = store.get_or_create_source("EPEX", type="market")
    prices = [50.0] * 23
    prices[13] = 5.0  # 14:00 local (the 14th hour of a day that skips 02:00)
    store.save_beliefs(price_frame(price.id, src.id, day, prices))
    run = schedule_process_for_sensor(
        store,
        power.id,
        "2026-03-29T00:00:00",
        "P1D",
        {"duration": "PT1H", "power": "200 kW", "process-type": "SHIFTABLE"},
        consumption_price_sensor_id=price.id,
        as_of=PUBLISHED,
    )
    assert run.schedule.n_steps == 92
    assert run.schedule.block_starts[0] == datetime(2026, 3, 29, 14, tzinfo=AMS)
    assert run.saved.n_new == 92
    assert run.schedule.cost_eur == pytest.approx(1.0)


def test_bad_inputs_name_what_is_wrong(toy) -> None:
    store, _, price, power = toy
    fm = {"duration": "PT1H", "power": "1 kW"}
    with pytest.raises(FlexPipelinesError, match=r"not on the PT15M grid of sensor"):
        schedule_process_for_sensor(
            store, power.id, "2026-11-26T07:05:00", "PT1H", fm, consumption_price_sensor_id=price.id
        )
    with pytest.raises(FlexPipelinesError, match=r"has unit 'kW', not a price"):
        schedule_process_for_sensor(
            store, power.id, DAY, "PT1H", fm, consumption_price_sensor_id=power.id
        )
    with pytest.raises(FlexPipelinesError, match=r"'power' = '1 kWh': 'kWh' is an energy unit"):
        schedule_process_for_sensor(
            store,
            power.id,
            DAY,
            "PT1H",
            {"duration": "PT1H", "power": "1 kWh"},
            consumption_price_sensor_id=price.id,
        )


def test_bare_number_power_is_in_the_sensor_unit_and_saved_in_kwh(toy, tmp_path) -> None:
    store, _, price, _ = toy
    energy = store.add_sensor(
        "process energy", "kWh", timedelta(minutes=15), timezone="Europe/Amsterdam"
    )
    run = schedule_process_for_sensor(
        store,
        energy.id,
        DAY,
        "PT1H",
        {"duration": "PT30M", "power": "400 kW"},
        consumption_price_sensor_id=price.id,
        as_of=PUBLISHED,
    )
    assert np.allclose(run.values, [100.0, 100.0, 0.0, 0.0])  # 400 kW for 15 min = 100 kWh
    assert run.schedule.cost_eur == pytest.approx(0.4 * 0.5 * 10.0)


def test_stored_flex_model_is_the_default_and_request_fields_override_it(toy) -> None:
    store, _, price, power = toy
    store.update_asset(
        power.asset_id,
        flex_model=[
            {"sensor": power.id + 100, "duration": "PT8H", "power": "1 MW"},  # another device
            {
                "sensor": power.id,
                "duration": "PT4H",
                "power": "200 kW",
                "process-type": "SHIFTABLE",
            },
        ],
    )
    run = schedule_process_for_sensor(
        store, power.id, DAY, "P1D", consumption_price_sensor_id=price.id, save=False
    )
    assert run.schedule.cost_eur == pytest.approx(0.2 * (5 + 4 + 4 + 5.5))  # 13:00–17:00
    brk = schedule_process_for_sensor(
        store,
        power.id,
        DAY,
        "P1D",
        {"process-type": "BREAKABLE", "duration": "PT2H"},
        consumption_price_sensor_id=price.id,
        save=False,
    )
    assert brk.schedule.cost_eur == pytest.approx(0.2 * (4 + 4))


def test_prices_written_by_schedulers_are_ignored(toy) -> None:
    store, _, price, power = toy
    bot = store.get_or_create_source("some scheduler", type="scheduler")
    store.save_beliefs(
        price_frame(price.id, bot.id, DAY, [0.0] * 24, belief_time=PUBLISHED + timedelta(hours=2))
    )
    run = schedule_process_for_sensor(
        store,
        power.id,
        DAY,
        "P1D",
        {"duration": "PT1H", "power": "1 MW"},
        consumption_price_sensor_id=price.id,
        save=False,
    )
    assert run.schedule.cost_eur == pytest.approx(10.0)


def test_schedule_a_process_asset_from_its_stored_flex_model(toy) -> None:
    from flex_pipelines.scheduling.process_store import schedule_process_asset

    store, site, price, power = toy
    store.update_asset(site.id, flex_context={"consumption-price": {"sensor": price.id}})
    store.update_asset(
        power.asset_id,
        flex_model={
            "sensor": power.id,
            "duration": "PT4H",
            "power": "200 kW",
            "process-type": "BREAKABLE",
            "time-restrictions": FORBID,
        },
    )
    run = schedule_process_asset(store, power.asset_id, DAY, "P1D", as_of=PUBLISHED)
    assert run.schedule.cost_eur == pytest.approx(4.30)
    assert run.saved.n_new == 96
    with pytest.raises(FlexPipelinesError, match="is not a process flex-model"):
        schedule_process_asset(store, site.id, DAY, "P1D")


def test_time_ranged_price_list_in_the_flex_context(toy) -> None:
    store, _, _, power = toy
    fc = {
        "consumption-price": [
            {"start": "2026-11-26T00:00:00+01:00", "duration": "PT2H", "value": "50 EUR/MWh"},
            {"start": "2026-11-26T02:00:00+01:00", "duration": "PT2H", "value": "0.02 EUR/kWh"},
        ]
    }
    fm = {"duration": "PT1H", "power": "1 MW", "process-type": "SHIFTABLE"}
    run = schedule_process_for_sensor(store, power.id, DAY, "PT4H", fm, flex_context=fc, save=False)
    assert run.schedule.block_starts[0] == datetime(2026, 11, 26, 2, tzinfo=AMS)
    assert run.schedule.cost_eur == pytest.approx(20.0)
    with pytest.raises(FlexPipelinesError, match=r"gives no price at 2026-11-26T04:00:00\+01:00"):
        schedule_process_for_sensor(store, power.id, DAY, "PT5H", fm, flex_context=fc, save=False)
