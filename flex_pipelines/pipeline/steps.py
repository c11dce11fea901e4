"""One call into a domain library per unit of work: what the Dagster assets and checks run.

:func:`schedule_site` (storage scheduler for all storage devices of a site jointly, process
scheduler per process), :func:`forecast_days` (the forecasting library's ``forecast_sensor`` at
day-ahead viewpoints), :func:`run_site_reports`, the read-backs the asset checks use
(:func:`schedule_violations`, :func:`forecast_coverage`), and reporting's charts and KPIs for
materialization metadata. No dagster here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.pipeline.sites import (
    PIPELINE_TIMEZONE,
    PRICE_FIELDS,
    MissingInputsError,
    Site,
    day_ahead_viewpoint,
    device_kind,
    report_progress,
)
from flex_pipelines.time import day_window


# --- scheduling -------------------------------------------------------------------------------
@dataclass
class SiteSchedule:
    """What one site's schedule for one window did (plain data: crosses process boundaries)."""

    site_id: int
    start: datetime
    end: datetime
    devices: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    n_beliefs: int = 0
    cost_eur: float = 0.0
    solve_s: float = 0.0
    end_soc: dict[int, str] = field(default_factory=dict)  # power sensor id → SoC at the window end

    def to_record(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "devices": self.devices,
            "skipped": self.skipped,
            "n_beliefs": self.n_beliefs,
            "cost_eur": round(self.cost_eur, 4),
            "solve_s": round(self.solve_s, 4),
        }


def _storage_scheduler() -> Callable[..., Any] | None:
    """The storage scheduler's store-integrated entry point, once the library has it."""
    for module in ("flex_pipelines.scheduling.storage_store",):
        try:
            mod = __import__(module, fromlist=["schedule_storage"])
        except ImportError:
            continue
        fn = getattr(mod, "schedule_storage", None)
        if fn is not None:
            return fn
    return None


def check_inputs(store: BeliefStore, site: Site, start: datetime, end: datetime) -> str | None:
    """A reason when a price sensor of ``site`` has no beliefs in [start, end), else None."""
    for key in PRICE_FIELDS:
        ref = site.flex_context.get(key)
        if isinstance(ref, dict) and "sensor" in ref:
            sid = int(ref["sensor"])
            found = store.search_beliefs(sid, start, end, exclude_source_types=["scheduler"])
            if found.is_empty():
                return (
                    f"site {site.id} ({site.asset.name}): {key} sensor {sid} has no beliefs for "
                    f"{start.isoformat()} to {end.isoformat()}"
                )
    return None


