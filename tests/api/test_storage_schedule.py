"""The toy battery scheduled over the API by the official client (needs the storage scheduler)."""

from __future__ import annotations

import pytest

from flex_pipelines.api.runners import storage_scheduler
from tests.api.test_client import client, run
from tests.api.test_jobs import DAY, PRICES

pytestmark = pytest.mark.skipif(
    storage_scheduler() is None,
    reason="flex_pipelines.scheduling has no store-integrated schedule_storage yet",
)


def test_client_schedules_the_toy_battery(server):
    async def go():
        admin, bob = client(server, "admin"), client(server, "bob")
        try:
            await admin.post_sensor_data(server.ids["price_sensor"], start=DAY, duration="P1D", values=PRICES, unit="EUR/MWh", prior="2026-01-05T12:00:00+01:00")  # fmt: skip
            return await bob.trigger_and_get_schedule(
                start=DAY, duration="P1D", sensor_id=server.ids["power_sensor"],
                flex_model={"soc-at-start": "225 kWh"}, unit="kW",
            )  # fmt: skip
        finally:
            await admin.close()
            await bob.close()

    schedule = run(go())
    values = schedule["values"]
    assert len(values) == 96 and schedule["unit"] == "kW"
    cheapest, dearest = PRICES.index(min(PRICES)), PRICES.index(max(PRICES))
    at_cheap, at_dear = values[cheapest * 4], values[dearest * 4]
    assert at_cheap * at_dear < 0  # charges when cheap, discharges when dear
    assert max(abs(v) for v in values) <= 500 + 1e-6
