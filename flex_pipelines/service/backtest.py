"""Backtest a site: the use case behind ``flexpipe backtest`` and the Dagster ``backtests`` asset.

:func:`backtest` resolves the site (the site model's), checks the caller may schedule it (the
same check as :func:`~flex_pipelines.service.schedule.prepare_schedule`: read every input,
write every output), and runs :func:`flex_pipelines.backtest.run.run_backtest` with the one
scheduling path: each variant-day is :func:`~flex_pipelines.service.schedule.schedule` on the
variant's view of the store, as of the day's viewpoint, storage devices only, not saved; a
variant-day whose inputs have gaps as seen from the viewpoint
(:func:`~flex_pipelines.service.schedule.input_gaps`) is not scheduled (the day is skipped). The
result is saved in ``backtest_runs``/``backtest_days`` unless ``save=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from flex_pipelines.backtest.inputs import InputView, site_inputs
from flex_pipelines.backtest.results import BacktestResult
from flex_pipelines.backtest.run import backtest_days, parse_day, run_backtest
from flex_pipelines.backtest.variants import BacktestError, Variant, parse_variants
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.scheduling.result import ScheduleResult
from flex_pipelines.service.access import Caller
from flex_pipelines.service.schedule import (
    MissingInputsError,
    SchedulePlan,
    input_gaps,
    prepare_schedule,
    schedule,
)
from flex_pipelines.sites import AssetTree

__all__ = ["backtest", "backtest_sites"]


def _plan(caller: Caller, store: BeliefStore, tree: AssetTree, site_id: int, v: Variant) -> Any:
    plan = prepare_schedule(
        caller, store, asset_id=site_id, flex_context=dict(v.flex_context) or None, tree=tree
    )
    scopes = tuple(sc for sc in plan.scopes if sc.site is not None and sc.site.id == site_id)
    return SchedulePlan(scopes)


def backtest(
    caller: Caller,
    store: BeliefStore,
    site_id: int,
    first: str | date | datetime,
    last: str | date | datetime,
    *,
    variants: str | Sequence[str | Variant] | None = None,
    gate_closure: str | None = None,
    save: bool = True,
    progress: Callable[[int, int, date], None] | None = None,
    keep_schedules: bool = False,
) -> BacktestResult:
    """Backtest ``site_id`` over local days ``first``..``last`` (inclusive).

    Parameters
    ----------
    caller
        Who asks: must be allowed to schedule the site.
    first, last
        Local days (``YYYY-MM-DD``, or tz-aware datetimes: their local day at the site).
    variants
        Variant names (:data:`~flex_pipelines.backtest.variants.VARIANTS`; default
        :data:`~flex_pipelines.backtest.variants.DEFAULT_VARIANTS`) or own
        :class:`~flex_pipelines.backtest.variants.Variant` objects; ``perfect`` is added.
    gate_closure
        ``HH:MM`` local on the day before: the viewpoint (default ``FLEXPIPE_GATE_CLOSURE``).
    save
        Save the result in ``backtest_runs``/``backtest_days`` (sets ``result.run_id``).
    progress
        ``progress(done, total, day)`` after each day.
    keep_schedules
        Keep each variant's device power per day (``BacktestDay.power_mw``, MW).

    Raises
    ------
    BacktestError
        Unknown site or variant, an empty period, naive timestamps, a site with processes.
    AccessDenied
        When the caller may not schedule the site.
    """
    from flex_pipelines.settings import _hhmm, code_location_settings

    tree = AssetTree.load(store)
    try:
        site = tree.site(int(site_id))
    except (FlexPipelinesError, LookupError, KeyError) as exc:
        raise BacktestError(f"site {site_id}: {exc}") from exc
    if not site.devices_of_kind("storage"):
        raise BacktestError(f"site {site.id} ({site.name}) has no storage device to backtest")
    procs = site.devices_of_kind("process")
    if procs:
        raise BacktestError(
            f"site {site.id} ({site.name}) has process devices ({', '.join(d.name for d in procs)});"
            f" backtests settle storage devices only"
        )
    chosen = parse_variants(variants)
    try:
        gate = _hhmm("gate_closure", gate_closure or code_location_settings().gate_closure)
    except ValueError as exc:
        raise BacktestError(str(exc)) from exc
    days = backtest_days(
        parse_day(first, "from", site.timezone), parse_day(last, "to", site.timezone)
    )
    plans = {v.name: _plan(caller, store, tree, site.id, v) for v in chosen}

    def schedule_day(
        view: InputView,
        v: Variant,
        start: datetime,
        end: datetime,
        viewpoint: datetime,
        soc: dict[int, str] | None,
    ) -> ScheduleResult:
        gap = input_gaps(view, site, start, end)  # type: ignore[arg-type]
        if gap:  # the scheduler would read a missing load as zero: not what was known
            raise MissingInputsError(f"{gap} as known at {viewpoint.isoformat()}")
        records = schedule(
            caller,
            view,  # type: ignore[arg-type]
            start,
            end,
            as_of=viewpoint,
            kinds=("storage",),
            soc_at_start=soc,
            save=False,
            plan=plans[v.name],
        )
        return records[0].runs[0].result.result

    inputs = site_inputs(store, site, tree)
    result = run_backtest(
        store,
        tree,
        inputs,
        days,
        chosen,
        schedule_day,
        gate_closure=gate,
        progress=progress,
        keep_schedules=keep_schedules,
    )
    if save:
        from flex_pipelines.backtest.store import save_result

        save_result(store, result)
    return result


def backtest_sites(
    caller: Caller,
    store: BeliefStore,
    first: date,
    last: date,
    *,
    variants: str | Sequence[str] | None = None,
    save: bool = True,
) -> tuple[list[BacktestResult], list[str]]:
    """Backtest every site with storage devices (the pipeline's ``backtests`` asset).

    Returns the results and, for each site that could not be backtested (no storage, processes,
    access), the reason; those do not stop the others.
    """
    results, skipped = [], []
    for site in AssetTree.load(store).sites():
        try:
            results.append(
                backtest(caller, store, site.id, first, last, variants=variants, save=save)
            )
        except FlexPipelinesError as exc:
            skipped.append(f"site {site.id} ({site.name}): {exc}")
    return results, skipped
