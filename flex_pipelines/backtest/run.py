"""The backtest loop: every local day of a period, every variant, scheduled at the day's
viewpoint and settled at realised values.

Per day (in the site's timezone) the viewpoint is the day-ahead gate closure the day before
(:func:`flex_pipelines.pipeline.sites.day_ahead_viewpoint`, ``FLEXPIPE_GATE_CLOSURE`` or the
``gate_closure`` asked for). Each variant schedules the day through the one scheduling path
(``schedule_day``, handed in by :mod:`flex_pipelines.service.backtest`) on an
:class:`~flex_pipelines.backtest.inputs.InputView` of the store, and continues from the state of
charge its own schedule of the day before ended with (the pipeline's rule for consecutive
days). Every schedule is settled on the day's realised problem
(:mod:`flex_pipelines.backtest.settle`). A day on which some variant cannot be scheduled (no
forecasts stored, missing realised values, infeasible) is skipped for all variants with the
reason, so the totals compare the same days; the states of charge then restart from the
stored flex-models.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

import numpy as np

from flex_pipelines.backtest.inputs import InputView, Realised, SiteInputs
from flex_pipelines.backtest.results import BacktestDay, BacktestResult
from flex_pipelines.backtest.settle import (
    baseline_cost,
    over_limit_mwh,
    realised_cost,
    settlement_problem,
)
from flex_pipelines.backtest.variants import BacktestError, Variant
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.result import ScheduleResult
from flex_pipelines.sites import AssetTree
from flex_pipelines.time import day_window

__all__ = ["ScheduleDay", "backtest_days", "parse_day", "run_backtest"]

#: (view, variant, start, end, viewpoint, soc at start per power sensor) → the storage result
ScheduleDay = Callable[
    [InputView, Variant, datetime, datetime, datetime, dict[int, str] | None], ScheduleResult
]


def backtest_days(first: date, last: date) -> list[date]:
    """The local days ``first``..``last`` (inclusive); refuses an empty period."""
    if last < first:
        raise BacktestError(
            f"backtest period is empty: last day {last.isoformat()} is before the first "
            f"{first.isoformat()}"
        )
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def parse_day(value: str | date | datetime, field: str, timezone: str) -> date:
    """A local day from ``YYYY-MM-DD`` or a tz-aware datetime (its local date in ``timezone``).

    Raises
    ------
    BacktestError
        For naive datetimes and text that is neither, naming the field and the value.
    """
    from flex_pipelines.time import get_zone

    if isinstance(value, datetime):
        t = value
    elif isinstance(value, date):
        return value
    else:
        text = str(value).strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
        try:
            t = datetime.fromisoformat(text)
        except ValueError as exc:
            raise BacktestError(
                f"{field} = {text!r} is neither a day (YYYY-MM-DD) nor a datetime with offset"
            ) from exc
    if t.tzinfo is None or t.utcoffset() is None:
        raise BacktestError(
            f"{field} = {value!s} is a naive timestamp; give a day (YYYY-MM-DD) or a time with "
            f"an offset such as +01:00"
        )
    return t.astimezone(get_zone(timezone)).date()


def _forecaster_sources(store: BeliefStore, variants: Sequence[Variant]) -> dict[str, list[int]]:
    """Forecaster model name → its source ids, for the variants that name one (refused when
    the store has no forecaster of that model)."""
    models = {v.forecaster for v in variants if v.forecaster}
    if not models:
        return {}
    out: dict[str, list[int]] = {m: [] for m in models}
    for src in store.list_sources(["forecaster"]):
        if src.model in out:
            out[src.model].append(src.id)
    missing = sorted(m for m, ids in out.items() if not ids)
    if missing:
        known = sorted({s.model for s in store.list_sources(["forecaster"]) if s.model})
        raise BacktestError(
            f"forecaster {', '.join(map(repr, missing))}: no forecaster source of that model in "
            f"the store (models there: {', '.join(known) or 'none'})"
        )
    return out


def _end_soc(result: ScheduleResult) -> dict[int, str]:
    return {
        int(d.power_sensor): f"{float(d.soc_mwh[-1])} MWh"
        for d in result.devices
        if d.power_sensor is not None and d.soc_mwh is not None and len(d.soc_mwh)
    }


def run_backtest(
    store: BeliefStore,
    tree: AssetTree,
    inputs: SiteInputs,
    days: Sequence[date],
    variants: Sequence[Variant],
    schedule_day: ScheduleDay,
    *,
    gate_closure: str,
    progress: Callable[[int, int, date], None] | None = None,
    keep_schedules: bool = False,
) -> BacktestResult:
    """Backtest a site over local ``days`` (see the module docstring).

    Parameters
    ----------
    inputs
        The site and its price, load and PV sensors (:func:`~flex_pipelines.backtest.inputs.site_inputs`).
    variants
        Must include ``perfect`` (value capture is measured against it).
    schedule_day
        Schedules one variant-day and returns the storage scheduler's result (not saved).
    gate_closure
        ``HH:MM`` local time on the day before: each day's viewpoint.
    progress
        Called as ``progress(done, total, day)`` after each day.
    keep_schedules
        Keep each variant's device power (MW, devices summed) in ``BacktestDay.power_mw``.

    Returns
    -------
    BacktestResult
        Costs in the site's currency per day and variant, the baseline, skipped days.
    """
    from flex_pipelines.pipeline.sites import day_ahead_viewpoint

    if "perfect" not in [v.name for v in variants]:
        raise BacktestError("variants must include 'perfect' (value capture is measured by it)")
    site, tz = inputs.site, inputs.site.timezone
    if not days:
        raise BacktestError("backtest period is empty: no days")
    out = BacktestResult(
        site.id, site.name, days[0], days[-1], gate_closure, inputs.currency, list(variants)
    )
    t0 = time.perf_counter()
    first_start, _ = day_window(days[0], tz)
    _, last_end = day_window(days[-1], tz)
    realised = Realised(store, inputs.sensor_ids, first_start - timedelta(days=1), last_end)
    scope = site.scope()
    forecasters = _forecaster_sources(store, variants)
    soc: dict[str, dict[int, str] | None] = {v.name: None for v in variants}
    for k, day in enumerate(days):
        start, end = day_window(day, tz)
        vp = day_ahead_viewpoint(day, tz, gate_closure)

        def view(v: Variant, vp: datetime = vp) -> InputView:
            fc = forecasters.get(v.forecaster) if v.forecaster else None
            return InputView(store, tree, inputs, vp, realised, v.actual, v.naive, fc)

        perfect = next(v for v in variants if v.name == "perfect")
        try:
            problem = settlement_problem(view(perfect), scope, start, end, soc["perfect"])
            costs, solve_s, ends, over, kept = {}, {}, {}, {}, {}
            for v in variants:
                t1 = time.perf_counter()
                try:
                    res = schedule_day(view(v), v, start, end, vp, soc[v.name])
                except FlexPipelinesError as exc:
                    raise BacktestError(f"variant {v.name}: {exc}") from exc
                solve_s[v.name] = time.perf_counter() - t1
                costs[v.name] = realised_cost(problem, res)
                over[v.name] = over_limit_mwh(problem, res)
                if keep_schedules:
                    kept[v.name] = np.sum([d.power_mw for d in res.devices], axis=0)
                ends[v.name] = _end_soc(res)
            out.days.append(
                BacktestDay(day, vp, baseline_cost(problem), costs, solve_s, over, kept)
            )
            soc.update(ends)
        except FlexPipelinesError as exc:
            out.skipped.append((day, str(exc)))
            soc = {v.name: None for v in variants}
        if progress is not None:
            progress(k + 1, len(days), day)
    out.seconds = time.perf_counter() - t0
    return out
