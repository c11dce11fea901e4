"""The per-event SQL behind the daily KPIs and the site timeline, for DuckDB and PostgreSQL.

:func:`per_event_sql` builds a WITH-chain ending in ``net``: one row per site and event of the
site's grid with net, baseline, device, load and PV power in MW and prices in currency/MWh.
:func:`~flex_pipelines.reporting.kpi_sql.kpi_sql` aggregates it per local day; the analyst
views (:mod:`flex_pipelines.reporting.views`) select from it. How it is made fast is told in
:mod:`flex_pipelines.reporting.kpi_sql`; the shared pieces are in
:mod:`flex_pipelines.reporting.sql_parts`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from flex_pipelines.reporting.base import ReportError
from flex_pipelines.reporting.baseline import baseline_rows
from flex_pipelines.reporting.site import SiteSpec
from flex_pipelines.reporting.sql_parts import (
    DUCKDB_LATEST_KEY,
    epoch_seconds,
    latest_values_sql,
    nullable_sum,
    values_list,
)

__all__ = ["per_event_sql"]


_BASELINE_ROWS = (
    "SELECT bl.site_id, {slot} AS {col}, bl.t0 + o.k * bl.step_s * INTERVAL '1 second' AS t, "
    "bl.v{key} FROM bl JOIN offs o ON o.k < bl.n"
)


def _power_ctes(dialect: str, power_where: str, baselines: bool) -> str:
    """PostgreSQL: the latest value per sensor and event, then (for sites of several sensors)
    a pivot per site and event."""
    latest = f"latest_power AS ({latest_values_sql(dialect, power_where)})"
    bl = ""
    if baselines:
        bl = "\n  UNION ALL " + _BASELINE_ROWS.format(slot="'baseline'", col="role", key="")
    return f"""{latest},
