"""A 7-day single-run backfill records each day's own cost, site-days and timings."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey

from flex_pipelines.pipeline import run_pipeline
from tests.dagster.conftest import DAY, build_site


def _materializations(instance, key: str) -> dict[str, dict]:
    records = instance.fetch_materializations(AssetKey(key), limit=100).records
    return {
        r.asset_materialization.partition: {
            k: v.value for k, v in r.asset_materialization.metadata.items()
        }
        for r in records
    }


def test_a_seven_day_backfill_shows_each_days_own_cost_and_site_days(db_url: str, instance) -> None:
    build_site(db_url, days=8)
    last = DAY + timedelta(days=6)

    summary = run_pipeline(db_url, DAY, last, progress=False, instance=instance)

    assert summary.success, summary.error
    [run] = instance.get_runs()
    assert run.tags["dagster/asset_partition_range_start"] == DAY.isoformat()  # one run
    days = [(DAY + timedelta(days=i)).isoformat() for i in range(7)]
    sched = _materializations(instance, "schedules")
    assert sorted(sched) == days
    for day in days:
        assert sched[day]["site_days"] == 1 and sched[day]["row_count"] == 96, day
        assert sched[day]["run_site_days"] == 7 and sched[day]["run_days"] == 7
        assert sched[day]["per_site"][0]["start"][:10] <= day  # its own window
        assert "power" in sched[day]["schedule"]  # the sparklines, shown without a click
    # each day's PNG chart: an observation of its partition, drawn after the materialization
    observed = instance.fetch_observations(AssetKey("schedules"), limit=100).records
    charts = {
        r.asset_observation.partition: r.asset_observation.metadata["chart"].value
        for r in observed
        if "chart" in r.asset_observation.metadata
    }
    assert sorted(charts) == days and all(c.startswith("![") for c in charts.values())
    costs = [sched[d]["cost_eur"] for d in days]
    assert len(set(costs)) == 7  # real prices: every day costs something else
    assert abs(sum(costs) - sched[days[0]]["run_cost_eur"]) < 0.05
    # the runner's summary: run totals, and each day's own metadata
    assert summary.assets["schedules"]["site_days"] == 7
    assert [summary.partitions["schedules"][d]["cost_eur"] for d in days] == costs
    reports = _materializations(instance, "reports")
    assert [reports[d]["kpi_days"] for d in days] == [1] * 7
    assert [reports[d]["kpis"][0]["day"][:10] for d in days] == days
