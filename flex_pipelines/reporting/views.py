"""Stable SQL views for analysts, identical in DuckDB and PostgreSQL (docs/sql-views.md).

- ``latest_beliefs`` (created with the schema): one value per sensor and event;
- ``schedules``: the latest scheduler belief per sensor, event and scheduler source, with the
  source's name/model/version and the device asset;
- ``forecasts``: every forecaster belief with its horizon (``belief_horizon_s`` and hours) and
  cumulative probability;
- ``report_values``: the latest reporter belief per sensor, event and reporter source, with the
  reporter's name/model/version (the version holds the config hash);
- ``site_timeline``: one row per site and event of the site's grid, with prices, net site
  power, devices, PV, inflexible loads and the baseline — in kW and currency/MWh;
- ``backtest_daily`` and ``backtest_totals``: backtest runs per day and variant, and per
  variant over a run, with savings and value capture (tables of
  :mod:`flex_pipelines.backtest.store`, created here when missing).

``site_timeline`` is generated from the sites found when :func:`ensure_views` runs (assets with
a flex-context, see :mod:`flex_pipelines.reporting.site`); run it again after adding sites.
"""

from __future__ import annotations

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import ReportError
from flex_pipelines.reporting.event_sql import per_event_sql
from flex_pipelines.reporting.site import Catalog, find_sites, site_spec

__all__ = ["ensure_views", "VIEW_NAMES", "site_timeline_sql"]

VIEW_NAMES = [
    "latest_beliefs",
    "schedules",
    "forecasts",
    "report_values",
    "site_timeline",
    "backtest_daily",
    "backtest_totals",
]

_EVENT_END = "b.event_start + s.event_resolution_s * INTERVAL '1 second'"

_VIEWS = {
    "schedules": f"""
SELECT DISTINCT ON (b.sensor_id, b.event_start, b.source_id)
  b.sensor_id, s.name AS sensor_name, s.unit, s.asset_id, a.name AS asset_name,
  b.event_start, {_EVENT_END} AS event_end, b.belief_time, b.event_value,
  b.source_id, src.name AS source_name, src.model AS source_model,
  src.version AS source_version
FROM beliefs b
JOIN sensors s ON s.id = b.sensor_id
JOIN sources src ON src.id = b.source_id
LEFT JOIN assets a ON a.id = s.asset_id
WHERE src.type = 'scheduler'
ORDER BY b.sensor_id, b.event_start, b.source_id, b.belief_time DESC,
         abs(b.cumulative_probability - 0.5)""",
    "forecasts": f"""
SELECT b.sensor_id, s.name AS sensor_name, s.unit, s.asset_id, b.event_start,
  {_EVENT_END} AS event_end, b.belief_time, b.belief_horizon_s,
  b.belief_horizon_s / 3600.0 AS belief_horizon_h, b.cumulative_probability, b.event_value,
  b.source_id, src.name AS source_name, src.model AS source_model,
  src.version AS source_version
FROM beliefs b
JOIN sensors s ON s.id = b.sensor_id
JOIN sources src ON src.id = b.source_id
WHERE src.type = 'forecaster'""",
    "report_values": f"""
SELECT DISTINCT ON (b.sensor_id, b.event_start, b.source_id)
  b.sensor_id, s.name AS sensor_name, s.unit, s.asset_id, b.event_start,
  {_EVENT_END} AS event_end, b.belief_time, b.event_value, b.source_id,
  src.name AS reporter, src.model AS reporter_model, src.version AS reporter_version
FROM beliefs b
JOIN sensors s ON s.id = b.sensor_id
JOIN sources src ON src.id = b.source_id
WHERE src.type = 'reporter'
ORDER BY b.sensor_id, b.event_start, b.source_id, b.belief_time DESC""",
}

#: value capture = (baseline − cost) / (baseline − perfect foresight); NULL without a gap
_CAPTURE = "CASE WHEN abs({b} - {p}) > 1e-9 THEN ({b} - {c}) / ({b} - {p}) END"

