"""Reading one flex-model or flex-context field into a numpy array on the problem's time grid.

A field takes one of these forms (FlexMeasures' value forms):

- a fixed quantity with a unit: ``"500 kW"``, ``"90%"``, ``"450 kWh"``, ``"100 EUR/MWh"``;
- a time-ranged list: ``[{"start": T, "end": T | "duration": D, "value": Q}, ...]``, or for SoC
  fields an instants list ``[{"datetime": T, "value": Q}, ...]``;
- a sensor reference ``{"sensor": id}``, resolved through a :class:`SensorResolver` (so this
  module knows nothing about the belief store);
- an inline series ``{"start": T, "resolution": "PT1H", "unit": "EUR/MWh", "values": [...]}``.

Flow fields (power, prices, capacities) give one value per step (length ``n_steps``); a coarser
series is forward-filled (hourly prices on 15-minute steps), a finer one averaged. Stock fields
(SoC constraints) give one value per instant (length ``n_steps + 1``, index 0 = start). Steps or
instants without a value are NaN. Overlapping list entries combine as the caller asks
(``min`` for capacities and maxima, ``max`` for minima, ``first`` otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.grid import SchedulingError, TimeGrid
from flex_pipelines.time import add_duration, parse_datetime, parse_timedelta
from flex_pipelines.units import Quantity, convert, parse_quantity

__all__ = [
    "RawSeries",
    "SensorResolver",
    "UnitContext",
    "field_series",
    "field_scalar",
    "is_series_form",
]


@dataclass(frozen=True)
class RawSeries:
    """Values at a regular resolution from ``start`` (NaN where unknown), in ``unit``."""

    start: datetime
    resolution: timedelta
    unit: str
    values: np.ndarray


class SensorResolver(Protocol):
    """Looks up a sensor's data for ``[start, end)``; the store adapter implements it."""

    def __call__(
        self,
        sensor_id: int,
        start: datetime,
        end: datetime,
        source_types: Sequence[str] | None = None,
    ) -> RawSeries: ...


@dataclass
class UnitContext:
    """Shared state while parsing one problem: the one currency all prices share."""

    currency: str | None = None
    resolver: SensorResolver | None = None
    notes: list[str] = field(default_factory=list)

    def price_unit(self, field_name: str, unit: str, per: str) -> str:
        """Target unit ``CUR/per`` for a price given in ``unit`` (checks one currency)."""
        cur = unit.split("/")[0].strip()
        if not cur or cur == unit.strip():
            raise SchedulingError(f"{field_name}: unit {unit!r} is not a price (e.g. EUR/{per})")
        if self.currency is None:
            self.currency = cur
        elif cur != self.currency:
            raise SchedulingError(
                f"{field_name}: prices in one problem share one currency; got {unit!r} "
                f"after {self.currency}"
            )
        return f"{cur}/{per}"


def _err(field_name: str, value: Any, why: str, at: str | None = None) -> SchedulingError:
    where = f" at {at}" if at else ""
    return SchedulingError(f"{field_name} {_show(value)}{where}: {why}")


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else repr(value)
    return text if len(text) < 120 else text[:117] + "..."


def is_series_form(value: Any) -> bool:
    return isinstance(value, list) or (isinstance(value, dict) and "values" in value)


def _quantity(field_name: str, value: Any, default_unit: str | None) -> Quantity:
    try:
        return parse_quantity(value, default_unit=default_unit)
    except FlexPipelinesError as exc:
        raise _err(field_name, value, str(exc)) from exc


def _convert_q(
    field_name: str, q: Quantity, unit: str, ctx: UnitContext, pct_base: float | None, when=None
) -> float:
    with np.errstate(over="ignore"):
        v = float(
            _convert(field_name, np.array([q.magnitude]), q.unit, unit, ctx, pct_base, when)[0]
        )
    if not math.isfinite(v):  # e.g. 1e308 GW in MW
        shown = f"{ctx.currency}/{unit[4:]}" if unit.startswith("CUR/") else unit
        raise _err(field_name, str(q), f"is not a finite number in {shown}", when)
    return v


def _refuse_non_finite(field_name: str, raw: RawSeries, values: np.ndarray, unit: str) -> None:
    """Refuse ±inf (given, stored or overflowing in ``unit``); NaN means "no value"."""
    bad = np.flatnonzero(np.isinf(values))
    if bad.size:
        i = int(bad[0])
        when = (raw.start + i * raw.resolution).isoformat(timespec="minutes")
        more = f" ({bad.size} such values)" if bad.size > 1 else ""
        what = "a finite number" if unit == raw.unit else f"a finite number in {unit}"
        raise _err(
            field_name,
            f"{raw.values[i]:g} {raw.unit}",
            f"is not {what}{more}; give a number or null (no value)",
            when,
        )


