"""The SQL behind the daily KPIs and the site timeline, for DuckDB and PostgreSQL.

:func:`per_event_sql` builds a WITH-chain ending in ``net`` (one row per site and event of the
site's grid: net, baseline, device, load and PV power in MW, prices in currency/MWh);
:func:`kpi_sql` adds the daily aggregation. What the KPIs mean is documented in
:mod:`flex_pipelines.reporting.kpis`; this module is about how they are computed fast:

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

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from flex_pipelines.reporting.base import ReportError
from flex_pipelines.reporting.site import SiteSpec
from flex_pipelines.time import get_zone

__all__ = ["kpi_sql", "per_event_sql", "latest_values_sql"]

#: Which belief counts for an event: observed values (measurements, market prices: any source
#: type but forecaster and scheduler) before schedules before forecasts; within a kind, the
#: latest belief, then the probability closest to 0.5 (lower on a tie), then the higher
#: source id. So costs settle at published prices, not at a forecast made at the same time.
#: Needs the sources table joined as ``src``.
SOURCE_RANK = "CASE src.type WHEN 'forecaster' THEN 2 WHEN 'scheduler' THEN 1 ELSE 0 END"
_LATEST_ORDER = (
    f"ORDER BY b.sensor_id, b.event_start, {SOURCE_RANK}, b.belief_time DESC, "
    "abs(b.cumulative_probability - 0.5), b.cumulative_probability, b.source_id DESC"
)


def _ts(dt: datetime) -> str:
    return f"TIMESTAMPTZ '{dt.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}+00'"


def _literal(x: object) -> str:
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
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
    """SQL for the UTC offset (seconds) of ``col`` (epoch seconds) in ``timezone`` in [start, end)."""
    tz = get_zone(timezone)
    t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    points: list[tuple[datetime, int]] = []
    while t <= end + timedelta(hours=1):
        off = int(t.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
        if not points or points[-1][1] != off:
            points.append((t, off))
        t += timedelta(hours=1)
    if len(points) == 1:
        return str(points[0][1])
    parts = [f"WHEN {col} < {int(points[i + 1][0].timestamp())} THEN {points[i][1]}"
             for i in range(len(points) - 1)]  # fmt: skip
    return f"CASE {' '.join(parts)} ELSE {points[-1][1]} END"


def _epoch_s(col: str, dialect: str) -> str:
    """Epoch seconds (BIGINT) of a TIMESTAMPTZ column; DuckDB's epoch_us avoids ICU."""
    if dialect == "duckdb":
        return f"(epoch_us({col}) // 1000000)"
    return f"CAST(date_part('epoch', {col}) AS BIGINT)"  # double, not numeric: faster


def latest_values_sql(dialect: str, where: str) -> str:
    """One value per sensor and event (see :data:`SOURCE_RANK`), fastest per dialect.

    ``where`` refers to the beliefs as ``b``. PostgreSQL: ``DISTINCT ON``. DuckDB: a hash
    aggregate with ``arg_max`` over the same ordering key, several times faster than its
    ``DISTINCT ON`` on tens of millions of rows.
    """
    src = "beliefs b JOIN sources src ON src.id = b.source_id"
    if dialect == "duckdb":
        return (
            f"SELECT b.sensor_id, b.event_start, arg_max(b.event_value, (-({SOURCE_RANK}), "
            "b.belief_time, -abs(b.cumulative_probability - 0.5), -b.cumulative_probability, "
            f"b.source_id)) AS event_value FROM {src} WHERE {where} "
            "GROUP BY b.sensor_id, b.event_start"
        )
    return (
        f"SELECT DISTINCT ON (b.sensor_id, b.event_start) b.sensor_id, b.event_start, "
        f"b.event_value FROM {src} WHERE {where} {_LATEST_ORDER}"
    )


