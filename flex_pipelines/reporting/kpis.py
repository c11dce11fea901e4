"""Daily KPIs per site, computed in SQL on the store (the same SQL on DuckDB and PostgreSQL).

Per site and local day (in the site's timezone):

- ``energy_bought_mwh`` / ``energy_sold_mwh``: Σ max(±net, 0) × hours, where the net site power
  (MW, consumption positive) is the measured site power when configured, else
  Σ devices + Σ inflexible loads − Σ PV;
- ``cost``: Σ (bought × consumption price − sold × production price), in the price currency;
  NULL (not 0) when some event of the day has no price;
- ``baseline_cost`` and ``savings`` (= baseline − cost): the baseline is the site without its
  flexible devices' schedules (net − Σ devices), with each process put back at its INFLEXIBLE
  start (``power`` for ``duration`` from its first allowed start in each local day);
- ``self_consumption_ratio``: Σ min(PV, PV − export)⁺ / Σ PV (NULL without PV production);
- ``peak_consumption_mw`` (and ``baseline_peak_consumption_mw``);
- ``equivalent_full_cycles``: Σ |battery power| × hours / (2 × capacity) per battery, summed.

Every event of the site grid with at least one power value counts; a day without any power
values has no row (an empty result is empty, not zeros). Coarser inputs (hourly prices, hourly
PV) are repeated over the site's finer events inside SQL (forward fill within their event).

The SQL (one statement per timezone for all sites; the few dialect differences — ``arg_max``
and ``epoch_us`` in DuckDB, ``DISTINCT ON`` and ``date_part('epoch', …)`` in PostgreSQL — kept in
the SQL modules, not here) is built in :mod:`flex_pipelines.reporting.kpi_sql`, which names the
modules it is made of.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import ReportError
from flex_pipelines.reporting.event_sql import per_event_sql
from flex_pipelines.reporting.kpi_sql import kpi_sql
from flex_pipelines.reporting.site import SiteSpec, site_specs

__all__ = ["site_kpis", "kpi_totals", "kpis_for_specs", "kpi_sql", "per_event_sql", "KPI_COLUMNS"]

KPI_COLUMNS = [
    "site_id",
    "day",
    "n_events",
    "energy_bought_mwh",
    "energy_sold_mwh",
    "cost",
    "baseline_cost",
    "savings",
    "currency",
    "self_consumption_ratio",
    "pv_production_mwh",
    "peak_consumption_mw",
    "baseline_peak_consumption_mw",
    "equivalent_full_cycles",
]


def _run_kpi_query(store: BeliefStore, sql: str, params: list[object]) -> pl.DataFrame:
    if store.dialect != "postgresql":
        return store.query(sql, params)
    # PostgreSQL misestimates the VALUES/CTE joins by 100× and picks sort-merge joins and
    # sorted aggregation over millions of event rows (spilling to disk with the default 4 MB
    # work_mem); hash joins and hash aggregation with more memory are several times faster.
    with store.transaction():
        store.execute("SET LOCAL work_mem = '256MB'")
        store.execute("SET LOCAL enable_mergejoin = off")
        store.execute("SET LOCAL enable_sort = off")
        return store.query(sql, params)


def kpis_for_specs(
    store: BeliefStore,
    specs: Sequence[SiteSpec],
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """Daily KPIs (columns :data:`KPI_COLUMNS`) for resolved sites, one query per timezone."""
    if end <= start:
        raise ReportError(
            f"KPI window end {end.isoformat()} is not after its start {start.isoformat()}"
        )
    frames = []
    for _tz, group in groupby(sorted(specs, key=lambda s: s.timezone), key=lambda s: s.timezone):
        group = list(group)
        sql, params = kpi_sql(group, start, end, as_of, store.dialect)
        frame = _run_kpi_query(store, sql, params)
        if frame.height and frame["dup_events"].max() > 0:  # several beliefs per event: dedup
            sql, params = kpi_sql(group, start, end, as_of, store.dialect, force_dedup=True)
            frame = _run_kpi_query(store, sql, params)
        if frame.is_empty():
            continue
        cur = {s.site_id: s.currency for s in group}
        frame = frame.with_columns(
            pl.col("site_id").cast(pl.Int64),
            pl.col("n_events").cast(pl.Int64),
            pl.col("site_id").replace_strict(cur, return_dtype=pl.String).alias("currency"),
            *(
                pl.col(c).cast(pl.Float64)
                for c in KPI_COLUMNS
                if c not in ("site_id", "day", "n_events", "currency", "savings")
            ),
        )
        frames.append(frame)
    if not frames:
        schema = {c: pl.Float64 for c in KPI_COLUMNS}
        schema.update(site_id=pl.Int64, day=pl.Date, n_events=pl.Int64, currency=pl.String)
        return pl.DataFrame(schema=schema)
    out = pl.concat(frames, how="vertical_relaxed").with_columns(
        (pl.col("baseline_cost") - pl.col("cost")).alias("savings"),
        pl.col("day").cast(pl.Date),
    )
    # a site without PV (or batteries) has no PV (or cycle) KPIs, whatever its neighbours have
    pv_sites = [s.site_id for s in specs if any(c.role == "pv" for c in s.components)]
    bat_sites = [s.site_id for s in specs if any(c.role == "cycles" for c in s.components)]
    only = pl.col("site_id").is_in
    out = out.with_columns(
        *(
            pl.when(only(pv_sites)).then(pl.col(c)).otherwise(None).alias(c)
            for c in ("self_consumption_ratio", "pv_production_mwh")
        ),
        pl.when(only(bat_sites))
        .then(pl.col("equivalent_full_cycles"))
        .otherwise(None)
        .alias("equivalent_full_cycles"),
    )
    return out.select(KPI_COLUMNS).sort("site_id", "day")


def site_kpis(
    store: BeliefStore,
    asset_ids: int | Sequence[int],
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """Daily KPIs for sites given by asset id (components from the asset tree, see
    :mod:`flex_pipelines.reporting.site`). No rows for days without power values."""
    ids = [asset_ids] if isinstance(asset_ids, int) else list(asset_ids)
    return kpis_for_specs(store, site_specs(store, ids), start, end, as_of)


def kpi_totals(frame: pl.DataFrame) -> dict[str, object]:
    """Totals over the days of a KPI frame (for the CLI and Dagster metadata).

    Sums of energies, costs and cycles (a cost is None when any day lacks one), the highest
    peak, and the PV-weighted self-consumption ratio.
    """

    def total(col: str) -> float | None:
        s = frame[col]
        return None if s.is_empty() or s.null_count() else float(s.sum())

    pv = frame["pv_production_mwh"].fill_null(0.0)
    ratio = frame["self_consumption_ratio"]
    pv_sum = float(pv.sum()) if frame.height else 0.0
    return {
        "days": frame.height,
        "n_events": int(frame["n_events"].sum()) if frame.height else 0,
        "energy_bought_mwh": float(frame["energy_bought_mwh"].sum()) if frame.height else 0.0,
        "energy_sold_mwh": float(frame["energy_sold_mwh"].sum()) if frame.height else 0.0,
        "cost": total("cost"),
        "baseline_cost": total("baseline_cost"),
        "savings": total("savings"),
        "currency": frame["currency"][0] if frame.height else None,
        "self_consumption_ratio": float((ratio.fill_null(0.0) * pv).sum() / pv_sum)
        if pv_sum > 0
        else None,
        "pv_production_mwh": pv_sum,
        "peak_consumption_mw": frame["peak_consumption_mw"].max() if frame.height else None,
        "equivalent_full_cycles": float(frame["equivalent_full_cycles"].sum())
        if frame["equivalent_full_cycles"].drop_nulls().len()
        else None,
    }
