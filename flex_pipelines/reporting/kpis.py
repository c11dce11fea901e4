"""Daily KPIs per site, computed in SQL on the store (the same SQL on DuckDB and PostgreSQL).

Per site and local day (in the site's timezone):

- ``energy_bought_mwh`` / ``energy_sold_mwh``: Σ max(±net, 0) × hours, where the net site power
  (MW, consumption positive) is the measured site power when configured, else
  Σ devices + Σ inflexible loads − Σ PV;
- ``cost``: Σ (bought × consumption price − sold × production price), in the price currency;
  NULL (not 0) when some event of the day has no price;
- ``baseline_cost`` and ``savings`` (= baseline − cost): the baseline is the site without its
  flexible devices' schedules (net − Σ devices), with each process put back at its INFLEXIBLE
  start (``power`` for ``duration`` from the start of each local day);
- ``self_consumption_ratio``: Σ min(PV, PV − export)⁺ / Σ PV (NULL without PV production);
- ``peak_consumption_mw`` (and ``baseline_peak_consumption_mw``);
- ``equivalent_full_cycles``: Σ |battery power| × hours / (2 × capacity) per battery, summed.

Every event of the site grid with at least one power value counts; a day without any power
values has no row (an empty result is empty, not zeros). Coarser inputs (hourly prices, hourly
PV) are repeated over the site's finer events inside SQL (forward fill within their event).

Both dialects run this SQL unchanged: ``DISTINCT ON`` for the latest belief per event,
``VALUES`` lists for the site components, ``x * INTERVAL '1 second'`` arithmetic, and the
local day as ``CAST(event_start + utc_offset AS DATE)`` with the offset from a ``CASE`` over the
timezone's DST transitions in the window (computed in Python), which is much faster than a
per-row time-zone conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import groupby

import polars as pl

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import ReportError
from flex_pipelines.reporting.site import SiteSpec, site_spec
from flex_pipelines.time import get_zone

__all__ = ["site_kpis", "kpis_for_specs", "kpi_sql", "per_event_sql", "KPI_COLUMNS"]

KPI_COLUMNS = [
    "site_id", "day", "n_events", "energy_bought_mwh", "energy_sold_mwh", "cost",
    "baseline_cost", "savings", "currency", "self_consumption_ratio", "pv_production_mwh",
    "peak_consumption_mw", "baseline_peak_consumption_mw", "equivalent_full_cycles",
]  # fmt: skip

_LATEST_ORDER = (
    "ORDER BY sensor_id, event_start, belief_time DESC, abs(cumulative_probability - 0.5), "
    "cumulative_probability, source_id DESC"
)


def _ts(dt: datetime) -> str:
    return f"TIMESTAMPTZ '{dt.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}+00'"


def _literal(x: object) -> str:
    if x is None:
        return "NULL"
    if isinstance(x, str):
        return "'" + x.replace("'", "''") + "'"
    if isinstance(x, datetime):
        return _ts(x)
    if isinstance(x, float):
        return repr(x)
    return str(int(x))  # type: ignore[call-overload]


def _values(rows: Sequence[tuple], types: Sequence[str]) -> str:
    """A VALUES list whose first row casts every column (PostgreSQL infers types from it)."""
    out = []
    for i, row in enumerate(rows):
        cells = [_literal(x) for x in row]
        if i == 0:
            cells = [f"CAST({c} AS {t})" for c, t in zip(cells, types, strict=True)]
        out.append("(" + ", ".join(cells) + ")")
    return ", ".join(out)


def _offset_case(timezone: str, start: datetime, end: datetime, col: str) -> str:
    """SQL for the UTC offset (an interval) of ``col`` in ``timezone`` within [start, end)."""
    tz = get_zone(timezone)
    t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    points: list[tuple[datetime, int]] = []
    while t <= end + timedelta(hours=1):
        off = int(t.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
        if not points or points[-1][1] != off:
            points.append((t, off))
        t += timedelta(hours=1)
    if len(points) == 1:
        return f"INTERVAL '{points[0][1]} seconds'"
    parts = [f"WHEN {col} < {_ts(points[i + 1][0])} THEN INTERVAL '{points[i][1]} seconds'"
             for i in range(len(points) - 1)]  # fmt: skip
    return f"CASE {' '.join(parts)} ELSE INTERVAL '{points[-1][1]} seconds' END"


def per_event_sql(
    specs: Sequence[SiteSpec],
    start: datetime | None,
    end: datetime | None,
    as_of: datetime | None = None,
) -> tuple[str, list[object]]:
    """SQL (a WITH … chain ending in the CTE ``net``) with one row per site and event.

    ``net`` has: site_id, t, h (hours per event), net_mw, baseline_mw, device_mw, load_mw,
    pv_mw (production positive), cycles_rate, cprice, pprice. ``start``/``end`` None: all time.
    """
    comps: list[tuple] = []
    sites: list[tuple] = []
    baselines: list[tuple] = []
    for s in specs:
        base_s = int(s.resolution.total_seconds())
        for c in s.components:
            k = int(c.resolution.total_seconds()) // base_s
            comps.append((s.site_id, c.sensor_id, c.role, c.factor, k, base_s))
        sites.append(
            (s.site_id, base_s / 3600.0, s.fixed_consumption_price, s.fixed_production_price)
        )
        if s.processes and start is not None and end is not None:
            tz = get_zone(s.timezone)
            day = start.astimezone(tz).date()
            while True:
                d0 = datetime(day.year, day.month, day.day, tzinfo=tz)
                if d0 >= end:
                    break
                for power_mw, dur in s.processes:
                    n = int(dur.total_seconds()) // base_s
                    if d0 >= start and n > 0:
                        baselines.append((s.site_id, d0, n, base_s, power_mw))
                day += timedelta(days=1)
    if not comps:
        raise ReportError("no site components to compute KPIs from")
    sensor_ids = sorted({c[1] for c in comps})
    where = [f"sensor_id IN ({', '.join(map(str, sensor_ids))})"]
    params: list[object] = []
    if start is not None:
        where.append("event_start >= ?")
        params.append(start.astimezone(UTC))
    if end is not None:
        where.append("event_start < ?")
        params.append(end.astimezone(UTC))
    if as_of is not None:
        where.append("belief_time <= ?")
        params.append(as_of.astimezone(UTC))
    max_k = max([c[4] for c in comps] + [b[2] for b in baselines] + [1])
    offs = ", ".join(f"({i})" for i in range(max_k))
    comp_values = _values(
        comps, ["BIGINT", "BIGINT", "VARCHAR", "DOUBLE PRECISION", "BIGINT", "BIGINT"]
    )
    site_values = _values(
        sites, ["BIGINT", "DOUBLE PRECISION", "DOUBLE PRECISION", "DOUBLE PRECISION"]
    )
    baseline_cte = ""
    baseline_union = ""
    if baselines:
        bl_values = _values(
            baselines, ["BIGINT", "TIMESTAMPTZ", "BIGINT", "BIGINT", "DOUBLE PRECISION"]
        )
        baseline_cte = f", bl(site_id, t0, n, step_s, v) AS (VALUES {bl_values})"
        baseline_union = (
            " UNION ALL SELECT bl.site_id, 'baseline' AS role, "
            "bl.t0 + o.k * bl.step_s * INTERVAL '1 second' AS t, bl.v FROM bl JOIN offs o ON o.k < bl.n"
        )
    sql = f"""
