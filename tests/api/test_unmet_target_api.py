"""An unreachable soft SoC target through the live API: the scheduling job finishes with its
warning in the job status and in the schedule response (on the two-account world of
``_cross_account.py``: bob's battery site).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from tests.api import _cross_account
from tests.api._cross_account import World, ref
from tests.api.test_jobs import wait_job

#: the two-account world, built on this module's own server (``server`` is module-scoped)
world = _cross_account.world

UNMET_DAY = "2026-01-07T00:00:00+01:00"


def test_unmet_soft_soc_target_reaches_the_api(world: World) -> None:
    """440 kWh half an hour after starting at 100 kWh cannot be reached at 500 kW: the target is
    soft (relax-soc-constraints defaults to true), the job finishes and says what was missed."""
    srv = world.srv
    target_time = "2026-01-07T00:30:00+01:00"
    body = {
        "start": UNMET_DAY,
        "duration": "PT6H",
        "flex-model": {
            "soc-at-start": "100 kWh",
            "soc-targets": [{"datetime": target_time, "value": "440 kWh"}],
        },
        "flex-context": {"consumption-price": ref(world.b["price"])},
    }
    power = world.b["power"]
    with srv.client("bob") as c:
        r = c.post(f"/api/v3_0/sensors/{power}/schedules/trigger", json=body)
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]
        job = wait_job(c, job_id)
        assert job["status"] == "FINISHED", job
        got = c.get(f"/api/v3_0/sensors/{power}/schedules/{job_id}")
    assert got.status_code == 200, got.text
    # at most 0.5 h × 500 kW × √0.9 stored on top of 100 kWh
    reachable = 0.1 + 0.5 * 0.5 * 0.9**0.5
    pattern = re.compile(
        r"unmet soc-targets of (?P<dev>.+?) at (?P<t>\S+): 0\.44 MWh required, "
        r"(?P<got>[0-9.]+) scheduled"
    )
    m = pattern.search(job["message"])
    assert m and re.match(r"Scheduling job has finished\. \d+ warning\(s\): ", job["message"]), job
    assert float(m["got"]) == pytest.approx(reachable, abs=1e-5)
    assert datetime.fromisoformat(m["t"]) == datetime.fromisoformat(target_time)
    unmet = [w for w in job["result"]["warnings"] if w["kind"] == "unmet-target"]
    assert len(unmet) == 1 and unmet[0]["field"] == "soc-targets"
    assert unmet[0]["required"] == pytest.approx(0.44)
    assert unmet[0]["scheduled"] == pytest.approx(reachable, abs=1e-5)
    assert unmet[0]["message"].startswith(m[0])
    warnings = got.json()["warnings"]
    assert warnings and warnings == job["result"]["warnings"]
    # the schedule charges at full power until the target time; the saved SoC is what was scheduled
    values = got.json()["values"]
    assert [abs(v) for v in values[:2]] == pytest.approx([500.0, 500.0], abs=1e-3), values[:4]
    at = datetime.fromisoformat(target_time)
    soc = srv.with_store(
        lambda st: st.search_beliefs(
            world.b["soc"], at, at + timedelta(minutes=1), source_ids=job["result"]["source_ids"]
        )
    )
    assert soc["event_value"].to_list() == pytest.approx([reachable * 1000], abs=1e-3)
