"""Forecasts: day-ahead forecasts of every sensor with a forecast config, per local day."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, MetadataValue, asset

from assets_defs.inbox import inbox_beliefs
from assets_defs.partitions import daily_partitions, window_utc
from flex_pipelines.pipeline import (
    day_windows,
    forecast_accuracy_summary,
    forecast_days,
    forecast_sensors,
)
from resources import STORE_POOL, STORE_RETRY, BeliefStoreResource


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[inbox_beliefs],
    group_name="forecasting",
    kinds={"python", "scikitlearn"},
    owners=["team:forecasting"],
    pool=STORE_POOL,
    retry_policy=STORE_RETRY,
)
def forecasts(context: AssetExecutionContext, store: BeliefStoreResource) -> MaterializeResult:
    """Day-ahead forecasts of sensors marked with ``attributes["forecast"]``, saved on the same
    sensors by the "FlexPipelines forecaster" source, made at gate closure the day before
    (``FLEXPIPE_GATE_CLOSURE``, default 12:00 local). A sensor without history is skipped with
    its reason in the metadata. Where actual values already exist (backfills, re-runs), the
    metadata holds each sensor's accuracy over the window (MAE, RMSE, sMAPE).
    """
    start, end = window_utc(context.partition_time_window)
    days = [d for d, _, _ in day_windows(start, end)]
    made, skipped = 0, []
    with store.open() as s:
        ids = forecast_sensors(s)
        for sid in ids:
            n_new, why = forecast_days(s, sid, days)
            made += n_new
            skipped += why
        accuracy = forecast_accuracy_summary(s, ids, start, end)
    for reason in skipped[:5]:
        context.log.warning(f"forecast skipped: {reason}")
    return MaterializeResult(
        metadata={
            "row_count": made,
            "sensors": MetadataValue.json(ids),
            "skipped": MetadataValue.json(skipped[:50]),
            "n_skipped": len(skipped),
            # where actual values already exist (backfills, re-runs): MAE etc. per sensor
            "accuracy": MetadataValue.json(accuracy),
            **{f"mae_sensor_{a['sensor_id']}": a["mae"] for a in accuracy},
        }
    )
