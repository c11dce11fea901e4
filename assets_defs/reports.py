"""Reports: the reports configured on each site (profit-loss, aggregator, SQL), per local day."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, MetadataValue, asset

from assets_defs.partitions import daily_partitions, window_utc
from assets_defs.schedules import schedules
from flex_pipelines.pipeline import list_sites, run_site_reports, site_kpis_summary
from resources import STORE_POOL, STORE_RETRY, BeliefStoreResource


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[schedules],
    group_name="reporting",
    kinds={"python", "polars"},
    owners=["team:reporting"],
    pool=STORE_POOL,
    retry_policy=STORE_RETRY,
)
def reports(context: AssetExecutionContext, store: BeliefStoreResource) -> MaterializeResult:
    """Reports configured on sites (``asset.attributes["reports"]``) over the partition window,
    saved on their output sensors by reporter sources, and the sites' daily KPIs (energy, cost
    and savings against the unscheduled baseline). Metadata per day (also in a range run): KPIs
    and cost (EUR); the run's report totals, total cost and daily cost chart as ``run_*``.
    """
    start, end = window_utc(context.partition_time_window)
    with store.open() as s:
        sites = [site.id for site in list_sites(s)]
        records = [r for sid in sites for r in run_site_reports(s, sid, start, end)]
        kpis, chart = site_kpis_summary(s, sites, start, end)
    totals = [
        {k: v for k, v in r.items() if isinstance(v, int | float | str | None)} for r in records
    ]
    for day in context.partition_keys:  # each day's own KPIs and cost, also in a range run
        own = [k for k in kpis if str(k.get("day", ""))[:10] == day]
        context.add_asset_metadata(
            {"kpi_days": len(own), "kpis": MetadataValue.json(own), **_cost("cost_eur", own)},
            partition_key=day,
        )
    meta = {
        "run_row_count": sum(int(r.get("n_new_beliefs") or 0) for r in records),
        "run_reports": len(records),
        "run_results": MetadataValue.json(totals),
        "run_kpi_days": len(kpis),
        **_cost("run_cost_eur", kpis),
    }
    if chart:
        meta["run_cost_chart"] = MetadataValue.md(chart)
    return MaterializeResult(metadata=meta)


def _cost(name: str, kpis: list[dict]) -> dict[str, float]:
    costs = [k["cost"] for k in kpis if isinstance(k.get("cost"), int | float)]
    return {name: round(sum(costs), 2)} if costs else {}