def _baseline_rows(s: SiteSpec, start: datetime, end: datetime, base_s: int) -> list[tuple]:
    """Each process at its INFLEXIBLE start in every local day of the window.

    The INFLEXIBLE placement comes from the process scheduler itself (its first allowed start,
    so time restrictions count); when that day has no allowed placement the process is put at
    local midnight. Rows: (site, first event, number of site events, step, power MW).
    """
    import numpy as np

    from flex_pipelines.errors import FlexPipelinesError
    from flex_pipelines.scheduling.process import schedule_process
    from flex_pipelines.time import n_steps

    rows = []
    tz = get_zone(s.timezone)
    day = start.astimezone(tz).date()
    while True:
        d0 = datetime(day.year, day.month, day.day, tzinfo=tz)
        nxt = day + timedelta(days=1)
        d1 = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
        if d0 >= end:
            return rows
        for p in s.processes:
            if d0 < start:
                continue
            t0, n = d0, int(p.duration.total_seconds()) // base_s
            try:
                fm = {**p.flex_model, "process-type": "INFLEXIBLE", "power": f"{p.power_mw} MW"}
                steps = n_steps(d0, d1, p.resolution)
                sched = schedule_process(np.zeros(steps), d0, p.resolution, fm, timezone=s.timezone)
                on = np.flatnonzero(sched.power_mw)
                if on.size:
                    t0 = d0.astimezone(UTC) + int(on[0]) * p.resolution  # clock time
                    n = int(on.size * p.resolution.total_seconds()) // base_s
            except FlexPipelinesError:
                pass  # no allowed placement that day: keep local midnight
            if n > 0:
                rows.append((s.site_id, t0, n, base_s, p.power_mw))
        day = nxt


