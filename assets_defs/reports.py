"""Reports: the reports configured on each site (profit-loss, aggregator, SQL), per local day."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, MetadataValue, asset

from assets_defs.partitions import daily_partitions, window_utc
from assets_defs.schedules import schedules
from flex_pipelines.pipeline import list_sites, run_site_reports
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
    saved on their output sensors by reporter sources. Metadata: per-report totals (e.g. costs
    and revenues in EUR) and row counts.
    """
    start, end = window_utc(context.partition_time_window)
    with store.open() as s:
        records = [r for site in list_sites(s) for r in run_site_reports(s, site.id, start, end)]
    totals = [{k: v for k, v in r.items() if isinstance(v, int | float | str | None)} for r in records]  # fmt: skip
    return MaterializeResult(
        metadata={
            "row_count": sum(int(r.get("n_new_beliefs") or 0) for r in records),
            "reports": len(records),
            "results": MetadataValue.json(totals),
        }
    )
