"""FlexMeasures' toy account, rebuilt: a building with a battery (or a process) and prices.

Values as in FlexMeasures' tutorial: the building's flex-context has ``site-power-capacity``
500 kVA and the day-ahead price sensor as ``consumption-price``; the battery's flex-model has
``soc-max`` 450 kWh, ``soc-min`` 50 kWh, ``power-capacity`` 500 kVA and
``roundtrip-efficiency`` 90 %; the process draws 200 kW for 4 hours. A device's flex-model
names its power sensor under ``"sensor"`` (as in FlexMeasures' multi-device flex-models).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flex_pipelines.beliefs import BeliefStore, KnowledgeHorizon

TZ = "Europe/Amsterdam"
TOY_USER = "toy-user@flexmeasures.io"


def _find(store: BeliefStore, name: str, account_id: int | None) -> Any:
    for a in store.list_assets():
        if a.name == name and a.account_id == account_id:
            return a
    return None


def _sensor(store: BeliefStore, asset_id: int, name: str, **kw: Any):  # noqa: ANN202
    for s in store.list_sensors(asset_id=asset_id):
        if s.name == name:
            return s
    return store.add_sensor(name, asset_id=asset_id, **kw)


def create_toy_account(
    store: BeliefStore, kind: str = "battery", name: str = "Toy Account"
) -> dict[str, dict[str, Any]]:
    """Create (or find, when run again) the toy account; returns what it holds by role."""
    if kind not in ("battery", "process"):
        from flex_pipelines.errors import FlexPipelinesError

        raise FlexPipelinesError(f"--kind {kind!r} is not one of battery, process")
    with store.transaction():
        try:
            account = store.get_account(name)
        except LookupError:
            account = store.add_account(name)
        if not store.list_users(account.id):
            store.add_user(
                account.id,
                TOY_USER if name == "Toy Account" else f"user@{name}",
                roles=["account-admin"],
            )
        market = _find(store, "NL transmission zone", None) or store.add_asset(
            "NL transmission zone", "transmission zone", None, timezone=TZ
        )
        price = _sensor(
            store,
            market.id,
            "day-ahead prices",
            unit="EUR/MWh",
            event_resolution=timedelta(hours=1),
            timezone=TZ,
            knowledge_horizon=KnowledgeHorizon("day_ahead", hour=12),
        )
        building = _find(store, "toy-building", account.id) or store.add_asset(
            "toy-building",
            "building",
            account.id,
            latitude=52.374,
            longitude=4.88969,
            timezone=TZ,
            flex_context={
                "site-power-capacity": "500 kVA",
                "consumption-price": {"sensor": price.id},
            },
        )
        made: dict[str, dict[str, Any]] = {
            "account": {"id": account.id, "name": account.name},
            "market": {"id": market.id, "name": market.name},
            "price sensor": {"id": price.id, "name": price.name},
            "building": {"id": building.id, "name": building.name},
        }
        solar = _find(store, "toy-solar", account.id) or store.add_asset(
            "toy-solar", "solar", account.id, parent_id=building.id, timezone=TZ
        )
        pv = _sensor(
            store,
            solar.id,
            "production",
            unit="kW",
            event_resolution=timedelta(minutes=15),
            timezone=TZ,
        )
        made["solar"] = {"id": solar.id, "name": solar.name}
        made["pv sensor"] = {"id": pv.id, "name": pv.name}
        if kind == "battery":
            battery = _find(store, "toy-battery", account.id) or store.add_asset(
                "toy-battery", "battery", account.id, parent_id=building.id, timezone=TZ
            )
            power = _sensor(
                store,
                battery.id,
                "discharging",
                unit="kW",
                event_resolution=timedelta(minutes=15),
                timezone=TZ,
            )
            soc = _sensor(
                store,
                battery.id,
                "state of charge",
                unit="kWh",
                event_resolution=timedelta(0),
                timezone=TZ,
            )
            store.update_asset(
                battery.id,
                flex_model={
                    "sensor": power.id,
                    "state-of-charge": {"sensor": soc.id},
                    "soc-max": "450 kWh",
                    "soc-min": "50 kWh",
                    "power-capacity": "500 kVA",
                    "roundtrip-efficiency": "90%",
                },
            )
            made["battery"] = {"id": battery.id, "name": battery.name}
            made["power sensor"] = {"id": power.id, "name": power.name}
            made["soc sensor"] = {"id": soc.id, "name": soc.name}
        else:
            process = _find(store, "toy-process", account.id) or store.add_asset(
                "toy-process", "process", account.id, parent_id=building.id, timezone=TZ
            )
            power = _sensor(
                store,
                process.id,
                "Power (Load)",
                unit="kW",
                event_resolution=timedelta(minutes=15),
                timezone=TZ,
            )
            store.update_asset(
                process.id,
                flex_model={
                    "sensor": power.id,
                    "power": "200 kW",
                    "duration": "PT4H",
                    "process-type": "SHIFTABLE",
                },
            )
            made["process"] = {"id": process.id, "name": process.name}
            made["power sensor"] = {"id": power.id, "name": power.name}
    return made
