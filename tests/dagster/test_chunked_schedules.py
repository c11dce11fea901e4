"""The schedules asset in chunks of sites: named chunks run alone, a failing site fails alone,
a chunk whose every site fails fails its step, and step outputs stay in the run's store."""

from __future__ import annotations

import pytest
from dagster import AssetKey, DagsterEventType

from flex_pipelines.beliefs import open_store
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.pipeline import list_sites
from flex_pipelines.service.chunks import Chunk, chunk_of, chunks_of, parse_chunk_key
from resources.step_io import TABLE
from tests.dagster.conftest import DAY, build_site


def _sites(url: str, n: int, broken: int | None = None) -> list[int]:
    """``n`` battery sites starting at 200 kWh; site number ``broken`` starts above its maximum
    SoC (invalid)."""
    for i in range(n):
        made = build_site(url, kind="battery", days=1, name=f"Account {i}")
        soc = "99 MWh" if i == broken else "200 kWh"
        with open_store(url) as s:
            bat = s.get_asset(made["battery"]["id"])
            s.update_asset(bat.id, flex_model={**bat.flex_model, "soc-at-start": soc})
    with open_store(url) as s:
        return sorted(x.id for x in list_sites(s))


def _run(url: str, instance, **targets):
    from flex_pipelines.definitions import defs

    job = defs.resolve_job_def("reoptimise_job")
    return job.execute_in_process(
        partition_key=DAY.isoformat(),
        instance=instance,
        asset_selection=[AssetKey("schedules")],
        raise_on_error=False,
        run_config={
            "resources": {"store": {"config": {"url": url}}},
            "ops": {"schedules": {"ops": {"schedule_targets": {"config": targets}}}},
        },
    )


def _scheduled_sites(url: str) -> set[int]:
    with open_store(url) as s:
        sites = list_sites(s)
        rows = s.query(
            "SELECT DISTINCT b.sensor_id FROM beliefs b JOIN sources s ON s.id = b.source_id "
            "WHERE s.type = 'scheduler'"
        )
    written = set(rows["sensor_id"].to_list())
    return {x.id for x in sites if set(x.power_sensor_ids()) & written}


def test_chunk_keys_are_id_ranges_and_bad_keys_are_named() -> None:
    assert chunk_of(7, 5) == Chunk(5, 9) and chunk_of(7, 5).key == "sites_5_9"
    assert list(chunks_of([12, 3, 7, 3], 5).items()) == [
        (Chunk(0, 4), [3]),
        (Chunk(5, 9), [7]),
        (Chunk(10, 14), [12]),
    ]
    assert parse_chunk_key("sites_5_9") == Chunk(5, 9) and 9 in Chunk(5, 9)
    for bad in ("sites_9_5", "site_1_2", "sites_1", "sites_a_b"):
        with pytest.raises(FlexPipelinesError, match=bad):
            parse_chunk_key(bad)
    with pytest.raises(FlexPipelinesError, match="at least 1"):
        chunk_of(3, 0)


def test_a_named_chunk_schedules_only_its_sites_and_outputs_stay_in_the_store(
    db_url: str, instance
) -> None:
    sites = _sites(db_url, 3)
    middle = chunk_of(sites[1], 1).key

    result = _run(db_url, instance, chunks=[middle])

    assert result.success
    assert _scheduled_sites(db_url) == {sites[1]}
    steps = {
        e.step_key
        for e in instance.all_logs(result.run_id, of_type=DagsterEventType.STEP_START)
        if e.step_key and "schedule_chunk" in e.step_key
    }
    assert steps == {f"schedules.schedule_chunk[{middle}]"}
    [rec] = instance.fetch_materializations(AssetKey("schedules"), limit=5).records
    meta = {k: v.value for k, v in rec.asset_materialization.metadata.items()}
    [chunk] = meta["chunks"]
    assert (chunk["chunk"], chunk["sites"], chunk["scheduled"], chunk["failed"]) == (
        middle,
        1,
        1,
        0,
    )
    assert {"read_s", "solve_s", "save_s"} <= chunk.keys()
    with open_store(db_url) as s:
        kept = s.query(f"SELECT step_key FROM {TABLE} WHERE run_id = ?", [result.run_id])
    assert sorted(kept["step_key"].to_list()) == [
        f"schedules.schedule_chunk[{middle}]",
        "schedules.schedule_targets",
    ]


def test_a_failing_site_fails_alone_and_a_chunk_of_only_failures_fails_its_step(
    db_url: str, instance
) -> None:
    sites = _sites(db_url, 3, broken=1)

    together = _run(db_url, instance, chunk_span=10_000)  # one chunk of all three

    assert together.success
    assert _scheduled_sites(db_url) == {sites[0], sites[2]}
    [rec] = instance.fetch_materializations(AssetKey("schedules"), limit=5).records
    meta = {k: v.value for k, v in rec.asset_materialization.metadata.items()}
    assert (meta["site_days"], meta["n_failed"]) == (2, 1)
    [failed] = meta["failed"]
    assert failed["site_id"] == sites[1] and "soc" in failed["reason"].lower()

    alone = _run(db_url, instance, site_ids=[sites[1]])

    assert not alone.success
    failure = next(
        e
        for e in instance.all_logs(alone.run_id, of_type=DagsterEventType.STEP_FAILURE)
        if "schedule_chunk" in (e.step_key or "")
    )
    assert "every site failed" in failure.dagster_event.step_failure_data.error.message