def _convert(
    field_name: str,
    values: np.ndarray,
    from_unit: str,
    unit: str,
    ctx: UnitContext,
    pct_base: float | None,
    when: str | None = None,
) -> np.ndarray:
    """Convert to ``unit``; ``CUR/x`` means a price in the problem's currency; % of pct_base."""
    if unit.startswith("CUR/"):
        try:
            unit = ctx.price_unit(field_name, from_unit, unit[4:])
        except SchedulingError as exc:
            shown = f"{values[0]:g} {from_unit}" if values.size else from_unit
            raise _err(field_name, shown, str(exc).removeprefix(f"{field_name}: "), when) from exc
    if pct_base is not None and from_unit.strip() == "%":
        if not math.isfinite(pct_base):
            raise _err(field_name, f"{values[0]:g}%", "a SoC in % needs soc-max in energy units")
        return values / 100.0 * pct_base
    try:
        return np.asarray(convert(values, from_unit, unit), dtype=float)
    except FlexPipelinesError as exc:
        shown = f"{values[0]:g} {from_unit}" if values.size else from_unit
        raise _err(field_name, shown, f"cannot be read as {unit}: {exc}", when) from exc


def field_scalar(
    field_name: str,
    value: Any,
    unit: str,
    ctx: UnitContext,
    *,
    default_unit: str | None = None,
    pct_base: float | None = None,
) -> float:
    """A fixed quantity (``"450 kWh"``, ``"90%"``) as a float in ``unit``."""
    if isinstance(value, dict | list):
        raise _err(field_name, value, "must be a fixed quantity such as '450 kWh'")
    q = _quantity(field_name, value, default_unit)
    return _convert_q(field_name, q, unit, ctx, pct_base)


def _parse_time(field_name: str, entry: Any, key: str) -> datetime:
    try:
        return parse_datetime(entry[key])
    except FlexPipelinesError as exc:
        raise _err(field_name, entry, f"{key}: {exc}") from exc


def _entry_window(field_name: str, entry: Any) -> tuple[datetime, datetime]:
    if not isinstance(entry, dict) or "value" not in entry:
        raise _err(field_name, entry, "each entry needs 'start' and 'end' or 'duration', 'value'")
    unknown = set(entry) - {"start", "end", "duration", "value", "datetime"}
    if unknown:
        raise _err(field_name, entry, f"unknown key(s) {sorted(unknown)}")
    if "datetime" in entry:
        t = _parse_time(field_name, entry, "datetime")
        return t, t
    if "start" not in entry:
        raise _err(field_name, entry, "entry has no 'start' (or 'datetime')")
    s = _parse_time(field_name, entry, "start")
    if "end" in entry:
        e = _parse_time(field_name, entry, "end")
    elif "duration" in entry:
        try:
            e = add_duration(s, entry["duration"])
        except FlexPipelinesError as exc:
            raise _err(field_name, entry, f"duration: {exc}") from exc
    else:
        raise _err(field_name, entry, "entry needs 'end' or 'duration'")
    if e < s:
        raise _err(field_name, entry, "end is before start")
    return s, e


def _combine(out: np.ndarray, mask: np.ndarray, val: float, how: str) -> None:
    cur = out[mask]
    if how == "first":
        out[mask] = np.where(np.isnan(cur), val, cur)
    elif how == "min":
        out[mask] = np.fmin(cur, val)
    elif how == "max":
        out[mask] = np.fmax(cur, val)
    elif how == "sum":
        out[mask] = np.where(np.isnan(cur), val, cur + val)
    else:  # pragma: no cover
        raise ValueError(how)


def _resample(
    field_name: str, raw: RawSeries, grid: TimeGrid, instant: bool, log_power: bool = False
) -> np.ndarray:
    """Put a regular series on the grid: forward fill when coarser, mean when finer."""
    r = raw.resolution.total_seconds()
    if r <= 0:
        raise _err(field_name, {"resolution": str(raw.resolution)}, "resolution must be positive")
    vals = np.asarray(raw.values, dtype=float)
    s0 = raw.start.timestamp()
    times = grid.instants_s() if instant else grid.step_starts_s()
    step = grid.resolution.total_seconds()
    if instant or r >= step:
        idx = np.floor((times - s0) / r + 1e-9).astype(np.int64)
        ok = (idx >= 0) & (idx < vals.size)
        out = np.full(times.size, np.nan)
        out[ok] = vals[idx[ok]]
        if log_power:
            out = out * (step / r)
        return out
    k = step / r
    if abs(k - round(k)) > 1e-9:
        raise _err(
            field_name, str(raw.resolution), f"does not divide the step of {grid.resolution}"
        )
    k = int(round(k))
    a = np.round((times - s0) / r).astype(np.int64)
    ok = (a >= 0) & (a + k <= vals.size)
    cs = np.concatenate([[0.0], np.cumsum(np.nan_to_num(vals, nan=np.nan))])
    out = np.full(times.size, np.nan)
    out[ok] = (cs[a[ok] + k] - cs[a[ok]]) / k
    if log_power:
        out = out * k
    return out


