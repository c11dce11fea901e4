"""The scenarios of a risk-aware schedule from the belief store: which sensors are uncertain, their
paths as known at the viewpoint, and the problem's inputs per scenario.

The uncertain inputs are the sensors the flex-context and the flex-models read as prices
(``consumption-price``, ``production-price``) and as inflexible power (``inflexible-consumption``,
``inflexible-production``, ``inflexible-device-sensors``). For each that has quantile forecasts
(:func:`~flex_pipelines.forecasting.scenarios.scenario_paths`) the problem is parsed once per
scenario with that scenario's values in place of the point forecast; all other inputs (and every
event that is measured or published) are the deterministic schedule's. Parsing through the same
resolver keeps every unit, resampling and sign rule in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.forecasting.scenarios import ScenarioPaths, scenario_paths
from flex_pipelines.scheduling.fields import RawSeries, SensorResolver
from flex_pipelines.scheduling.flex_context import RiskSettings
from flex_pipelines.scheduling.grid import TimeGrid
from flex_pipelines.scheduling.problem import Scenarios, SchedulingProblem
from flex_pipelines.scheduling.references import flex_references

__all__ = [
    "POWER_FIELDS",
    "PRICE_FIELDS",
    "UNCERTAIN_FIELDS",
    "attach_scenarios",
    "uncertain_sensors",
]

#: the fields whose sensors are read as prices (uncertain, any sign)
PRICE_FIELDS = (
    "consumption-price",
    "production-price",
    "consumption-price-sensor",
    "production-price-sensor",
)
#: the fields whose sensors are read as inflexible power (uncertain)
POWER_FIELDS = ("inflexible-consumption", "inflexible-production", "inflexible-device-sensors")
UNCERTAIN_FIELDS = PRICE_FIELDS + POWER_FIELDS


def uncertain_sensors(
    flex_models: Sequence[Mapping[str, Any]], flex_context: Mapping[str, Any]
) -> dict[int, str]:
    """The sensors read as prices or inflexible power → ``"price"`` or ``"power"``, in order of
    first mention (the top-level flex-context's and the flex-models' inflexible entries; other
    commodities' prices are certain). A sensor read both ways counts as a price (any sign)."""
    top = {k: v for k, v in flex_context.items() if k != "commodities"}
    out: dict[int, str] = {}
    for ref in flex_references(list(flex_models), top):
        if ref.role != "read":
            continue
        name = ref.field.split(".", 1)[1] if "." in ref.field else ref.field
        name = name.split("[", 1)[0].split(".", 1)[0]
        if name in PRICE_FIELDS:
            out[ref.sensor_id] = "price"
        elif name in POWER_FIELDS:
            out.setdefault(ref.sensor_id, "power")
    return out


def _cached(resolver: SensorResolver) -> SensorResolver:
    """The same resolver, reading each (sensor, window, source types) once."""

    @cache
    def read(sensor_id: int, start: datetime, end: datetime, types: tuple | None) -> RawSeries:
        return resolver(sensor_id, start, end, types)

    def resolve(sensor_id, start, end, source_types=None) -> RawSeries:
        return read(sensor_id, start, end, tuple(source_types) if source_types else None)

    return resolve


def _scenario_resolver(
    base: SensorResolver, paths: Mapping[int, ScenarioPaths], k: int
) -> SensorResolver:
    """``base`` with scenario ``k``'s values at the events the paths cover."""

    def resolve(sensor_id, start, end, source_types=None) -> RawSeries:
        raw = base(sensor_id, start, end, source_types)
        sp = paths.get(sensor_id)
        if sp is None or source_types:
            return raw
        q0 = np.datetime64(raw.start.astimezone(UTC).replace(tzinfo=None), "us")
        idx = (sp.event_starts - q0) // np.timedelta64(raw.resolution)
        ok = (idx >= 0) & (idx < raw.values.size)
        values = raw.values.copy()
        values[idx[ok].astype(np.int64)] = sp.values[k][ok]
        return RawSeries(raw.start, raw.resolution, raw.unit, values)

    return resolve


def attach_scenarios(
    store: BeliefStore,
    problem: SchedulingProblem,
    build: Callable[[SensorResolver], SchedulingProblem],
    resolver: SensorResolver,
    grid: TimeGrid,
    flex_models: Sequence[Mapping[str, Any]],
    flex_context: Mapping[str, Any],
    risk: RiskSettings,
    as_of: datetime | None,
) -> list[str]:
    """Set ``problem.scenarios`` from the store's quantile forecasts as known ``as_of``.

    ``build(resolver)`` parses the problem with a resolver (the caller's
    :func:`~.assembly.build_problem` call). Returns notes for the run record: which sensors were
    uncertain, over how many events, with which lead-time correlation; when no input has
    quantile forecasts the problem has one scenario, the point forecast (and the note says so).
    """
    viewpoint = as_of or datetime.now(UTC)
    paths: dict[int, ScenarioPaths] = {}
    for sid, role in uncertain_sensors(flex_models, flex_context).items():
        sp = scenario_paths(
            store,
            sid,
            grid.start,
            grid.end,
            viewpoint,
            risk.scenarios,
            seed=risk.seed,
            nonnegative=role == "power",
        )
        if sp is not None:
            paths[sid] = sp
    notes = [
        f"risk-aware: sensor {sid}: {sp.event_starts.size} events from quantile forecasts, "
        f"lead-time correlation {sp.rho:.2f}"
        + (f" ({sp.n_pairs} past residual pairs)" if sp.n_pairs >= 30 else " (default)")
        for sid, sp in paths.items()
    ]
    if not paths:
        notes.append(
            "risk-aware: no price or inflexible-power sensor has quantile forecasts known at "
            f"{viewpoint.isoformat()}; one scenario, the point forecast"
        )
    S = risk.scenarios if paths else 1  # S equal scenarios would give the same schedule
    cached = _cached(resolver)
    sites = [
        build(_scenario_resolver(cached, paths, k)).site if paths else problem.site
        for k in range(S)
    ]
    problem.scenarios = Scenarios(
        np.stack([s.consumption_price for s in sites]),
        np.stack([s.production_price for s in sites]),
        np.stack([s.inflexible_mw for s in sites]),
        np.full(S, 1.0 / S),
        risk.risk_aversion,
        risk.cvar_alpha,
    )
    return notes
