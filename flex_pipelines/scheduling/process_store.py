"""Process scheduling against the belief store: read prices, schedule, save the schedule as beliefs.

The edges of :func:`~flex_pipelines.scheduling.process.schedule_process`:

- prices come from a consumption-price sensor (what was known ``as_of``, one value per event),
  converted to EUR/MWh and brought to the power sensor's resolution (a coarser price, e.g.
  hourly, repeats over each of its quarter hours; a finer one is averaged);
- the schedule (MW, consumption positive) is converted to the power sensor's unit and saved as
  beliefs of the source "FlexPipelines process scheduler" (type scheduler), believed at
  ``as_of`` when given, else now. Re-running with the same ``as_of`` changes nothing.

The price may also be given in a flex-context (``consumption-price``: a sensor reference
``{"sensor": 7}``, or any form the storage scheduler reads: a fixed price ``"80 EUR/MWh"``, a
time-ranged list, an inline series); without one the flex-contexts of the power sensor's asset
and its ancestors are searched, nearest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import SaveResult, Sensor, Source
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.process import ProcessSchedule, schedule_process
from flex_pipelines.scheduling.process_model import is_process_flex_model, parse_process_flex_model
from flex_pipelines.time import (
    TimeError,
    add_duration,
    format_duration,
    get_zone,
    is_on_tick,
    n_steps,
    parse_datetime,
)
from flex_pipelines.units import (
    UnitError,
    convert,
    is_energy_unit,
    is_power_unit,
    is_price_unit,
)

__all__ = [
    "PROCESS_SCHEDULER_SOURCE",
    "PROCESS_SCHEDULER_VERSION",
    "ProcessRun",
    "schedule_process_for_sensor",
    "schedule_process_asset",
    "is_process_flex_model",
    "read_prices_eur_per_mwh",
    "stored_process_flex_model",
]

PROCESS_SCHEDULER_SOURCE = "FlexPipelines process scheduler"
PROCESS_SCHEDULER_VERSION = "1"


@dataclass(frozen=True)
class ProcessRun:
    """A process schedule made from stored prices (and saved, unless ``save=False``)."""

    schedule: ProcessSchedule
    sensor: Sensor
    price_sensor: Sensor | None  # None for a fixed price
    prices_eur_per_mwh: np.ndarray
    values: np.ndarray  # the schedule in the sensor's unit
    belief_time: datetime
    source: Source | None
    saved: SaveResult | None

    def to_record(self) -> dict[str, Any]:
        rec = self.schedule.to_record()
        rec.update(
            sensor_id=self.sensor.id,
            unit=self.sensor.unit,
            consumption_price_sensor_id=self.price_sensor.id if self.price_sensor else None,
            belief_time=self.belief_time,
            source_id=self.source.id if self.source else None,
            n_new_beliefs=self.saved.n_new if self.saved else 0,
        )
        return rec

    def rows(self) -> list[dict[str, Any]]:
        """One row per step: time (sensor's timezone), price, power (MW), value (sensor unit)."""
        tz = get_zone(self.sensor.timezone)
        return [
            {
                "event_start": t.astimezone(tz),
                "price_eur_per_mwh": float(p),
                "power_mw": float(mw),
                f"value_{self.sensor.unit}": float(v),
            }
            for t, p, mw, v in zip(
                self.schedule.event_starts(),
                self.prices_eur_per_mwh,
                self.schedule.power_mw,
                self.values,
                strict=True,
            )
        ]


def _consumption_price_from_context(
    store: BeliefStore, sensor: Sensor, flex_context: Mapping[str, Any] | None
) -> Any:
    from flex_pipelines.scheduling.flex_context import upgrade_flex_context

    flex_context = upgrade_flex_context(flex_context)
    if flex_context and flex_context.get("consumption-price") is not None:
        return flex_context["consumption-price"]
    if sensor.asset_id is not None:
        from flex_pipelines.sites import AssetTree

        merged = upgrade_flex_context(AssetTree.load(store).merged_flex_context(sensor.asset_id))
        if merged and merged.get("consumption-price") is not None:
            return merged["consumption-price"]
    raise FlexPipelinesError(
        f"flex-context field 'consumption-price' is not set for sensor {sensor.id} "
        f"({sensor.name}) nor on its asset or their ancestors; give a price sensor"
    )


def stored_process_flex_model(store: BeliefStore, sensor: Sensor) -> dict[str, Any]:
    """The process flex-model stored on the sensor's asset (``{}`` when there is none).

    An asset's ``flex_model`` describes its device when its ``"sensor"`` is this sensor (or names
    no sensor); a list of flex-models (one per device) is searched for this sensor.
    """
    if sensor.asset_id is None:
        return {}
    stored: Any = store.get_asset(sensor.asset_id).flex_model or {}
    entries = stored if isinstance(stored, list) else [stored]
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("sensor", sensor.id) == sensor.id:
            return {k: v for k, v in entry.items() if k != "sensor"}
    return {}


def read_prices_eur_per_mwh(
    store: BeliefStore,
    price_sensor: Sensor,
    start: datetime,
    n: int,
    resolution: timedelta,
    as_of: datetime | None = None,
) -> np.ndarray:
    """Prices (EUR/MWh) for ``n`` steps of ``resolution`` from ``start``, as known ``as_of``.

    A coarser price sensor repeats each value over the steps it covers (forward fill within its
    event); a finer one is averaged per step. A step without a price is an error naming the time.
    """
    if not is_price_unit(price_sensor.unit):
        raise UnitError(
            f"consumption-price sensor {price_sensor.id} ({price_sensor.name}) has unit "
            f"{price_sensor.unit!r}, not a price such as 'EUR/MWh'"
        )
    try:
        factor = float(convert(1.0, price_sensor.unit, "EUR/MWh"))
    except UnitError as exc:
        raise UnitError(
            f"consumption-price sensor {price_sensor.id} ({price_sensor.name}): unit "
            f"{price_sensor.unit!r} cannot be converted to EUR/MWh"
        ) from exc
    start_utc = start.astimezone(UTC)
    end_utc = start_utc + n * resolution
    own = price_sensor.event_resolution
    q_start = start_utc
    if own > resolution:
        # the price event covering ``start`` may begin before it (hourly price, 07:15 start)
        q_start = start_utc - own + resolution
    frame = store.search_beliefs(
        price_sensor.id,
        q_start,
        end_utc,
        as_of=as_of,
        exclude_source_types=["scheduler"],
        one_per_event=True,
        resolution=resolution if own not in (resolution, timedelta(0)) else None,
    )
    prices = np.full(n, np.nan)
    if not frame.is_empty():
        step_us = int(resolution.total_seconds() * 1_000_000)
        offs = frame["event_start"].dt.epoch("us").to_numpy() - int(start_utc.timestamp() * 1e6)
        idx = offs // step_us
        ok = (offs % step_us == 0) & (idx >= 0) & (idx < n)
        prices[idx[ok]] = frame["event_value"].to_numpy()[ok] * factor
    missing = np.flatnonzero(~np.isfinite(prices))
    if missing.size:
        first = (start_utc + int(missing[0]) * resolution).astimezone(start.tzinfo)
        known = f" as of {as_of.isoformat()}" if as_of else ""
        raise FlexPipelinesError(
            f"consumption-price sensor {price_sensor.id} ({price_sensor.name}) has no price"
            f"{known} at {first.isoformat()} ({missing.size} of {n} "
            f"{format_duration(resolution)} steps without a price)"
        )
    return prices


def _inline_prices(value: Any, start: datetime, n: int, resolution: timedelta) -> np.ndarray:
    """A price given in the flex-context without a sensor, in any of the storage scheduler's
    value forms (a fixed price, a time-ranged list, an inline series), in EUR/MWh per step."""
    from flex_pipelines.scheduling.fields import UnitContext, field_series
    from flex_pipelines.scheduling.grid import TimeGrid

    grid = TimeGrid(start=start.astimezone(UTC), resolution=resolution, n_steps=n)
    try:
        prices = field_series("consumption-price", value, grid, "EUR/MWh", UnitContext())
    except FlexPipelinesError as exc:
        raise FlexPipelinesError(
            f"flex-context field 'consumption-price': {exc}; give a sensor reference such as "
            f"{{'sensor': 7}} or a price such as '80 EUR/MWh'"
        ) from exc
    missing = np.flatnonzero(~np.isfinite(prices))
    if missing.size:
        first = (start.astimezone(UTC) + int(missing[0]) * resolution).astimezone(start.tzinfo)
        raise FlexPipelinesError(
            f"flex-context field 'consumption-price' = {value!r} gives no price at "
            f"{first.isoformat()} ({missing.size} of {n} steps without a price)"
        )
    return prices


def _sensor_values(power_mw: np.ndarray, sensor: Sensor) -> np.ndarray:
    if is_power_unit(sensor.unit) or is_energy_unit(sensor.unit):
        return np.asarray(
            convert(power_mw, "MW", sensor.unit, resolution=sensor.event_resolution), dtype=float
        )
    raise UnitError(
        f"process sensor {sensor.id} ({sensor.name}) has unit {sensor.unit!r}; a process "
        f"schedule needs a power (kW, MW) or energy-per-step (kWh) sensor"
    )


def schedule_process_for_sensor(
    store: BeliefStore,
    sensor_id: int,
    start: datetime | str,
    duration: str | timedelta,
    flex_model: Mapping[str, Any] | None = None,
    *,
    consumption_price_sensor_id: int | None = None,
    flex_context: Mapping[str, Any] | None = None,
    as_of: datetime | str | None = None,
    save: bool = True,
    duration_rounding: str = "up",
) -> ProcessRun:
    """Schedule a process on its power sensor from stored prices and save the schedule.

    :param sensor_id: the process power sensor (its resolution is the schedule's resolution).
    :param start: window start (tz-aware, or naive in the sensor's timezone), on the sensor grid.
    :param duration: window length, ISO 8601 (``P1D`` is a local calendar day, DST-safe).
    :param flex_model: the process flex-model (FlexMeasures field names); its fields override
        those stored on the sensor's asset (see :func:`stored_process_flex_model`).
    :param consumption_price_sensor_id: the price sensor; else ``flex_context`` /
        the asset's flex-context ``consumption-price``.
    :param as_of: read prices as known then, and believe the schedule at that time
        (default: now, rounded down to the second).
    :param save: store the schedule as beliefs (False: compute only).
    """
    sensor = store.get_sensor(sensor_id)
    resolution = sensor.event_resolution
    if resolution <= timedelta(0):
        raise FlexPipelinesError(
            f"process sensor {sensor.id} ({sensor.name}) has no event resolution; a schedule "
            f"needs steps"
        )
    start_dt = parse_datetime(start, timezone=sensor.timezone)
    if not is_on_tick(start_dt, resolution):
        raise TimeError(
            f"start {start_dt.isoformat()} is not on the {format_duration(resolution)} grid "
            f"of sensor {sensor.id} ({sensor.name})"
        )
    end_dt = add_duration(start_dt, duration)
    n = n_steps(start_dt, end_dt, resolution)
    as_of_dt = parse_datetime(as_of, timezone=sensor.timezone) if as_of is not None else None
    belief_time = (as_of_dt or datetime.now(UTC)).astimezone(UTC)
    if as_of_dt is None:
        belief_time = belief_time.replace(microsecond=0)

    merged = {**stored_process_flex_model(store, sensor), **(flex_model or {})}
    fm = parse_process_flex_model(
        merged,
        timezone=sensor.timezone,
        default_power_unit=sensor.unit if is_power_unit(sensor.unit) else None,
    )

    price_sensor: Sensor | None = None
    if consumption_price_sensor_id is not None:
        price_sensor = store.get_sensor(consumption_price_sensor_id)
    else:
        ref = _consumption_price_from_context(store, sensor, flex_context)
        if isinstance(ref, Mapping) and "sensor" in ref:
            price_sensor = store.get_sensor(int(ref["sensor"]))
    if price_sensor is not None:
        prices = read_prices_eur_per_mwh(store, price_sensor, start_dt, n, resolution, as_of_dt)
    else:
        prices = _inline_prices(ref, start_dt, n, resolution)

    schedule = schedule_process(
        prices, start_dt, resolution, fm, duration_rounding=duration_rounding
    )
    values = _sensor_values(schedule.power_mw, sensor)
    source = saved = None
    if save:
        source = store.get_or_create_source(
            name=PROCESS_SCHEDULER_SOURCE,
            type="scheduler",
            model="ProcessScheduler",
            version=PROCESS_SCHEDULER_VERSION,
        )
        start_utc = start_dt.astimezone(UTC)
        frame = pl.DataFrame(
            {
                "sensor_id": pl.Series([sensor.id] * n, dtype=pl.Int64),
                "event_start": pl.datetime_range(
                    start_utc,
                    start_utc + (n - 1) * resolution,
                    interval=f"{int(resolution.total_seconds())}s",
                    time_unit="us",
                    time_zone="UTC",
                    eager=True,
                ),
                "belief_time": pl.Series([belief_time] * n, dtype=pl.Datetime("us", "UTC")),
                "source_id": pl.Series([source.id] * n, dtype=pl.Int64),
                "cumulative_probability": pl.Series([0.5] * n, dtype=pl.Float64),
                "event_value": pl.Series(values, dtype=pl.Float64),
            }
        )
        saved = store.save_beliefs(frame)
    return ProcessRun(
        schedule=schedule,
        sensor=sensor,
        price_sensor=price_sensor,
        prices_eur_per_mwh=prices,
        values=values,
        belief_time=belief_time,
        source=source,
        saved=saved,
    )


def schedule_process_asset(
    store: BeliefStore,
    asset_id: int,
    start: datetime | str,
    duration: str | timedelta,
    *,
    as_of: datetime | str | None = None,
    flex_context: Mapping[str, Any] | None = None,
    save: bool = True,
) -> ProcessRun:
    """Schedule the process asset whose stored flex-model names its power sensor.

    The asset's ``flex_model`` must be a process flex-model with ``"sensor"`` (see
    ``docs/conventions.md``); prices come from the flex-context (request, then the asset and
    its ancestors).
    """
    asset = store.get_asset(asset_id)
    fm = asset.flex_model
    if not is_process_flex_model(fm) or "sensor" not in fm:
        raise FlexPipelinesError(
            f"asset {asset.id} ({asset.name}) flex-model {fm!r} is not a process flex-model "
            f"with a 'sensor' and a 'process-type'"
        )
    return schedule_process_for_sensor(
        store,
        int(fm["sensor"]),
        start,
        duration,
        flex_context=flex_context,
        as_of=as_of,
        save=save,
    )
