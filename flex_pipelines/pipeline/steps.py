"""One call into a domain library per unit of work: what the Dagster assets and checks run.

:func:`schedule_site` (storage scheduler for all storage devices of a site jointly, process
scheduler per process), :func:`forecast_days` (the forecasting library's ``forecast_sensor`` at
day-ahead viewpoints), :func:`run_site_reports`, the read-backs the asset checks use
(:func:`schedule_violations`, :func:`forecast_coverage`), and reporting's charts and KPIs for
materialization metadata. No dagster here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.pipeline.sites import (
    PIPELINE_TIMEZONE,
    MissingInputsError,
    Site,
    day_ahead_viewpoint,
    report_progress,
)
from flex_pipelines.service import LOCAL_ADMIN, SchedulePlan, ScheduleRecord, input_gaps, schedule
from flex_pipelines.time import get_zone

# --- scheduling: the service's -----------------------------------------------------------------
#: what one site's schedule for one window did (the service's record)
SiteSchedule = ScheduleRecord


def check_inputs(store: BeliefStore, site: Site, start: datetime, end: datetime) -> str | None:
    """A reason when an input of ``site`` (prices, loads, PV, capacities given as sensors) lacks
    values in [start, end), else None (:func:`flex_pipelines.service.input_gaps`)."""
    return input_gaps(store, site, start, end)


def schedule_site(
    store: BeliefStore,
    site: Site,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
    kinds: Iterable[str] = ("storage", "process"),
    soc_at_start: dict[int, str] | None = None,
) -> ScheduleRecord:
    """Schedule every device of ``site`` for [start, end) and save the schedules in one transaction.

    The service's :func:`~flex_pipelines.service.schedule` as the local admin. Inputs are read as
    known ``as_of`` (default now). Incomplete inputs raise :class:`MissingInputsError`; an
    infeasible problem raises the scheduler's error and saves nothing (the previous schedule
    stays the latest belief). ``soc_at_start`` (power sensor id → e.g. ``"0.2 MWh"``) continues
    from a previous window's plan (consecutive days in one run).
    """
    reason = input_gaps(store, site, start, end)
    if reason:
        raise MissingInputsError(reason)
    if not site.devices:
        raise MissingInputsError(f"site {site.id} ({site.name}): no device to schedule")
    plan = SchedulePlan((site.scope(),))
    records = schedule(
        LOCAL_ADMIN,
        store,
        start,
        end,
        as_of=as_of,
        kinds=kinds,
        soc_at_start=soc_at_start,
        plan=plan,
    )
    report_progress("schedules", f"site {site.id} {start.date()}")
    return records[0]


# --- forecasting ------------------------------------------------------------------------------
def forecast_sensors(store: BeliefStore) -> list[int]:
    """Sensors marked for forecasting (``attributes["forecast"]``)."""
    return [s.id for s in store.list_sensors() if isinstance(s.attributes.get("forecast"), dict)]


def forecast_days(
    store: BeliefStore, sensor_id: int, days: Sequence[date], now: datetime | None = None
) -> tuple[int, list[str]]:
    """Day-ahead forecasts of a sensor for local ``days``, each made at its gate closure the day
    before (or now, if that is still ahead); saved by the forecasting library. Returns the number of
    new beliefs and the days skipped with their reason (e.g. too little history before them).

    Each forecast covers exactly its local day (23 or 25 hours on clock-change days: the cycles'
    ``local_days`` mode). One call of :func:`~flex_pipelines.forecasting.store_io.forecast_sensor`
    covers a run of days whose viewpoints are a day apart (a backfill retrains once per viewpoint,
    as the cycles do). The sensor's ``forecast`` config may add ``"model-params"`` (the model's
    parameters), ``"clear-sky": true`` (the built-in clear-sky regressor of the site's location),
    ``"clear-sky-plane"`` (``"fit"`` or ``"TILT,AZIMUTH"``) and a ``"label"`` naming the run's
    source; the service's :func:`~flex_pipelines.service.forecast_report.forecast_settings`
    reads and checks them as it does for the API. A config it refuses skips the sensor's days
    with its message (the same as the API's and the CLI's).
    """
    from flex_pipelines.forecasting.cycles import CycleConfig
    from flex_pipelines.forecasting.errors import ForecastingError
    from flex_pipelines.forecasting.store_io import forecast_sensor
    from flex_pipelines.service.forecast_report import forecast_settings
    from flex_pipelines.time import parse_timedelta

    sensor = store.get_sensor(sensor_id)
    cfg = sensor.attributes["forecast"]
    try:
        chosen = forecast_settings(store, sensor_id)
    except ForecastingError as exc:  # a bad config: no day can be forecast
        span = f"{days[0]}" if len(days) < 2 else f"{days[0]}…{days[-1]}"
        return 0, [f"sensor {sensor_id} ({sensor.name}), {span}: {exc}"] if days else []
    now = now or datetime.now(UTC)
    zone = get_zone(PIPELINE_TIMEZONE)
    vps = [min(day_ahead_viewpoint(d), now) for d in days]
    ahead = [(d - vp.astimezone(zone).date()).days for d, vp in zip(days, vps, strict=True)]
    groups: list[list[int]] = []
    for i, vp in enumerate(vps):  # runs of viewpoints exactly one day apart share one call
        j = groups[-1][-1] if groups else -1
        if groups and vp - vps[j] == timedelta(days=1) and ahead[i] == ahead[j]:
            groups[-1].append(i)
        else:
            groups.append([i])
    made = 0
    skipped: list[str] = []
    while groups:
        g = groups.pop(0)
        if ahead[g[0]] < 0:
            skipped.append(f"sensor {sensor_id} ({sensor.name}), {days[g[0]]}: already past")
            continue
        config = CycleConfig(
            local_days=1,
            days_ahead=ahead[g[0]],
            day_timezone=PIPELINE_TIMEZONE,
            frequency=timedelta(days=1),
            train_period=parse_timedelta(cfg.get("train-period", "P30D")),
            quantiles=tuple(cfg.get("quantiles", (0.5,))),
            model_params=chosen.model_params,
        )
        try:
            run = forecast_sensor(
                store,
                sensor_id,
                vps[g[0]],
                vps[g[-1]] + timedelta(seconds=1),
                config,
                model=chosen.model,
                regressor_ids=[int(r) for r in cfg.get("regressors", [])],
                clear_sky=chosen.clear_sky,
                clear_sky_plane=chosen.clear_sky_plane,
                label=chosen.label,
            )
        except ForecastingError as exc:
            if len(g) > 1:  # some days may lack history (the first ones): split and retry
                half = len(g) // 2
                groups[:0] = [g[:half], g[half:]]
                continue
            skipped.append(f"sensor {sensor_id} ({sensor.name}), {days[g[0]]}: {exc}")
            continue
        made += run.n_new
        report_progress("forecasts", f"sensor {sensor_id} {days[g[-1]]}")
    return made, skipped


# --- reporting --------------------------------------------------------------------------------
def run_site_reports(
    store: BeliefStore, site_id: int, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Run the reports configured on a site for [start, end); one summary record per report."""
    from flex_pipelines.reporting.run import run_asset_reports

    out = []
    for res in run_asset_reports(store, site_id, start, end):
        rec = res.to_record()
        out.append({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in rec.items()})
    report_progress("reports", f"site {site_id} {start.date()}")
    return out


def forecast_coverage(
    store: BeliefStore, sensor_id: int, start: datetime, end: datetime
) -> tuple[int, int]:
    """(events with a forecaster belief, events expected) for a sensor over [start, end)."""
    from flex_pipelines.time import n_steps

    sensor = store.get_sensor(sensor_id)
    found = store.search_beliefs(
        sensor_id, start, end, source_types=["forecaster"], one_per_event=True
    )
    return found.height, n_steps(start, end, sensor.event_resolution)


# --- charts and KPIs for materialization metadata (reporting's functions) -----------------------
def schedule_chart_markdown(
    store: BeliefStore, site: Site, start: datetime, end: datetime
) -> str | None:
    """A PNG chart (price, power, SoC) of the site's first device as Markdown, or None."""
    from flex_pipelines.reporting.base import ReportError
    from flex_pipelines.reporting.charts import (
        png_markdown,
        schedule_chart_data,
        schedule_chart_png,
    )

    if not site.devices:
        return None
    dev = site.devices[0]
    try:
        data = schedule_chart_data(store, dev.power_sensor_id, start, end)
        png = schedule_chart_png(
            data, title=f"{site.asset.name}: {dev.name}", timezone=PIPELINE_TIMEZONE
        )
    except (ReportError, FlexPipelinesError):
        return None
    return png_markdown(png, f"schedule of {dev.name}")


def site_kpis_summary(
    store: BeliefStore, site_ids: Sequence[int], start: datetime, end: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    """Daily KPIs of sites (reporting's :func:`site_kpis`) as records, and a cost chart (Markdown)."""
    from flex_pipelines.reporting.base import ReportError
    from flex_pipelines.reporting.charts import cost_chart_png, png_markdown
    from flex_pipelines.reporting.kpis import site_kpis

    try:
        kpis = site_kpis(store, list(site_ids), start, end)
    except (ReportError, FlexPipelinesError):
        return [], None
    records = [
        {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in r.items()}
        for r in kpis.iter_rows(named=True)
    ]
    chart = None
    if kpis.height and "cost" in kpis.columns:
        try:
            chart = png_markdown(cost_chart_png(kpis, title="Daily cost"), "daily cost")
        except (ReportError, FlexPipelinesError, ValueError):
            chart = None
    return records, chart


def latest_soc(
    store: BeliefStore, site: Site, at: datetime, lookback: timedelta = timedelta(days=2)
) -> dict[int, str]:
    """The latest known state of charge at or before ``at`` per storage device (power sensor id →
    e.g. ``"0.2 MWh"``): a measurement when there is one, else the latest schedule's plan
    (:func:`~flex_pipelines.service.batch.latest_socs` for one site)."""
    from flex_pipelines.service.batch import latest_socs

    return latest_socs(store, [site], at, lookback).get(site.id, {})


def forecast_accuracy_summary(
    store: BeliefStore, sensor_ids: Sequence[int], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Per forecast sensor, the accuracy over [start, end) where actual values exist (all lead
    times together): model, n, MAE, RMSE, sMAPE. Sensors without actuals yet are left out."""
    from flex_pipelines.forecasting.errors import ForecastingError
    from flex_pipelines.forecasting.store_io import score_forecasts

    out = []
    for sid in sensor_ids:
        try:
            table = score_forecasts(store, sid, start, end, bucket_hours=1000.0)
        except ForecastingError:
            continue
        for row in table.filter(pl.col("horizon") == "all").to_dicts() or table.to_dicts()[-1:]:
            out.append(
                {
                    "sensor_id": sid,
                    "model": row["model"],
                    "n": int(row["n"]),
                    "mae": round(float(row["mae"]), 4),
                    "rmse": round(float(row["rmse"]), 4),
                    "smape": round(float(row["smape"]), 3),
                }
            )
    return out
