"""Batch scheduling in the service: a fleet scheduled in one batch (two set-based reads, one bulk
save) gets exactly the schedules its sites get one at a time, on both backends; a failing site
is reported and does not fail the batch."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from flex_pipelines.fleet import build_fleet
from flex_pipelines.service import LOCAL_ADMIN, schedule
from flex_pipelines.service.batch import schedule_sites
from flex_pipelines.time import day_window


def test_a_batch_equals_one_site_at_a_time(store) -> None:  # noqa: ANN001
    fleet = build_fleet(store, 12)
    start, end = day_window(fleet.days[0], "Europe/Brussels")
    as_of = start - timedelta(hours=1)
    batch = schedule_sites(LOCAL_ADMIN, store, fleet.site_ids, start, end, as_of=as_of)
    assert batch.failures == []
    assert len(batch.records) == 12
    # 12 sites × (96 power + 97 SoC); one ingestion-log row per sensor
    assert batch.n_new == 12 * (96 + 97)
    assert sum(r.n_beliefs for r in batch.records) == 12 * 96
    for rec in batch.records:
        (alone,) = schedule(
            LOCAL_ADMIN, store, start, end, asset_id=rec.site_id, as_of=as_of, save=False
        )
        got = rec.runs[0].result.result.devices[0].power_mw
        want = alone.runs[0].result.result.devices[0].power_mw
        np.testing.assert_allclose(got, want, atol=1e-9)
        assert abs(rec.cost_eur - alone.cost_eur) < 1e-6
    # the saved schedules are the batch's, once per site
    power = [rec.power_sensor_ids[0] for rec in batch.records]
    saved = store.search_beliefs(power, start, end, source_types=["scheduler"])
    assert saved.height == 12 * 96
    assert {i.sensor_id for i in store.ingestions_since(0)} >= set(power)
    # saving again changes nothing (FlexMeasures' save-changed-beliefs-only)
    again = schedule_sites(LOCAL_ADMIN, store, fleet.site_ids, start, end, as_of=as_of)
    assert again.n_new == 0


def test_a_failing_site_is_reported_and_the_rest_is_scheduled(store) -> None:  # noqa: ANN001
    fleet = build_fleet(store, 3)
    start, end = day_window(fleet.days[0], "Europe/Brussels")
    bad = fleet.site_ids[1]
    site = store.get_asset(bad)
    store.update_asset(
        bad,
        flex_context={
            **site.flex_context,
            "site-power-capacity": "0 kW",
            "relax-constraints": False,
        },
    )  # noqa: E501
    store.update_asset(
        store.list_assets(parent_id=bad)[0].id,
        flex_model={
            **store.list_assets(parent_id=bad)[0].flex_model,
            "soc-targets": [
                {"datetime": (end - timedelta(hours=1)).isoformat(), "value": "99999 kWh"}
            ],
        },  # noqa: E501
    )
    batch = schedule_sites(LOCAL_ADMIN, store, fleet.site_ids, start, end, as_of=start)
    assert [f.site_id for f in batch.failures] == [bad]
    assert "soc-targets" in batch.failures[0].reason
    assert sorted(r.site_id for r in batch.records) == sorted(set(fleet.site_ids) - {bad})
    assert batch.n_new > 0


def test_demo_with_sites_builds_and_schedules_a_fleet(tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from flex_pipelines.beliefs import open_store
    from flex_pipelines.cli.main import app

    db = str(tmp_path / "fleet.duckdb")
    out = CliRunner().invoke(app, ["demo", "--sites", "4", "--db", db])
    assert out.exit_code == 0, out.output
    assert "sites/s" in out.output and "772" in out.output  # 4 × (96 power + 97 SoC) saved
    with open_store(db) as s:
        assert s.count_beliefs() > 4 * 2 * 96
