"""Reporting: reporters whose results are beliefs (profit/loss, aggregator, SQL), daily KPIs per
site computed in SQL on the store, stable SQL views for analysts, and charts.

No dagster here: the Dagster report assets call :func:`run_report` / :func:`run_asset_reports`
and :func:`site_kpis`, and attach :func:`schedule_chart_vega` / :func:`cost_chart_vega` specs.
"""

from __future__ import annotations

from flex_pipelines.reporting.aggregator import aggregate
from flex_pipelines.reporting.base import ReportError, ReportResult, config_hash
from flex_pipelines.reporting.charts import (
    cost_chart_png,
    cost_chart_vega,
    png_markdown,
    schedule_chart_data,
    schedule_chart_png,
    schedule_chart_vega,
)
from flex_pipelines.reporting.kpis import kpi_totals, kpis_for_specs, site_kpis
from flex_pipelines.reporting.profit_loss import profit_loss
from flex_pipelines.reporting.run import (
    REPORTERS,
    configured_reports,
    run_asset_reports,
    run_report,
)
from flex_pipelines.reporting.site import find_sites, site_spec, site_specs
from flex_pipelines.reporting.sql_reporter import SQLReportError, check_read_only_sql, sql_report
from flex_pipelines.reporting.views import VIEW_NAMES, ensure_views

__all__ = [
    "REPORTERS",
    "VIEW_NAMES",
    "cost_chart_png",
    "cost_chart_vega",
    "ensure_views",
    "find_sites",
    "kpi_totals",
    "kpis_for_specs",
    "png_markdown",
    "schedule_chart_data",
    "schedule_chart_png",
    "schedule_chart_vega",
    "site_kpis",
    "site_spec",
    "site_specs",
    "ReportError",
    "ReportResult",
    "SQLReportError",
    "aggregate",
    "check_read_only_sql",
    "config_hash",
    "configured_reports",
    "profit_loss",
    "run_asset_reports",
    "run_report",
    "sql_report",
]