_BACKTEST_VIEWS = {
    "backtest_daily": f"""
SELECT d.run_id, r.site_id, r.site_name, d.day, d.variant, d.viewpoint, d.cost,
  d.baseline_cost, d.perfect_cost, d.baseline_cost - d.cost AS savings,
  {_CAPTURE.format(b="d.baseline_cost", p="d.perfect_cost", c="d.cost")} AS value_capture,
  d.over_limit_mwh, d.solve_s, r.currency, r.gate_closure
FROM backtest_days d JOIN backtest_runs r ON r.id = d.run_id""",
    "backtest_totals": f"""
SELECT d.run_id, r.site_id, r.site_name, r.first_day, r.last_day, d.variant,
  count(*) AS days, sum(d.cost) AS cost, sum(d.baseline_cost) AS baseline_cost,
  sum(d.perfect_cost) AS perfect_cost, sum(d.baseline_cost) - sum(d.cost) AS savings,
  {_CAPTURE.format(b="sum(d.baseline_cost)", p="sum(d.perfect_cost)", c="sum(d.cost)")}
    AS value_capture,
  sum(d.over_limit_mwh) AS over_limit_mwh, avg(d.solve_s) AS solve_s_per_day, r.currency
FROM backtest_days d JOIN backtest_runs r ON r.id = d.run_id
GROUP BY d.run_id, r.site_id, r.site_name, r.first_day, r.last_day, d.variant, r.currency""",
}

_EMPTY_TIMELINE = """
SELECT CAST(NULL AS BIGINT) AS site_id, CAST(NULL AS VARCHAR) AS site_name,
  CAST(NULL AS TIMESTAMPTZ) AS event_start, CAST(NULL AS DOUBLE PRECISION) AS consumption_price,
  CAST(NULL AS DOUBLE PRECISION) AS production_price,
  CAST(NULL AS DOUBLE PRECISION) AS site_power_kw,
  CAST(NULL AS DOUBLE PRECISION) AS baseline_power_kw,
  CAST(NULL AS DOUBLE PRECISION) AS devices_power_kw,
  CAST(NULL AS DOUBLE PRECISION) AS pv_production_kw,
  CAST(NULL AS DOUBLE PRECISION) AS inflexible_load_kw
WHERE 1 = 0"""


def site_timeline_sql(store: BeliefStore) -> str:
    """The SELECT behind ``site_timeline`` for the sites stored now (no window: all time)."""
    specs, cat = [], Catalog(store)
    for site_id in find_sites(store):
        try:
            specs.append(site_spec(store, site_id, cat))
        except ReportError:
            continue  # a site without power sensors or prices has no timeline
    if not specs:
        return _EMPTY_TIMELINE
    # force_dedup: a view cannot re-run itself when a duplicate check fails, so de-duplicate
    head, params = per_event_sql(specs, None, None, dialect=store.dialect, force_dedup=True)
    assert not params
    names = ", ".join(
        "(CAST({} AS BIGINT), CAST('{}' AS VARCHAR))".format(s.site_id, s.name.replace("'", "''"))
        if i == 0
        else "({}, '{}')".format(s.site_id, s.name.replace("'", "''"))
        for i, s in enumerate(specs)
    )
    return f"""{head},
names(site_id, site_name) AS (VALUES {names})
SELECT n.site_id, names.site_name, n.t AS event_start,
  n.cprice AS consumption_price, n.pprice AS production_price,
  n.net_mw * 1000 AS site_power_kw, n.baseline_mw * 1000 AS baseline_power_kw,
  n.device_mw * 1000 AS devices_power_kw, n.pv_mw * 1000 AS pv_production_kw,
  n.load_mw * 1000 AS inflexible_load_kw
FROM net n JOIN names ON names.site_id = n.site_id"""


def ensure_views(store: BeliefStore) -> list[str]:
    """Create (or replace) the analyst views; idempotent. Returns the view names."""
    from flex_pipelines.backtest.store import ensure_tables

    ensure_tables(store)
    with store.transaction():
        for name, body in _VIEWS.items():
            store.execute(f"DROP VIEW IF EXISTS {name}")
            store.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
        store.execute("DROP VIEW IF EXISTS site_timeline")
        store.execute(f"CREATE OR REPLACE VIEW site_timeline AS {site_timeline_sql(store)}")
        for name, body in _BACKTEST_VIEWS.items():
            store.execute(f"DROP VIEW IF EXISTS {name}")
            store.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
    return list(VIEW_NAMES)
