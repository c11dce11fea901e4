"""``dg check defs`` (dagster-dg-cli, pinned with dagster) loads the code location, and fails
with the variable's name when a setting is invalid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dagster.conftest import ROOT

DG = Path(sys.executable).parent / "dg"


def _dg_check(home: Path, **env: str) -> subprocess.CompletedProcess:
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    full = {**os.environ, "DAGSTER_HOME": str(home), "FLEXPIPE_AUTOMATION": "off", **env}
    return subprocess.run(
        [str(DG), "check", "defs"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_dg_check_defs(tmp_path: Path) -> None:
    version = subprocess.run([str(DG), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split()[-1] == "1.13.27"  # the dagster release family

    ok = _dg_check(tmp_path / "home")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All definitions loaded successfully" in ok.stdout + ok.stderr

    bad = _dg_check(tmp_path / "home", FLEXPIPE_PLANNING_HORIZON_DAYS="0")
    assert bad.returncode != 0
    assert "FLEXPIPE_PLANNING_HORIZON_DAYS='0' is below 1" in bad.stdout + bad.stderr