WITH comp(site_id, sensor_id, role, factor, k, step_s) AS (VALUES {comp_values}),
sites(site_id, h, cprice_fixed, pprice_fixed) AS (VALUES {site_values}),
offs(k) AS (VALUES {offs}){baseline_cte},
latest AS (
  SELECT DISTINCT ON (sensor_id, event_start) sensor_id, event_start, event_value
  FROM beliefs WHERE {" AND ".join(where)} {_LATEST_ORDER}
),
vals AS (
  SELECT c.site_id, c.role, l.event_start AS t, l.event_value * c.factor AS v
  FROM latest l JOIN comp c ON c.sensor_id = l.sensor_id WHERE c.k = 1
  UNION ALL
  SELECT c.site_id, c.role, l.event_start + o.k * c.step_s * INTERVAL '1 second' AS t,
         l.event_value * c.factor AS v
  FROM latest l JOIN comp c ON c.sensor_id = l.sensor_id AND c.k > 1 JOIN offs o ON o.k < c.k
  {baseline_union}
),
ev AS (
  SELECT site_id, t,
    count(CASE WHEN role IN ('site', 'device', 'load', 'pv') THEN 1 END) AS n_power,
    sum(CASE WHEN role = 'site' THEN v END) AS site_mw,
    count(CASE WHEN role = 'site' THEN 1 END) AS n_site,
    sum(CASE WHEN role = 'device' THEN v END) AS device_mw,
    sum(CASE WHEN role = 'load' THEN v END) AS load_mw,
    sum(CASE WHEN role = 'pv' THEN v END) AS pv_mw,
    sum(CASE WHEN role = 'baseline' THEN v END) AS baseline_device_mw,
    sum(CASE WHEN role = 'cycles' THEN abs(v) END) AS cycles_rate,
    max(CASE WHEN role = 'cprice' THEN v END) AS cprice,
    max(CASE WHEN role = 'pprice' THEN v END) AS pprice
  FROM vals GROUP BY site_id, t
),
net0 AS (
  SELECT e.site_id, e.t, s.h,
    CASE WHEN e.n_site > 0 THEN e.site_mw
         ELSE coalesce(e.device_mw, 0) + coalesce(e.load_mw, 0) - coalesce(e.pv_mw, 0) END AS net_mw,
    e.device_mw, e.load_mw, e.pv_mw, e.baseline_device_mw, e.cycles_rate,
    coalesce(e.cprice, s.cprice_fixed) AS cprice,
    coalesce(e.pprice, s.pprice_fixed, e.cprice, s.cprice_fixed) AS pprice
  FROM ev e JOIN sites s ON s.site_id = e.site_id
  WHERE e.n_power > 0
),
net AS (
  SELECT site_id, t, h, net_mw,
    net_mw - coalesce(device_mw, 0) + coalesce(baseline_device_mw, 0) AS baseline_mw,
    device_mw, load_mw, pv_mw, cycles_rate, cprice, pprice
  FROM net0
)"""
    return sql, params


def kpi_sql(
    specs: Sequence[SiteSpec], start: datetime, end: datetime, as_of: datetime | None = None
) -> tuple[str, list[object]]:
    """The daily KPI query for sites sharing one timezone (see module docstring)."""
    zones = {s.timezone for s in specs}
    if len(zones) != 1:
        raise ReportError(f"kpi_sql needs sites of one timezone, got {sorted(zones)}")
    head, params = per_event_sql(specs, start, end, as_of)
    offset = _offset_case(zones.pop(), start, end, "t")
    sql = f"""{head},
