"""A site whose soft state-of-charge target cannot be met: the schedule is saved, and the
materialization of its day lists the scheduler's unmet-target warning with its amounts."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from flex_pipelines.beliefs import open_store
from flex_pipelines.pipeline import run_pipeline
from tests.dagster.conftest import DAY, build_site

#: at most 0.5 h × 500 kW × √0.9 (one-way efficiency) charged on top of 100 kWh by 00:30
REACHABLE_MWH = 0.1 + 0.5 * 0.5 * 0.9**0.5
TARGET_TIME = f"{DAY.isoformat()}T00:30:00+01:00"


def test_an_unmet_soft_soc_target_is_listed_in_the_materialization(db_url: str, instance) -> None:
    made = build_site(db_url, kind="battery", days=1)
    with open_store(db_url) as s:
        battery = s.get_asset(made["battery"]["id"])
        s.update_asset(
            battery.id,
            flex_model={
                **battery.flex_model,
                "soc-at-start": "100 kWh",
                "soc-targets": [{"datetime": TARGET_TIME, "value": "440 kWh"}],
            },
        )

    summary = run_pipeline(
        db_url, DAY, DAY, progress=False, instance=instance, assets=["schedules"]
    )

    assert summary.success, summary.error
    [record] = instance.fetch_materializations(AssetKey("schedules"), limit=5).records
    mat = record.asset_materialization
    assert mat.partition == DAY.isoformat()
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["site_days"] == 1 and meta["n_warnings"] == 1
    [warning] = meta["warnings"]
    assert warning["kind"] == "unmet-target" and warning["field"] == "soc-targets"
    assert warning["site_id"] == made["building"]["id"]
    assert warning["device"] and warning["time"]
    assert warning["required"] == pytest.approx(0.44)
    assert warning["scheduled"] == pytest.approx(REACHABLE_MWH, abs=1e-5)
    assert warning["message"].startswith("unmet soc-targets of ")
    assert "0.44 MWh required" in warning["message"]
    # the messages, readable on the asset page
    assert warning["message"] in meta["warning_messages"]
    assert meta["run_n_warnings"] == 1
