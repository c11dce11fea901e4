"""The hard limits the asset checks compare saved schedules with (scheduling/limits.py), as the
parsers read them: a soft capacity's hard limit is the power-capacity; inflexible devices and
group entries have no schedule of their own."""

from __future__ import annotations

import numpy as np

from flex_pipelines.scheduling.grid import make_grid
from flex_pipelines.scheduling.limits import schedule_limits


def test_limits_of_soft_capacities_groups_and_inflexible_entries():
    grid = make_grid("2026-01-02T00:00+01:00", "PT1H", duration="PT4H")
    fms = [
        {
            "sensor": 1,
            "soc-min": "0 MWh",
            "soc-max": "1 MWh",
            "power-capacity": "0.5 MW",
            "consumption-capacity": "0.2 MW",
            "group": {"sensor": 5},
        },
        {"sensor": 2, "inflexible-consumption": "0.1 MW", "group": {"sensor": 5}},
        {"sensor": 5, "power-capacity": "0.4 MW"},
    ]
    fc = {"consumption-breach-price": "100 EUR/kW", "site-power-capacity": "1 MW"}
    limits = schedule_limits(fms, fc, grid)
    assert [d.power_sensor_id for d in limits.devices] == [1]
    np.testing.assert_allclose(limits.devices[0].max_consumption_mw, 0.5)  # soft 0.2 within 0.5
    hard = schedule_limits(fms, {"site-power-capacity": "1 MW"}, grid)
    np.testing.assert_allclose(hard.devices[0].max_consumption_mw, 0.2)
    np.testing.assert_allclose(limits.max_consumption_mw, 1.0)