vals AS (
  SELECT c.site_id, c.role, l.event_start AS t, l.event_value * c.factor AS v
  FROM latest_power l JOIN comp c ON c.sensor_id = l.sensor_id WHERE c.k = 1 AND NOT c.direct
  UNION ALL
  SELECT c.site_id, c.role, l.event_start + o.k * c.step_s * INTERVAL '1 second' AS t,
         l.event_value * c.factor AS v
  FROM latest_power l JOIN comp c ON c.sensor_id = l.sensor_id AND c.k > 1 AND NOT c.direct
  JOIN offs o ON o.k < c.k{bl}
),
ev AS (
  SELECT site_id, t,
    count(CASE WHEN role <> 'baseline' AND role <> 'cycles' THEN 1 END) AS n_power,
    count(CASE WHEN role = 'site' THEN 1 END) AS n_site,
    sum(CASE WHEN role = 'site' THEN v END) AS site_mw,
    sum(CASE WHEN role = 'device' THEN v END) AS device_mw,
    sum(CASE WHEN role = 'load' THEN v END) AS load_mw,
    sum(CASE WHEN role = 'pv' THEN v END) AS pv_mw,
    sum(CASE WHEN role = 'baseline' THEN v END) AS baseline_device_mw,
    sum(CASE WHEN role = 'cycles' THEN abs(v) END) AS cycles_rate
  FROM vals GROUP BY site_id, t
)"""


def _role_factors(role: str, factor: float) -> list[float | None]:
    """(net, device, load, PV) factors of one sensor: value × factor → MW in that column."""
    net = -factor if role == "pv" else factor
    return [
        net,
        factor if role == "device" else None,
        factor if role == "load" else None,
        factor if role == "pv" else None,
    ]


def _duckdb_power_ctes(
    slots: dict[tuple[str, int], int], where: Callable[[], str], baselines: bool
) -> str:
    """DuckDB: de-duplication and pivot in ONE hash aggregation per site and event.

    Each sensor of a site has a slot (role, index); ``arg_max(v, key) FILTER (WHERE slot = j)``
    picks the latest belief of that sensor for the event. One 35M-group aggregation instead
    of two is what keeps a year of 1,000 sites within seconds.
    """
    key = DUCKDB_LATEST_KEY
    bl = ""
    if baselines:
        bl = "\n  UNION ALL " + _BASELINE_ROWS.format(slot="-1", col="slot", key=", 0 AS key")
    aggs = [f"arg_max(v, key) FILTER (WHERE slot = {j}) AS s{j}" for j in sorted(slots.values())]
    power_slots = [j for (role, _), j in slots.items() if role != "cycles"]
    by_role: dict[str, list[str]] = {}
    for (role, _), j in slots.items():
        by_role.setdefault(role, []).append(f"s{j}")
    n_site = " + ".join(f"CASE WHEN {c} IS NULL THEN 0 ELSE 1 END" for c in by_role.get("site", []))
    cycles = [f"abs({c})" for c in by_role.get("cycles", [])]
    agg_sql = ",\n    ".join(aggs) or "CAST(NULL AS DOUBLE) AS s_none"
    in_power = ", ".join(map(str, power_slots)) or "NULL"
    return f"""vals AS (
  SELECT c.site_id, c.slot, l.event_start AS t, l.event_value * c.factor AS v, {key} AS key
  FROM beliefs l JOIN comp c ON c.sensor_id = l.sensor_id JOIN sources src ON src.id = l.source_id
  WHERE c.k = 1 AND NOT c.direct AND {where()}
  UNION ALL
  SELECT c.site_id, c.slot, l.event_start + o.k * c.step_s * INTERVAL '1 second' AS t,
         l.event_value * c.factor AS v, {key} AS key
  FROM beliefs l JOIN comp c ON c.sensor_id = l.sensor_id AND c.k > 1 AND NOT c.direct
  JOIN sources src ON src.id = l.source_id JOIN offs o ON o.k < c.k WHERE {where()}{bl}
),
slotted AS (
  SELECT site_id, t,
    count(*) FILTER (WHERE slot IN ({in_power})) AS n_power,
    sum(v) FILTER (WHERE slot = -1) AS baseline_device_mw,
    {agg_sql}
  FROM vals GROUP BY site_id, t
),
ev AS (
  SELECT site_id, t, n_power, {n_site or "0"} AS n_site,
    {nullable_sum(by_role.get("site", []))} AS site_mw,
    {nullable_sum(by_role.get("device", []))} AS device_mw,
    {nullable_sum(by_role.get("load", []))} AS load_mw,
    {nullable_sum(by_role.get("pv", []))} AS pv_mw,
    baseline_device_mw,
    {nullable_sum(cycles)} AS cycles_rate
  FROM slotted
)"""


def per_event_sql(
    specs: Sequence[SiteSpec],
    start: datetime | None,
    end: datetime | None,
    as_of: datetime | None = None,
    dialect: str = "postgresql",
    force_dedup: bool = False,
) -> tuple[str, list[object]]:
    """SQL (a WITH … chain ending in the CTE ``net``) with one row per site and event.

    ``net`` has: site_id, t, h (hours per event), net_mw, baseline_mw, device_mw, load_mw,
    pv_mw (production positive), cycles_rate, cprice, pprice. ``start``/``end`` None: all time.

    Power components are pivoted per site and event; prices are expanded once per price sensor
    (not per site) and joined on (sensor, event), so 1,000 sites sharing one price cost one
    small hash table.
    """
    comps: list[tuple] = []
    prices: dict[tuple[int, int], tuple] = {}
    sites: list[tuple] = []
    baselines: list[tuple] = []
    slots: dict[tuple[str, int], int] = {}  # (role, index within the site) → slot id
    pairs: dict[tuple[int | None, int | None], int] = {}  # (consumption, production) price ids
    for s in specs:
        base_s = int(s.resolution.total_seconds())
        price = {"cprice": (None, None), "pprice": (None, None)}
        n_role: dict[str, int] = {}
        for c in s.components:
            k = int(c.resolution.total_seconds()) // base_s
            if c.role in price:
                pid = prices.setdefault(
                    (c.sensor_id, base_s), (c.sensor_id, c.factor, k, base_s, len(prices))
                )[4]
                price[c.role] = (pid, base_s)
            else:
                comps.append([s.site_id, c.sensor_id, c.role, c.factor, k, base_s, -2, False])
                comps[-1] += _role_factors(c.role, c.factor)
                n_role[c.role] = n_role.get(c.role, 0) + 1
        pair = (price["cprice"][0], price["pprice"][0])
        pair_id = None if pair == (None, None) else pairs.setdefault(pair, len(pairs))
        sites.append(
            (
                s.site_id,
                base_s / 3600.0,
                pair_id,
                base_s,
                s.fixed_consumption_price,
                s.fixed_production_price,
            )
        )
        site_baselines = []
        if s.processes and start is not None and end is not None:
            site_baselines = baseline_rows(s, start, end, base_s)
            baselines += site_baselines
        mine = [c for c in comps if c[0] == s.site_id]
        for c in mine:
            c += [base_s / 3600.0, pair_id, s.fixed_consumption_price, s.fixed_production_price]
        # a site of one power sensor (of 15 minutes or coarser) needs no pivot and, on the fast
        # path, no de-duplication either: kpi_sql's duplicate check catches several beliefs
        # per event and kpis_for_specs then re-runs with force_dedup
        direct = (
            not force_dedup
            and len(mine) == 1
            and mine[0][4] == 1
            and not site_baselines
            and base_s >= 900
        )
        seen: dict[str, int] = {}
        for c in mine:
            if direct:
                c[7] = True
            else:
                i = seen[c[2]] = seen.get(c[2], -1) + 1
                c[6] = slots.setdefault((c[2], i), len(slots))
    comps_t = [tuple(c) for c in comps]
    if not comps:
        raise ReportError("no site power sensors to compute KPIs from")
    params: list[object] = []
    window = []
    if start is not None:
        window.append("event_start >= ?")
    if end is not None:
        window.append("event_start < ?")
    if as_of is not None:
        window.append("belief_time <= ?")

    def where(ids: set[int], prefix: str = "") -> str:
        params.extend(x.astimezone(UTC) for x in (start, end, as_of) if x is not None)
        conds = [f"sensor_id IN ({', '.join(map(str, sorted(ids)))})", *window]
        return " AND ".join(prefix + c for c in conds)

    max_k = max(
        [c[4] for c in comps_t] + [p[2] for p in prices.values()] + [b[2] for b in baselines] + [1]
    )
    offs = ", ".join(f"({i})" for i in range(max_k))
    dbl = "DOUBLE PRECISION"
    comp_values = values_list(
        comps_t,
        [
            "BIGINT",
            "BIGINT",
            "VARCHAR",
            dbl,
            "BIGINT",
            "BIGINT",
            "BIGINT",
            "BOOLEAN",
            dbl,
            dbl,
            dbl,
            dbl,
            dbl,
            "BIGINT",
            dbl,
            dbl,
        ],
    )
    site_values = values_list(
        sites,
        ["BIGINT", "DOUBLE PRECISION", "BIGINT", "BIGINT", "DOUBLE PRECISION", "DOUBLE PRECISION"],
    )
    price_ctes = ""
    price_join = ""
    if prices:
        price_where = where({p[0] for p in prices.values()}, "b.")
        price_values = values_list(
            list(prices.values()), ["BIGINT", "DOUBLE PRECISION", "BIGINT", "BIGINT", "BIGINT"]
        )
        pair_values = values_list([(i, c, p) for (c, p), i in pairs.items()], ["BIGINT"] * 3)
        # prices joined once per event through one BIGINT key: epoch seconds * 1024 + pair id,
        # where a pair is a site's (consumption price, production price) combination
        price_ctes = f""",