def schedule_site(
    store: BeliefStore,
    site: Site,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
    kinds: Iterable[str] = ("storage", "process"),
    soc_at_start: dict[int, str] | None = None,
) -> SiteSchedule:
    """Schedule every device of ``site`` for [start, end) and save the schedules in one transaction.

    Inputs are read as known ``as_of`` (default now). A missing price raises
    :class:`MissingInputsError`; an infeasible problem raises the scheduler's error and saves
    nothing (the previous schedule stays the latest belief). ``soc_at_start`` (power sensor id →
    e.g. ``"0.2 MWh"``) continues from a previous window's plan (consecutive days in one run).
    """
    reason = check_inputs(store, site, start, end)
    if reason:
        raise MissingInputsError(reason)
    out = SiteSchedule(site.id, start, end)
    wanted = set(kinds)
    storage = _storage_scheduler()
    joint: set[int] = set()  # power sensors of processes scheduled jointly with the storage
    t0 = time.perf_counter()
    with store.transaction():
        storage_devices = [d for d in site.devices if device_kind(d) == "storage"]
        if storage_devices and "storage" in wanted:
            if storage is None:
                out.skipped += [f"device {d.id} ({d.name}): storage scheduler not available" for d in storage_devices]  # fmt: skip
            else:  # every storage device of the site together, behind its grid connection
                chain = [{"sensor": k, "soc-at-start": v} for k, v in (soc_at_start or {}).items()]
                # JOINT SCHEDULING (issue 6): the storage scheduler also schedules the site's
                # process devices (same resolution) under the same grid limit; the loop below
                # skips those (``joint``) instead of scheduling them a second time on their own.
                run = storage(store, asset_id=site.id, start=start, end=end, as_of=as_of, flex_model=chain or None, include_processes="process" in wanted)  # fmt: skip
                joint = {int(d.power_sensor) for d in run.result.devices if getattr(d, "starts", None) is not None and d.power_sensor is not None}  # fmt: skip
                n_steps_ = len(run.result.site_power_mw)
                for dev in run.result.devices:
                    if dev.soc_mwh is not None and len(dev.soc_mwh) == n_steps_ + 1 and dev.power_sensor is not None:  # fmt: skip
                        out.end_soc[int(dev.power_sensor)] = f"{float(dev.soc_mwh[-1])} MWh"
                saved = getattr(run, "saved", None)
                n_new = int(getattr(saved, "n_new", 0) or 0)
                cost = float(getattr(run, "cost_eur", 0.0) or 0.0)
                out.devices.append({"device_ids": [d.id for d in storage_devices], "kind": "storage", "cost_eur": round(cost, 4), "n_new": n_new, "method": run.result.method})  # fmt: skip
                out.cost_eur += cost
                out.n_beliefs += n_new
        for dev in site.devices:
            if device_kind(dev) != "process" or "process" not in wanted:
                continue
            if int(dev.flex_model["sensor"]) in joint:  # scheduled with the storage (see above)
                continue
            from flex_pipelines.scheduling.process_store import schedule_process_for_sensor

            run = schedule_process_for_sensor(store, int(dev.flex_model["sensor"]), start, end - start, as_of=as_of)  # fmt: skip
            res_h = run.sensor.event_resolution.total_seconds() / 3600
            cost = float((run.schedule.power_mw * run.prices_eur_per_mwh).sum() * res_h)
            n_new = run.saved.n_new if run.saved else 0
            out.devices.append({"device_ids": [dev.id], "kind": "process", "cost_eur": round(cost, 4), "n_new": n_new})  # fmt: skip
            out.cost_eur += cost
            out.n_beliefs += n_new
    out.solve_s = time.perf_counter() - t0
    if not out.devices and out.skipped:
        raise MissingInputsError(f"site {site.id} ({site.asset.name}): " + "; ".join(out.skipped))
    report_progress("schedules", f"site {site.id} {start.date()}")
    return out


# --- forecasting ------------------------------------------------------------------------------
def forecast_sensors(store: BeliefStore) -> list[int]:
    """Sensors marked for forecasting (``attributes["forecast"]``)."""
    return [s.id for s in store.list_sensors() if isinstance(s.attributes.get("forecast"), dict)]


def forecast_days(store: BeliefStore, sensor_id: int, days: Sequence[date], now: datetime | None = None) -> tuple[int, list[str]]:  # fmt: skip
    """Day-ahead forecasts of a sensor for local ``days``, each made at its gate closure the day
    before (or now, if that is still ahead); saved by the forecasting library. Returns the number of
    new beliefs and the days skipped with their reason (e.g. too little history before them).

    One call of :func:`~flex_pipelines.forecasting.store_io.forecast_sensor` covers a run of
    days whose viewpoints are a day apart (a backfill retrains once per viewpoint, as the cycles do).
    """
    from flex_pipelines.forecasting.cycles import CycleConfig
    from flex_pipelines.forecasting.errors import ForecastingError
    from flex_pipelines.forecasting.store_io import forecast_sensor
    from flex_pipelines.time import parse_timedelta

    sensor = store.get_sensor(sensor_id)
    cfg = sensor.attributes["forecast"]
    now = now or datetime.now(UTC)
    spans = [(d, *day_window(d, PIPELINE_TIMEZONE)) for d in days]
    vps = [min(day_ahead_viewpoint(d), now) for d, _, _ in spans]
    groups: list[list[int]] = []
    for i, vp in enumerate(vps):  # runs of viewpoints exactly one day apart share one call
        if groups and vp - vps[groups[-1][-1]] == timedelta(days=1):
            groups[-1].append(i)
        else:
            groups.append([i])
    made = 0
    skipped: list[str] = []
    while groups:
        g = groups.pop(0)
        min_h = min(spans[i][1] - vps[i] for i in g)
        max_h = max(spans[i][2] - vps[i] for i in g)
        config = CycleConfig(
            max_horizon=max_h, min_horizon=max(min_h, timedelta(0)), frequency=timedelta(days=1),
            train_period=parse_timedelta(cfg.get("train-period", "P30D")),
            quantiles=tuple(cfg.get("quantiles", (0.5,))),
        )  # fmt: skip
        try:
            run = forecast_sensor(
                store, sensor_id, vps[g[0]], vps[g[-1]] + timedelta(seconds=1), config,
                model=str(cfg.get("model", "ridge")), regressor_ids=[int(r) for r in cfg.get("regressors", [])],
            )  # fmt: skip
        except ForecastingError as exc:
            if len(g) > 1:  # some days may lack history (the first ones): split and retry
                half = len(g) // 2
                groups[:0] = [g[:half], g[half:]]
                continue
            skipped.append(f"sensor {sensor_id} ({sensor.name}), {spans[g[0]][0]}: {exc}")
            continue
        made += run.n_new
        report_progress("forecasts", f"sensor {sensor_id} {spans[g[-1]][0]}")
    return made, skipped


