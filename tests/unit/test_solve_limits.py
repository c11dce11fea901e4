"""``flexpipe schedule solve`` refuses windows longer than the API's limit (issue 14) before
allocating anything: 10 years of minutes once took 7 GB and ended in a MemoryError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flex_pipelines.cli.main import app
from flex_pipelines.time import MAX_SCHEDULE_STEPS

BATTERY = {"soc-at-start": "1 MWh", "soc-max": "2 MWh", "power-capacity": "1 MW"}


@pytest.mark.parametrize(
    ("window", "steps"),
    [
        (
            {"start": "2026-01-01T00:00:00+01:00", "duration": "P10Y", "resolution": "PT1M"},
            "5,258,880",
        ),
        (
            {"start": "2026-01-01T00:00:00+01:00", "duration": "P2Y", "resolution": "PT15M"},
            "70,080",
        ),
        (
            {
                "start": "2026-01-01T00:00",
                "timezone": "Europe/Amsterdam",
                "end": "2028-01-01T00:00+01:00",
                "resolution": "PT15M",
            },
            "70,080",
        ),
    ],
)
def test_schedule_solve_refuses_more_steps_than_the_api(
    tmp_path: Path, window: dict, steps: str
) -> None:
    problem = {
        **window,
        "flex-model": [BATTERY],
        "flex-context": {"consumption-price": "50 EUR/MWh"},
    }
    path = tmp_path / "long.json"
    path.write_text(json.dumps(problem))
    result = CliRunner().invoke(app, ["schedule", "solve", str(path), "--format", "json"])
    assert result.exit_code == 2, result.output
    assert f"holds {steps} steps" in result.output
    assert f"at most {MAX_SCHEDULE_STEPS:,}" in result.output


def test_the_api_and_the_cli_share_one_limit() -> None:
    from flex_pipelines.api import routes_jobs

    assert routes_jobs.MAX_SCHEDULE_STEPS is MAX_SCHEDULE_STEPS
