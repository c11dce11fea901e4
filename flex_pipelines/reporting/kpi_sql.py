"""The SQL behind the daily KPIs and the site timeline, for DuckDB and PostgreSQL.

:func:`~flex_pipelines.reporting.event_sql.per_event_sql` builds a WITH-chain ending in ``net``
(one row per site and event of the site's grid: net, baseline, device, load and PV power in MW,
prices in currency/MWh); :func:`kpi_sql`, here, adds the daily aggregation. What the KPIs mean
is documented in :mod:`flex_pipelines.reporting.kpis`; the SQL is in four modules:

- this one: the daily aggregation and the duplicate check of the fast path;
- :mod:`~flex_pipelines.reporting.event_sql`: the per-event chain (components, prices, pivot);
- :mod:`~flex_pipelines.reporting.sql_parts`: what both use (which belief counts, literals and
  VALUES lists, epoch seconds, the DST offset);
- :mod:`~flex_pipelines.reporting.baseline`: where processes run in the baseline.

How they are computed fast:

- the site components travel as ``VALUES`` lists (the first row casts every column, which is
  how PostgreSQL learns the types);
- prices are expanded once per price sensor (hourly → quarter hours, forward fill within the
  hour) and joined per event through one BIGINT key (epoch seconds × 1024 + price-pair id);
- sites of one power sensor are read straight from their beliefs; sites of several sensors are
  pivoted per site and event (PostgreSQL: after ``DISTINCT ON``; DuckDB: ``arg_max`` per sensor
  slot in the same aggregation);
- DuckDB's fast path does not de-duplicate one-sensor sites; a bit mask of the steps per site
  and day counts events sharing a step, and :func:`~flex_pipelines.reporting.kpis.kpis_for_specs`
  re-runs with ``force_dedup`` when it finds any;
- the local day is ``(epoch seconds + UTC offset) // 86400`` with the offset from a ``CASE`` over
  the timezone's DST transitions in the window (5× cheaper in DuckDB than casting a TIMESTAMPTZ
  to DATE, which goes through ICU for every row).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from flex_pipelines.reporting.base import ReportError
from flex_pipelines.reporting.event_sql import per_event_sql
from flex_pipelines.reporting.site import SiteSpec
from flex_pipelines.reporting.sql_parts import SOURCE_RANK, latest_values_sql, offset_case

# per_event_sql, latest_values_sql and SOURCE_RANK lived here before the split: still importable
__all__ = ["kpi_sql", "per_event_sql", "latest_values_sql", "SOURCE_RANK"]


def kpi_sql(
    specs: Sequence[SiteSpec],
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
    dialect: str = "postgresql",
    force_dedup: bool = False,
) -> tuple[str, list[object]]:
    """The daily KPI query for sites sharing one timezone (see module docstring)."""
    zones = {s.timezone for s in specs}
    if len(zones) != 1:
        raise ReportError(f"kpi_sql needs sites of one timezone, got {sorted(zones)}")
    head, params = per_event_sql(specs, start, end, as_of, dialect, force_dedup)
    offset = offset_case(zones.pop(), start, end, "ts")
    # Duplicate check of the fast path (no de-duplication): a day spans at most 100 quarter
    # hours, so (step number mod 126) is unique within it; two 63-bit masks per site and day
    # count the distinct steps. More events than steps means some sensor had two beliefs for
    # one event — then kpis_for_specs re-runs the query with de-duplication.
    if dialect == "duckdb":
        step_no, day = "ts // step_s", f"(ts + {offset}) // 86400"
        bits = "bit_count(bit_or({}))"
    else:  # PostgreSQL: BIGINT / BIGINT divides whole numbers; bit_count needs a bit string
        step_no, day = "ts / step_s", f"(ts + {offset}) / 86400"
        bits = "bit_count(CAST(bit_or({}) AS BIT(64)))"
    fine = any(sp.resolution < timedelta(minutes=15) for sp in specs)
    si = f"mod({step_no}, 126)"
    if fine:
        si = f"CASE WHEN step_s >= 900 THEN {si} END"
    step_index = f", {si} AS si"
    lo = bits.format("CASE WHEN si < 63 THEN CAST(1 AS BIGINT) << CAST(si AS INTEGER) END")
    hi = bits.format("CASE WHEN si >= 63 THEN CAST(1 AS BIGINT) << CAST(si - 63 AS INTEGER) END")
    dup = f"count(si) - coalesce({lo}, 0) - coalesce({hi}, 0)"
    roles = {c.role for sp in specs for c in sp.components}
    has_pv = "pv" in roles
    has_devices = "device" in roles or any(sp.processes for sp in specs)
    # leave out what no site has (PV, devices, batteries): fewer expressions per event row
    baseline_cols = (
        "baseline_mw, greatest(baseline_mw, 0) AS b_buy, greatest(-baseline_mw, 0) AS b_sell,"
    )
    if has_devices:
        baseline_cost = (
            "CASE WHEN count(cprice) = count(*) THEN sum(b_buy * cprice - b_sell * pprice) * h END"
        )
        baseline_peak = "max(baseline_mw)"
    else:  # no flexible devices: the baseline is the site itself
        baseline_cols = ""
        baseline_cost = (
            "CASE WHEN count(cprice) = count(*) THEN sum(buy * cprice - sell * pprice) * h END"
        )
        baseline_peak = "max(net_mw)"
    if has_pv:
        pv_cols = "greatest(pv_mw, 0) AS pv,"
        self_cons = (
            "CASE WHEN sum(pv) > 0 THEN sum(greatest(least(pv, pv - sell), 0)) / sum(pv) END"
        )
        pv_prod = "sum(pv) * h"
    else:
        pv_cols, self_cons, pv_prod = (
            "",
            "CAST(NULL AS DOUBLE PRECISION)",
            "CAST(NULL AS DOUBLE PRECISION)",
        )
    cycles = "sum(cycles_rate) * h" if "cycles" in roles else "CAST(NULL AS DOUBLE PRECISION)"
    sql = f"""{head},
daily AS (
  SELECT site_id, {day} AS day_number{step_index},
         step_s, h, net_mw, cycles_rate, cprice, pprice, {baseline_cols} {pv_cols}
         greatest(net_mw, 0) AS buy, greatest(-net_mw, 0) AS sell
  FROM net
)
SELECT site_id, DATE '1970-01-01' + CAST(day_number AS INTEGER) AS day, count(*) AS n_events,
  sum(buy) * h AS energy_bought_mwh,
  sum(sell) * h AS energy_sold_mwh,
  CASE WHEN count(cprice) = count(*) THEN sum(buy * cprice - sell * pprice) * h END AS cost,
  {baseline_cost} AS baseline_cost,
  {self_cons} AS self_consumption_ratio,
  {pv_prod} AS pv_production_mwh,
  max(net_mw) AS peak_consumption_mw,
  {baseline_peak} AS baseline_peak_consumption_mw,
  {cycles} AS equivalent_full_cycles,
  {dup} AS dup_events
FROM daily GROUP BY site_id, day_number, h"""
    return sql, params