# --- reporting --------------------------------------------------------------------------------
def run_site_reports(store: BeliefStore, site_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:  # fmt: skip
    """Run the reports configured on a site for [start, end); one summary record per report."""
    from flex_pipelines.reporting.run import run_asset_reports

    out = []
    for res in run_asset_reports(store, site_id, start, end):
        rec = res.to_record()
        out.append({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in rec.items()})
    report_progress("reports", f"site {site_id} {start.date()}")
    return out


# --- physical bounds of saved schedules (for asset checks) -------------------------------------
def _limit(value: Any, unit: str) -> float | None:
    from flex_pipelines.units import convert, parse_quantity

    if value is None or isinstance(value, dict | list):
        return None  # sensor references and time series are checked by the scheduler itself
    q = parse_quantity(value)
    return float(convert(q.magnitude, q.unit, unit))


def schedule_violations(store: BeliefStore, site: Site, start: datetime, end: datetime) -> tuple[int, list[str]]:  # fmt: skip
    """Check the latest saved schedules of a site against device and site limits and SoC bounds.

    Returns (values checked, violations naming device, value, limit and time).
    """
    checked, bad = 0, []
    totals: dict[datetime, float] = {}
    tol = 1e-6
    for dev in site.devices:
        fm = dev.flex_model
        sensor = store.get_sensor(int(fm["sensor"]))
        frame = store.search_beliefs(sensor.id, start, end, source_types=["scheduler"], one_per_event=True)  # fmt: skip
        cap = _limit(fm.get("power-capacity", fm.get("power")), sensor.unit)
        to_kw = _limit(f"1 {sensor.unit}", "kW") or 0.0
        for t, v in zip(frame["event_start"], frame["event_value"], strict=True):
            checked += 1
            totals[t] = totals.get(t, 0.0) + v * to_kw
            if cap is not None and abs(v) > cap * (1 + tol) + tol:
                bad.append(f"device {dev.id} ({dev.name}) power {v:g} {sensor.unit} exceeds power-capacity {cap:g} {sensor.unit} at {t.isoformat()}")  # fmt: skip
        soc = fm.get("state-of-charge")
        if isinstance(soc, dict) and "sensor" in soc:
            soc_sensor = store.get_sensor(int(soc["sensor"]))
            lo, hi = _limit(fm.get("soc-min"), soc_sensor.unit), _limit(fm.get("soc-max"), soc_sensor.unit)  # fmt: skip
            sf = store.search_beliefs(soc_sensor.id, start, end, source_types=["scheduler"], one_per_event=True)  # fmt: skip
            for t, v in zip(sf["event_start"], sf["event_value"], strict=True):
                checked += 1
                if (lo is not None and v < lo - 1e-6 * max(1, abs(lo))) or (hi is not None and v > hi + 1e-6 * max(1, abs(hi))):  # fmt: skip
                    bad.append(f"device {dev.id} ({dev.name}) state of charge {v:g} {soc_sensor.unit} outside [{lo}, {hi}] at {t.isoformat()}")  # fmt: skip
    site_cap = _limit(site.flex_context.get("site-power-capacity"), "kW")
    if site_cap is not None:
        for t, total in sorted(totals.items()):
            if abs(total) > site_cap * (1 + tol) + tol:
                bad.append(f"site {site.id} ({site.asset.name}) devices draw {total:g} kW, over site-power-capacity {site_cap:g} kW at {t.isoformat()}")  # fmt: skip
    return checked, bad


def forecast_coverage(store: BeliefStore, sensor_id: int, start: datetime, end: datetime) -> tuple[int, int]:  # fmt: skip
    """(events with a forecaster belief, events expected) for a sensor over [start, end)."""
    from flex_pipelines.time import n_steps

    sensor = store.get_sensor(sensor_id)
    found = store.search_beliefs(sensor_id, start, end, source_types=["forecaster"], one_per_event=True)  # fmt: skip
    return found.height, n_steps(start, end, sensor.event_resolution)


# --- charts and KPIs for materialization metadata (reporting's functions) -----------------------
def schedule_chart_markdown(store: BeliefStore, site: Site, start: datetime, end: datetime) -> str | None:  # fmt: skip
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
        data = schedule_chart_data(store, int(dev.flex_model["sensor"]), start, end)
        png = schedule_chart_png(data, title=f"{site.asset.name}: {dev.name}", timezone=PIPELINE_TIMEZONE)  # fmt: skip
    except (ReportError, FlexPipelinesError):
        return None
    return png_markdown(png, f"schedule of {dev.name}")


def site_kpis_summary(store: BeliefStore, site_ids: Sequence[int], start: datetime, end: datetime) -> tuple[list[dict[str, Any]], str | None]:  # fmt: skip
    """Daily KPIs of sites (reporting's :func:`site_kpis`) as records, and a cost chart (Markdown)."""
    from flex_pipelines.reporting.base import ReportError
    from flex_pipelines.reporting.charts import cost_chart_png, png_markdown
    from flex_pipelines.reporting.kpis import site_kpis

    try:
        kpis = site_kpis(store, list(site_ids), start, end)
    except (ReportError, FlexPipelinesError):
        return [], None
    records = [{k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in r.items()} for r in kpis.iter_rows(named=True)]  # fmt: skip
    chart = None
    if kpis.height and "cost" in kpis.columns:
        try:
            chart = png_markdown(cost_chart_png(kpis, title="Daily cost"), "daily cost")
        except (ReportError, FlexPipelinesError, ValueError):
            chart = None
    return records, chart


def latest_soc(store: BeliefStore, site: Site, at: datetime, lookback: timedelta = timedelta(days=2)) -> dict[int, str]:  # fmt: skip
    """The latest known state of charge at or before ``at`` per storage device (power sensor id →
    e.g. ``"0.2 MWh"``): a measurement when there is one, else the latest schedule's plan."""
    out: dict[int, str] = {}
    for dev in site.devices:
        ref = dev.flex_model.get("state-of-charge")
        if device_kind(dev) != "storage" or not isinstance(ref, dict) or "sensor" not in ref:
            continue
        sensor = store.get_sensor(int(ref["sensor"]))
        window = (at - lookback, at + timedelta(microseconds=1))
        found = store.search_beliefs(sensor.id, *window, exclude_source_types=["scheduler"], one_per_event=True)  # fmt: skip
        if found.is_empty():
            found = store.search_beliefs(sensor.id, *window, one_per_event=True)
        if not found.is_empty() and sensor.unit.strip() != "%":
            last = found.sort("event_start")[-1]
            out[int(dev.flex_model["sensor"])] = f"{float(last['event_value'][0])} {sensor.unit}"
    return out


def forecast_accuracy_summary(store: BeliefStore, sensor_ids: Sequence[int], start: datetime, end: datetime) -> list[dict[str, Any]]:  # fmt: skip
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