def field_series(
    field_name: str,
    value: Any,
    grid: TimeGrid,
    unit: str,
    ctx: UnitContext,
    *,
    instant: bool = False,
    combine: str = "first",
    default_unit: str | None = None,
    pct_base: float | None = None,
    per_step_exponent: bool = False,
) -> np.ndarray:
    """Read a field in any value form into an array on the grid (NaN where not given).

    ``unit`` is the engine unit (``MW``, ``MWh``, ``dimensionless``, ``CUR/MWh`` for a price
    in the problem's currency). ``per_step_exponent`` converts a per-resolution efficiency of a
    series to the grid step (``eff ** (step / resolution)``), as for ``storage-efficiency``.
    """
    n = grid.n_steps + 1 if instant else grid.n_steps
    out = np.full(n, np.nan)
    if value is None:
        return out
    if isinstance(value, dict) and "sensor" in value:
        unknown = set(value) - {"sensor", "source-types", "sources"}
        if unknown:
            raise _err(field_name, value, f"unknown key(s) {sorted(unknown)} in a sensor reference")
        if ctx.resolver is None:
            raise _err(
                field_name,
                value,
                "a sensor reference needs a belief store; inline the series instead "
                '({"start", "resolution", "unit", "values"})',
            )
        sid = value["sensor"]
        if not isinstance(sid, int) or isinstance(sid, bool):
            raise _err(field_name, value, "sensor must be an integer id")
        end = grid.end + grid.resolution if instant else grid.end
        raw = ctx.resolver(sid, grid.start, end, value.get("source-types"))
        return _series_to_grid(
            field_name, raw, grid, unit, ctx, instant, pct_base, per_step_exponent
        )
    if isinstance(value, dict) and "values" in value:
        unknown = set(value) - {"start", "resolution", "unit", "values"}
        missing = {"start", "resolution", "unit"} - set(value)
        if unknown or missing:
            raise _err(
                field_name, value, "an inline series has exactly start, resolution, unit, values"
            )
        try:
            raw = RawSeries(
                start=parse_datetime(value["start"]),
                resolution=parse_timedelta(value["resolution"]),
                unit=str(value["unit"]),
                values=np.array(
                    [np.nan if v is None else float(v) for v in value["values"]], dtype=float
                ),
            )
        except (FlexPipelinesError, TypeError, ValueError) as exc:
            raise _err(field_name, value, f"cannot read inline series: {exc}") from exc
        return _series_to_grid(
            field_name, raw, grid, unit, ctx, instant, pct_base, per_step_exponent
        )
    if isinstance(value, list):
        for entry in value:
            s, e = _entry_window(field_name, entry)
            q = _quantity(field_name, entry["value"], default_unit)
            v = _convert_q(field_name, q, unit, ctx, pct_base, grid.fmt(s))
            if instant:
                ts = grid.instants_s()
                mask = (ts >= s.timestamp() - 1e-6) & (ts <= e.timestamp() + 1e-6)
                if s == e and not mask.any() and grid.start <= s <= grid.end:
                    raise _err(
                        field_name,
                        entry["value"],
                        f"is not on the {grid.resolution} grid of the schedule",
                        grid.fmt(s),
                    )
            else:
                ts = grid.step_starts_s()
                step = grid.resolution.total_seconds()
                mask = (ts < e.timestamp()) & (ts + step > s.timestamp())
            _combine(out, mask, v, combine)
        return out
    q = _quantity(field_name, value, default_unit)
    v = _convert_q(field_name, q, unit, ctx, pct_base)
    out[1 if instant else 0 :] = v
    return out


def _series_to_grid(
    field_name: str,
    raw: RawSeries,
    grid: TimeGrid,
    unit: str,
    ctx: UnitContext,
    instant: bool,
    pct_base: float | None,
    per_step_exponent: bool,
) -> np.ndarray:
    vals = np.asarray(raw.values, dtype=float)
    _refuse_non_finite(field_name, raw, vals, raw.unit)
    if vals.size:
        with np.errstate(over="ignore"):
            vals = _convert(field_name, vals, raw.unit, unit, ctx, pct_base)
        shown = f"{ctx.currency}/{unit[4:]}" if unit.startswith("CUR/") else unit
        _refuse_non_finite(field_name, raw, vals, shown)
    conv = RawSeries(raw.start, raw.resolution, unit, vals)
    if per_step_exponent:
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = RawSeries(raw.start, raw.resolution, unit, np.log(np.clip(vals, 1e-300, None)))
        return np.exp(_resample(field_name, logs, grid, instant, log_power=True))
    return _resample(field_name, conv, grid, instant)


def sum_components(
    field_name: str,
    value: Any,
    grid: TimeGrid,
    unit: str,
    ctx: UnitContext,
    **kw: Any,
) -> np.ndarray:
    """``soc-usage``/``soc-gain``: a list of components (each a field value), summed.

    A list whose entries carry ``value`` is one time-ranged component; missing values count 0.
    """
    if value is None:
        return np.zeros(grid.n_steps)
    comps: Sequence[Any]
    if isinstance(value, list) and not (
        value and isinstance(value[0], dict) and "value" in value[0]
    ):
        comps = value
    else:
        comps = [value]
    total = np.zeros(grid.n_steps)
    for comp in comps:
        total += np.nan_to_num(field_series(field_name, comp, grid, unit, ctx, **kw), nan=0.0)
    return total
