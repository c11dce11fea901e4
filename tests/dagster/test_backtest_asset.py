"""The ``backtests`` asset: a real materialization of one day on a DuckDB store with the demo
site, its results saved and its totals in the metadata."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dagster import AssetKey, materialize

from assets_defs.backtests import backtests
from flex_pipelines.backtest.store import load_days
from flex_pipelines.beliefs import open_store
from resources import BeliefStoreResource
from tests.unit.test_backtest_support import demo_backtest_store

DAY = date(2016, 8, 1)


def test_a_range_run_has_each_days_metadata_and_a_chart(db_url: str, instance) -> None:
    with open_store(db_url) as s:
        demo_backtest_store(s, DAY, DAY + timedelta(days=1))
    from flex_pipelines.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={AssetKey("backtests")}
    )
    result = job.execute_in_process(
        instance=instance,
        run_config={
            "resources": {"store": {"config": {"url": db_url}}},
            "ops": {"backtests": {"config": {"variants": "forecast"}}},
        },
        tags={
            "dagster/asset_partition_range_start": DAY.isoformat(),
            "dagster/asset_partition_range_end": (DAY + timedelta(days=1)).isoformat(),
        },
    )
    assert result.success
    mats = instance.fetch_materializations(AssetKey("backtests"), limit=5).records
    assert sorted(r.asset_materialization.partition for r in mats) == ["2016-08-01", "2016-08-02"]
    meta = {k: v.value for k, v in mats[0].asset_materialization.metadata.items()}
    assert meta["run_days"] == 2 and "data:image/png;base64," in meta["run_chart"]


def test_one_day_is_backtested_saved_and_summed_in_the_metadata(db_url: str, instance) -> None:
    with open_store(db_url) as s:
        ids = demo_backtest_store(s, DAY, DAY)

    result = materialize(
        [backtests],
        partition_key=DAY.isoformat(),
        resources={"store": BeliefStoreResource(url=db_url)},
        run_config={"ops": {"backtests": {"config": {"variants": "forecast,naive"}}}},
        instance=instance,
    )

    assert result.success
    [record] = instance.fetch_materializations(AssetKey("backtests"), limit=5).records
    mat = record.asset_materialization
    assert mat.partition == DAY.isoformat()
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["site_days"] == 1 and meta["run_sites"] == 1 and meta["run_days"] == 1
    [run_id] = meta["run_backtest_runs"]
    with open_store(db_url) as s:
        rows = load_days(s, run_id)
    assert sorted(rows["variant"]) == ["forecast", "naive", "perfect"]
    saved = {r["variant"]: r["baseline_cost"] - r["cost"] for r in rows.to_dicts()}
    for v in ("forecast", "naive", "perfect"):
        assert meta[f"savings_{v}"] == pytest.approx(saved[v], abs=1e-4)
    totals = {t["variant"]: t for t in meta["run_totals"] if t["site_id"] == ids["site"]}
    assert totals["perfect"]["value_capture"] == 1.0
    assert meta[f"run_value_capture_site_{ids['site']}"] == pytest.approx(
        totals["forecast"]["value_capture"], abs=1e-4
    )
