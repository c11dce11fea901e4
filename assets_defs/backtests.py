"""Backtests: every site with storage, replayed day by day and settled at realised values."""

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets_defs.forecasts import forecasts
from assets_defs.partitions import daily_partitions, window_utc
from flex_pipelines.backtest.charts import backtest_chart_png
from flex_pipelines.pipeline import day_windows
from flex_pipelines.reporting.charts import png_markdown
from flex_pipelines.service import LOCAL_ADMIN
from flex_pipelines.service.backtest import backtest_sites
from resources import STORE_POOL, STORE_RETRY, BeliefStoreResource


class BacktestConfig(Config):
    """Which variants to run (comma-separated names; empty: the default set)."""

    variants: str = ""


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[forecasts],
    group_name="backtesting",
    kinds={"python", "highs"},
    owners=["team:scheduling"],
    pool=STORE_POOL,
    retry_policy=STORE_RETRY,
)
def backtests(
    context: AssetExecutionContext, config: BacktestConfig, store: BeliefStoreResource
) -> MaterializeResult:
    """Each site with storage devices scheduled at its day-ahead viewpoint with the stored point
    forecasts, and on the same days with perfect foresight, naive forecasts and one input
    realised at a time; every schedule settled at realised prices and loads (docs/backtest.md).
    Saved in ``backtest_runs``/``backtest_days`` (views ``backtest_daily``, ``backtest_totals``).
    Metadata per day: savings per variant; the run's totals, value capture per site and a chart
    of the first site (cumulative savings, capture per day) as ``run_*``.
    """
    start, end = window_utc(context.partition_time_window)
    days = [d for d, _, _ in day_windows(start, end)]
    with store.open() as s:
        results, skipped = backtest_sites(
            LOCAL_ADMIN, s, days[0], days[-1], variants=config.variants or None
        )
    for day in context.partition_keys:
        own = [(r, d) for r in results for d in r.days if d.day.isoformat() == day]
        context.add_asset_metadata(
            {
                "site_days": len(own),
                **{
                    f"savings_{v}": round(sum(d.savings(v) for _, d in own), 4)
                    for v in (own[0][0].variant_names if own else [])
                },
            },
            partition_key=day,
        )
    totals = [{"site_id": r.site_id, **t.to_record()} for r in results for t in r.totals()]
    meta = {
        "run_sites": len(results),
        "run_days": sum(len(r.days) for r in results),
        "run_skipped_days": sum(len(r.skipped) for r in results),
        "run_skipped_sites": MetadataValue.json(skipped),
        "run_totals": MetadataValue.json(totals),
        "run_backtest_runs": MetadataValue.json([r.run_id for r in results]),
    }
    for t in totals:
        if t["variant"] == "forecast" and t["value_capture"] is not None:
            meta[f"run_value_capture_site_{t['site_id']}"] = round(t["value_capture"], 4)
    if results and len(results[0].days) > 1:  # cumulative savings and capture per day
        png = backtest_chart_png(results[0])
        meta["run_chart"] = MetadataValue.md(png_markdown(png, "backtest"))
    return MaterializeResult(metadata=meta)
