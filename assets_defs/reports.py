"""Reports: the reports configured on each site (profit-loss, aggregator, SQL), per local day."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, MetadataValue, asset

from assets_defs.partitions import daily_partitions, window_utc
from assets_defs.schedules import schedules
from flex_pipelines.pipeline import list_sites, run_site_reports, site_kpis_summary
from resources import STORE_POOL, BeliefStoreResource


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[schedules],
    group_name="reporting",
    kinds={"python", "polars"},
    owners=["team:reporting"],
    pool=STORE_POOL,
)
def reports(context: AssetExecutionContext, store: BeliefStoreResource) -> MaterializeResult:
    """Reports configured on sites (``asset.attributes["reports"]``) over the partition window,
    saved on their output sensors by reporter sources, and the sites' daily KPIs (energy, cost
    and savings against the unscheduled baseline). Metadata: per-report totals, KPIs, total cost
    (EUR) and a daily cost chart.
    """
    start, end = window_utc(context.partition_time_window)
    with store.open() as s:
        sites = [site.id for site in list_sites(s)]
        records = [r for sid in sites for r in run_site_reports(s, sid, start, end)]
        kpis, chart = site_kpis_summary(s, sites, start, end)
    totals = [{k: v for k, v in r.items() if isinstance(v, int | float | str | None)} for r in records]  # fmt: skip
    meta = {
        "row_count": sum(int(r.get("n_new_beliefs") or 0) for r in records),
        "reports": len(records),
        "results": MetadataValue.json(totals),
        "kpi_days": len(kpis),
        "kpis": MetadataValue.json(kpis[:62]),
    }
    costs = [k["cost"] for k in kpis if isinstance(k.get("cost"), int | float)]
    if costs:
        meta["cost_eur"] = round(sum(costs), 2)
    if chart:
        meta["cost_chart"] = MetadataValue.md(chart)
    return MaterializeResult(metadata=meta)
