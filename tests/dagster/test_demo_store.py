"""One store from demo to UI: after the demo, the UI's code location runs against the demo's
store and inbox, and the demo's DAGSTER_HOME has the repository's dagster.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from dagster import DagsterInstance

from flex_pipelines.cli.demo_cmds import run_demo
from flex_pipelines.ui import ui_env
from tests.dagster.conftest import ROOT

STORE_URL = """
from dagster._core.execution.build_resources import build_resources
from flex_pipelines.definitions import defs
with build_resources({"store": defs.resources["store"], "inbox": defs.resources["inbox"]}) as r:
    print(r.store.url)
    print(r.inbox.path)
"""


@pytest.mark.slow
def test_the_ui_runs_against_the_store_the_demo_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    db, out = tmp_path / "demo.duckdb", tmp_path / "demo"

    result = run_demo(str(db), date(2016, 9, 12), 1, out)

    assert result["pipeline"]["success"], result["pipeline"]["error"]
    assert (home / "dagster.yaml").read_text() == (ROOT / "dagster.yaml").read_text()
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.telemetry_enabled is False
        assert len(instance.get_runs()) == 1  # the UI shows the demo's run
    # what `make ui` starts the code location with, in a shell that sets no FLEXPIPE_* variable
    plain = {k: v for k, v in os.environ.items() if not k.startswith("FLEXPIPE_")}
    env = ui_env(home, plain)
    loaded = subprocess.run(
        [sys.executable, "-c", STORE_URL],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.splitlines() == [str(db.resolve()), str((out / "inbox").resolve())]
    # a variable set by the operator still wins
    assert (
        ui_env(home, {**plain, "FLEXPIPE_DB_URL": "postgresql://x@h/db"})["FLEXPIPE_DB_URL"]
        == "postgresql://x@h/db"
    )