_BASELINE_ROWS = (
    "SELECT bl.site_id, {slot} AS {col}, bl.t0 + o.k * bl.step_s * INTERVAL '1 second' AS t, "
    "bl.v{key} FROM bl JOIN offs o ON o.k < bl.n"
)
_EV_COLUMNS = (
    "site_id, t, n_power, n_site, site_mw, device_mw, load_mw, pv_mw, baseline_device_mw, "
    "cycles_rate"
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


# The latest_beliefs ordering as one HUGEINT: belief time (µs), then closeness of the
# probability to 0.5 (in steps of 1e-4), then the lower probability, then the higher source id.
_DUCKDB_LATEST_KEY = (
    f"(((CAST(2 - ({SOURCE_RANK}) AS HUGEINT) * 100000000000000000 + epoch_us(l.belief_time)) "
    "* 10001 + CAST(round((0.5 - abs(l.cumulative_probability - 0.5)) * 10000) AS HUGEINT)) * 2 "
    "+ CAST(l.cumulative_probability <= 0.5 AS INTEGER)) * 10000000 + l.source_id"
)


def _role_factors(role: str, factor: float) -> list[float | None]:
    """(net, device, load, PV) factors of one sensor: value × factor → MW in that column."""
    net = -factor if role == "pv" else factor
    return [
        net,
        factor if role == "device" else None,
        factor if role == "load" else None,
        factor if role == "pv" else None,
    ]


def _nullable_sum(cols: list[str]) -> str:
    if not cols:
        return "CAST(NULL AS DOUBLE)"
    if len(cols) == 1:
        return cols[0]
    nulls = " AND ".join(f"{c} IS NULL" for c in cols)
    return f"CASE WHEN {nulls} THEN NULL ELSE {' + '.join(f'coalesce({c}, 0)' for c in cols)} END"


def _duckdb_power_ctes(
    slots: dict[tuple[str, int], int], where: Callable[[], str], baselines: bool
) -> str:
    """DuckDB: de-duplication and pivot in ONE hash aggregation per site and event.

    Each sensor of a site has a slot (role, index); ``arg_max(v, key) FILTER (WHERE slot = j)``
    picks the latest belief of that sensor for the event. One 35M-group aggregation instead
    of two is what keeps a year of 1,000 sites within seconds.
    """
    key = _DUCKDB_LATEST_KEY
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
    {_nullable_sum(by_role.get("site", []))} AS site_mw,
    {_nullable_sum(by_role.get("device", []))} AS device_mw,
    {_nullable_sum(by_role.get("load", []))} AS load_mw,
    {_nullable_sum(by_role.get("pv", []))} AS pv_mw,
    baseline_device_mw,
    {_nullable_sum(cycles)} AS cycles_rate
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
            (s.site_id, base_s / 3600.0, pair_id, base_s,
             s.fixed_consumption_price, s.fixed_production_price)
        )  # fmt: skip
        site_baselines = []
        if s.processes and start is not None and end is not None:
            site_baselines = _baseline_rows(s, start, end, base_s)
            baselines += site_baselines
        mine = [c for c in comps if c[0] == s.site_id]
        for c in mine:
            c += [base_s / 3600.0, pair_id, s.fixed_consumption_price, s.fixed_production_price]
        # a site of one power sensor (of 15 minutes or coarser) needs no pivot and, on the fast
        # path, no de-duplication either: kpi_sql's duplicate check catches several beliefs
        # per event and kpis_for_specs then re-runs with force_dedup
        direct = (
            not force_dedup and len(mine) == 1 and mine[0][4] == 1 and not site_baselines
            and base_s >= 900
        )  # fmt: skip
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

    max_k = max([c[4] for c in comps_t] + [p[2] for p in prices.values()] + [b[2] for b in baselines] + [1])  # fmt: skip
    offs = ", ".join(f"({i})" for i in range(max_k))
    dbl = "DOUBLE PRECISION"
    comp_values = _values(comps_t, ["BIGINT", "BIGINT", "VARCHAR", dbl, "BIGINT", "BIGINT", "BIGINT", "BOOLEAN", dbl, dbl, dbl, dbl, dbl, "BIGINT", dbl, dbl])  # fmt: skip
    site_values = _values(sites, ["BIGINT", "DOUBLE PRECISION", "BIGINT", "BIGINT",
                                  "DOUBLE PRECISION", "DOUBLE PRECISION"])  # fmt: skip
    price_ctes = ""
    price_join = ""
    if prices:
        price_where = where({p[0] for p in prices.values()}, "b.")
        price_values = _values(list(prices.values()), ["BIGINT", "DOUBLE PRECISION", "BIGINT", "BIGINT", "BIGINT"])  # fmt: skip
        pair_values = _values([(i, c, p) for (c, p), i in pairs.items()], ["BIGINT"] * 3)
        # prices joined once per event through one BIGINT key: epoch seconds * 1024 + pair id,
        # where a pair is a site's (consumption price, production price) combination
        price_ctes = f""",
pcomp(sensor_id, factor, k, step_s, pid) AS (VALUES {price_values}),
ppair(pair_id, cpid, ppid) AS (VALUES {pair_values}),
latest_price AS ({latest_values_sql(dialect, price_where)}),
pexp AS (
  SELECT {_epoch_s("l.event_start", dialect)} + o.k * c.step_s AS ts, c.pid,
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
  SELECT e.*, {_epoch_s("e.t", dialect)} AS ts FROM ev e
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
        ts = _epoch_s("l.event_start", dialect)
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
        bl_values = _values(baselines, ["BIGINT", "TIMESTAMPTZ", "BIGINT", "BIGINT", "DOUBLE PRECISION"])  # fmt: skip
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
    offset = _offset_case(zones.pop(), start, end, "ts")
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
        baseline_cost = "CASE WHEN count(cprice) = count(*) THEN sum(b_buy * cprice - b_sell * pprice) * h END"  # fmt: skip
        baseline_peak = "max(baseline_mw)"
    else:  # no flexible devices: the baseline is the site itself
        baseline_cols = ""
        baseline_cost = "CASE WHEN count(cprice) = count(*) THEN sum(buy * cprice - sell * pprice) * h END"  # fmt: skip
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