pcomp(sensor_id, factor, k, step_s, pid) AS (VALUES {price_values}),
ppair(pair_id, cpid, ppid) AS (VALUES {pair_values}),
latest_price AS ({latest_values_sql(dialect, price_where)}),
pexp AS (
  SELECT {epoch_seconds("l.event_start", dialect)} + o.k * c.step_s AS ts, c.pid,
         l.event_value * c.factor AS v
  FROM latest_price l JOIN pcomp c ON c.sensor_id = l.sensor_id JOIN offs o ON o.k < c.k
),
pexp2 AS (
  SELECT x.ts * 1024 + pr.pair_id AS pkey,
         max(CASE WHEN x.pid = pr.cpid THEN x.v END) AS cprice,
         max(CASE WHEN x.pid = pr.ppid THEN x.v END) AS pprice
  FROM pexp x JOIN ppair pr ON x.pid = pr.cpid OR x.pid = pr.ppid
  GROUP BY x.ts, pr.pair_id
)"""
        price_join = """
  LEFT JOIN pexp2 pz ON pz.pkey = e.ts * 1024 + s.pair_id"""
        if len(pairs) > 1024:
            raise ReportError(f"{len(pairs)} price combinations in one KPI query; at most 1024")
    power_ids = {c[1] for c in comps}
    has_pivot = any(not c[7] for c in comps_t)
    has_direct = any(c[7] for c in comps_t)
    ctes = []
    if dialect == "duckdb":
        if has_pivot:
            ctes.append(_duckdb_power_ctes(slots, lambda: where(power_ids, "l."), bool(baselines)))
    else:
        if has_pivot:
            ctes.append(_power_ctes(dialect, where(power_ids, "b."), bool(baselines)))
    cp_col = "pz.cprice" if prices else "CAST(NULL AS DOUBLE PRECISION)"
    pp_col = "pz.pprice" if prices else "CAST(NULL AS DOUBLE PRECISION)"
    parts = []
    if has_pivot:
        ctes.append(f"""evt AS (
  SELECT e.*, {epoch_seconds("e.t", dialect)} AS ts FROM ev e
),
net0 AS (
  SELECT e.site_id, e.t, e.ts, s.h, s.step_s,
    CASE WHEN e.n_site > 0 THEN e.site_mw
         ELSE coalesce(e.device_mw, 0) + coalesce(e.load_mw, 0) - coalesce(e.pv_mw, 0) END AS net_mw,
    e.device_mw, e.load_mw, e.pv_mw, e.baseline_device_mw, e.cycles_rate,
    coalesce({cp_col}, s.cprice_fixed) AS cprice,
    coalesce({pp_col}, s.pprice_fixed, {cp_col}, s.cprice_fixed) AS pprice
  FROM evt e JOIN sites s ON s.site_id = e.site_id{price_join}
  WHERE e.n_power > 0
),
net_pivot AS (
  SELECT site_id, t, ts, h, step_s, net_mw,
    net_mw - coalesce(device_mw, 0) + coalesce(baseline_device_mw, 0) AS baseline_mw,
    device_mw, load_mw, pv_mw, cycles_rate, cprice, pprice
  FROM net0
)""")
        parts.append("SELECT * FROM net_pivot")
    if has_direct:
        # one sensor per site: every column straight from its beliefs, not de-duplicated
        # (kpi_sql counts events sharing a step; kpis_for_specs re-runs if there are any)
        src, cond = "beliefs", f"c.direct AND {where(power_ids, 'l.')}"
        ts = epoch_seconds("l.event_start", dialect)
        join = f"\n  LEFT JOIN pexp2 pz ON pz.pkey = ({ts}) * 1024 + c.pair_id" if prices else ""
        ctes.append(f"""net_direct AS (
  SELECT c.site_id, l.event_start AS t, {ts} AS ts, c.h, c.step_s,
    l.event_value * c.net_factor AS net_mw,
    l.event_value * c.net_factor - coalesce(l.event_value * c.device_factor, 0) AS baseline_mw,
    l.event_value * c.device_factor AS device_mw, l.event_value * c.load_factor AS load_mw,
    l.event_value * c.pv_factor AS pv_mw, CAST(NULL AS DOUBLE PRECISION) AS cycles_rate,
    coalesce({cp_col}, c.cprice_fixed) AS cprice,
    coalesce({pp_col}, c.pprice_fixed, {cp_col}, c.cprice_fixed) AS pprice
  FROM {src} l JOIN comp c ON c.sensor_id = l.sensor_id{join}
  WHERE {cond}
)""")
        parts.append("SELECT * FROM net_direct")
    baseline_cte = ""
    if baselines:
        bl_values = values_list(
            baselines, ["BIGINT", "TIMESTAMPTZ", "BIGINT", "BIGINT", "DOUBLE PRECISION"]
        )
        baseline_cte = f",\nbl(site_id, t0, n, step_s, v) AS (VALUES {bl_values})"
    comp_cols = (
        "site_id, sensor_id, role, factor, k, step_s, slot, direct, net_factor, device_factor, "
        "load_factor, pv_factor, h, pair_id, cprice_fixed, pprice_fixed"
    )
    body = ",\n".join(ctes)
    sql = f"""
WITH comp({comp_cols}) AS (VALUES {comp_values}),
sites(site_id, h, pair_id, step_s, cprice_fixed, pprice_fixed) AS (VALUES {site_values}),
offs(k) AS (VALUES {offs}){baseline_cte}{price_ctes},
{body},
net AS ({" UNION ALL ".join(parts)})"""
    return sql, params