daily AS (
  SELECT site_id, CAST(t + {offset} AS DATE) AS day, h, net_mw, baseline_mw, pv_mw,
         cycles_rate, cprice, pprice,
         greatest(net_mw, 0) AS buy, greatest(-net_mw, 0) AS sell,
         greatest(baseline_mw, 0) AS b_buy, greatest(-baseline_mw, 0) AS b_sell
  FROM net
)
SELECT site_id, day, count(*) AS n_events,
  sum(buy * h) AS energy_bought_mwh,
  sum(sell * h) AS energy_sold_mwh,
  CASE WHEN count(cprice) = count(*) THEN sum((buy * cprice - sell * pprice) * h) END AS cost,
  CASE WHEN count(cprice) = count(*) THEN sum((b_buy * cprice - b_sell * pprice) * h) END
    AS baseline_cost,
  CASE WHEN sum(greatest(pv_mw, 0)) > 0 THEN
    sum(greatest(least(greatest(pv_mw, 0), greatest(pv_mw, 0) - sell), 0)) / sum(greatest(pv_mw, 0))
  END AS self_consumption_ratio,
  sum(greatest(pv_mw, 0) * h) AS pv_production_mwh,
  max(net_mw) AS peak_consumption_mw,
  max(baseline_mw) AS baseline_peak_consumption_mw,
  sum(cycles_rate * h) AS equivalent_full_cycles
FROM daily GROUP BY site_id, day ORDER BY site_id, day"""
    return sql, params


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
        sql, params = kpi_sql(group, start, end, as_of)
        frame = store.query(sql, params)
        if frame.is_empty():
            continue
        cur = {s.site_id: s.currency for s in group}
        frame = frame.with_columns(
            pl.col("site_id").cast(pl.Int64),
            pl.col("n_events").cast(pl.Int64),
            pl.col("site_id").replace_strict(cur, return_dtype=pl.String).alias("currency"),
            *(pl.col(c).cast(pl.Float64) for c in KPI_COLUMNS
              if c not in ("site_id", "day", "n_events", "currency", "savings")),
        )  # fmt: skip
        frames.append(frame)
    if not frames:
        schema = {c: pl.Float64 for c in KPI_COLUMNS}
        schema.update(site_id=pl.Int64, day=pl.Date, n_events=pl.Int64, currency=pl.String)
        return pl.DataFrame(schema=schema)
    out = pl.concat(frames, how="vertical_relaxed").with_columns(
        (pl.col("baseline_cost") - pl.col("cost")).alias("savings"),
        pl.col("day").cast(pl.Date),
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
    return kpis_for_specs(store, [site_spec(store, i) for i in ids], start, end, as_of)
