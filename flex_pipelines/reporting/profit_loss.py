"""Profit/loss: the cost of a power (or energy) series under consumption and production prices.

Per event, with power in MW (consumption positive), prices in currency/MWh and the event
length in hours::

    cost = max(power_mw, 0) * hours * consumption_price - max(-power_mw, 0) * hours * production_price

so 200 kW during 15 minutes at 10 EUR/MWh costs 0.2 × 0.25 × 10 = 0.50 EUR. With
``loss-is-positive`` (the default, as in FlexMeasures' ProfitOrLossReporter) a cost is positive
and a revenue negative; ``false`` flips the sign (profit positive).

Configuration (FlexMeasures-style field names)::

    {"power": {"sensor": 4},              # or "energy", a quantity "200 kW", or a time-ranged list
     "consumption-price": {"sensor": 1},  # or "80 EUR/MWh", or a time-ranged list
     "production-price": {"sensor": 2},   # optional; defaults to the consumption price
     "loss-is-positive": true,
     "consumption-is-positive": true,     # optional; default: the power sensor's attribute
                                          # ``consumption_is_positive``, else true
     "resolution": "PT15M"}               # optional; default: the power sensor's resolution

Resolutions: a coarser price (hourly) is repeated over the power events it covers (forward
fill within its hour); a finer price is met by splitting the power over the price steps, so the
cost stays exact; resolutions that are not multiples of each other are refused. Two prices in
different currencies are refused. Steps with power but no price are an error naming the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import ReportError, ReportResult
from flex_pipelines.reporting.common import (
    check_fields,
    config_resolution,
    finish,
    latest_belief_time,
)
from flex_pipelines.reporting.series import read_input, to_resolution
from flex_pipelines.time import format_duration
from flex_pipelines.units import UnitError, is_energy_unit, is_power_unit, is_price_unit

__all__ = ["profit_loss", "price_currency", "PROFIT_LOSS_FIELDS"]

PROFIT_LOSS_FIELDS = {
    "power",
    "energy",
    "consumption-price",
    "production-price",
    "loss-is-positive",
    "consumption-is-positive",
    "resolution",
}


def price_currency(unit: str, field: str) -> str:
    """The currency of a price unit (``"EUR/MWh"`` → ``"EUR"``); errors name the field."""
    try:
        ok = is_price_unit(unit) and "/" in unit
    except UnitError:
        ok = False
    if not ok:
        raise ReportError(
            f"{field} has unit {unit!r}, which is not a price per energy such as 'EUR/MWh'"
        )
    return unit.split("/", 1)[0].strip()


def _check_config(config: Mapping[str, Any]) -> None:
    check_fields(config, PROFIT_LOSS_FIELDS, "profit-loss")
    if ("power" in config) == ("energy" in config):
        raise ReportError("profit-loss config needs exactly one of 'power' or 'energy'")
    if "consumption-price" not in config:
        raise ReportError("profit-loss config lacks 'consumption-price'")


def profit_loss(
    store: BeliefStore,
    config: Mapping[str, Any],
    start: datetime,
    end: datetime,
    *,
    output_sensor_id: int | None = None,
    as_of: datetime | None = None,
    belief_time: datetime | None = None,
) -> ReportResult:
    """Cost (or profit) per event and in total for the window [start, end).

    :param config: see the module docstring.
    :param output_sensor_id: save the per-event costs there (unit: the price currency, e.g.
        ``EUR``; a coarser output sensor receives sums); None computes only.
    :param as_of: read inputs as known then.
    :returns: a :class:`ReportResult` in the price currency with totals ``cost`` (or
        ``profit``), ``energy_consumed_mwh``, ``energy_produced_mwh``; an empty report (with
        a note) when the window holds no power values.
    """
    _check_config(config)
    field = "power" if "power" in config else "energy"
    res_cfg = config_resolution(config)
    power = read_input(store, config[field], field, start, end, resolution=res_cfg, as_of=as_of)
    if not (is_power_unit(power.unit) or is_energy_unit(power.unit)):
        raise ReportError(
            f"{power.label} has unit {power.unit!r}; profit-loss needs power (kW, MW) or "
            f"energy per event (kWh, MWh)"
        )
    resolution = res_cfg or power.resolution
    if resolution <= timedelta(0):
        raise ReportError(
            f"{power.label} has no event resolution; set 'resolution' in the profit-loss config"
        )
    cons = read_input(
        store,
        config["consumption-price"],
        "consumption-price",
        start,
        end,
        resolution=resolution,
        as_of=as_of,
    )
    prod = cons
    if config.get("production-price") is not None:
        prod = read_input(
            store,
            config["production-price"],
            "production-price",
            start,
            end,
            resolution=resolution,
            as_of=as_of,
        )
    currency = price_currency(cons.unit, f"consumption-price {cons.label}")
    prod_currency = price_currency(prod.unit, f"production-price {prod.label}")
    if prod_currency != currency:
        raise ReportError(
            f"prices in different currencies: consumption-price {cons.label} is in {cons.unit!r} "
            f"but production-price {prod.label} is in {prod.unit!r}; convert one of them first"
        )
    power = to_resolution(power, resolution, start, end).converted("MW")
    if power.frame.is_empty():
        return ReportResult(
            "profit-loss",
            start,
            end,
            resolution,
            currency,
            power.frame,
            notes=[
                f"no power values for {power.label} in {start.isoformat()}–{end.isoformat()}: empty report"
            ],
        )

    sign_cp = config.get("consumption-is-positive")
    if sign_cp is None:
        sign_cp = (
            power.sensor.attributes.get("consumption_is_positive", True) if power.sensor else True
        )
    fine = min([resolution] + [p.resolution for p in (cons, prod) if p.resolution > timedelta(0)])
    for p in (cons, prod):
        own = p.resolution
        if own > timedelta(0) and (
            max(own, resolution).total_seconds() % min(own, resolution).total_seconds()
        ):
            raise ReportError(
                f"{p.name} {p.label} has resolution {format_duration(own)} and {power.label} "
                f"{format_duration(resolution)}: neither is a multiple of the other, refusing to "
                f"resample; give a price of a compatible resolution"
            )
    pw = to_resolution(power, fine, start, end).frame.rename({"value": "power_mw"})
    cp = to_resolution(cons.converted(f"{currency}/MWh"), fine, start, end).frame
    pp = to_resolution(prod.converted(f"{currency}/MWh"), fine, start, end).frame
    df = pw.join(cp.rename({"value": "cp"}), on="event_start", how="left").join(
        pp.rename({"value": "pp"}), on="event_start", how="left"
    )
    if not sign_cp:
        df = df.with_columns(-pl.col("power_mw"))
    for col, p in (("cp", cons), ("pp", prod)):
        missing = df.filter(pl.col(col).is_null())
        if missing.height:
            t0 = missing["event_start"].min()
            raise ReportError(
                f"{p.name} {p.label} has no price at {t0.isoformat()} "  # type: ignore[union-attr]
                f"({missing.height} of {df.height} {format_duration(fine)} steps with power lack "
                f"a price)"
            )
    hours = fine.total_seconds() / 3600.0
    df = df.with_columns(
        (pl.col("power_mw").clip(lower_bound=0) * hours).alias("consumed_mwh"),
        pl.when(pl.col("power_mw") < 0)
        .then(-pl.col("power_mw") * hours)
        .otherwise(0.0)
        .alias("produced_mwh"),
    ).with_columns(
        (pl.col("consumed_mwh") * pl.col("cp") - pl.col("produced_mwh") * pl.col("pp")).alias(
            "cost"
        )
    )
    loss_is_positive = bool(config.get("loss-is-positive", True))
    every = f"{int(resolution.total_seconds())}s"
    per_event = (
        df.sort("event_start")
        .group_by_dynamic("event_start", every=every)
        .agg(
            pl.col("power_mw").mean(),
            pl.col("cp").mean().alias("consumption_price"),
            pl.col("pp").mean().alias("production_price"),
            pl.col("consumed_mwh").sum(),
            pl.col("produced_mwh").sum(),
            pl.col("cost").sum(),
        )
        .with_columns((pl.col("cost") if loss_is_positive else -pl.col("cost")).alias("value"))
    )
    total = float(per_event["cost"].sum())
    label = "cost" if loss_is_positive else "profit"
    totals = {
        f"total_{label}_{currency.lower()}": total if loss_is_positive else -total,
        "energy_consumed_mwh": float(per_event["consumed_mwh"].sum()),
        "energy_produced_mwh": float(per_event["produced_mwh"].sum()),
    }
    result = ReportResult(
        "profit-loss",
        start,
        end,
        resolution,
        currency,
        per_event.select("event_start", "value"),
        totals=totals,
        input_belief_time=latest_belief_time((power, cons, prod)),
        extra=per_event.drop("cost").rename({"value": label}),
    )
    return finish(store, result, output_sensor_id, "ProfitLossReporter", config, belief_time)
