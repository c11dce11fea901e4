"""``flexpipe add beliefs`` skips beliefs that repeat their source's latest one, unless told.

Like FlexMeasures' ``add beliefs`` (``save_changed_beliefs_only``): a file sent again with a new
belief time adds only the values that changed; ``--keep-unchanged`` stores every belief (for
archives of forecasts kept per horizon).
"""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli import app

runner = CliRunner()


def add(db: str, path: str, sensor: int, belief_time: str, *extra: str) -> dict:
    args = ["add", "beliefs", path, "--sensor", str(sensor), "--source", "gateway"]
    args += ["--source-type", "gateway", "--belief-time", belief_time, "--db", db, "-f", "json"]
    result = runner.invoke(app, [*args, *extra], catch_exceptions=True)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output[result.output.index("{") :])


def test_add_beliefs_again_with_a_new_belief_time_stores_only_changes(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    with open_store(db) as store:
        sensor = store.add_sensor("prices", "EUR/MWh", timedelta(hours=1))
    rows = ["2026-01-10T00:00:00+00:00,40", "2026-01-10T01:00:00+00:00,41"]
    first = tmp_path / "prices.csv"
    first.write_text("event_start,value\n" + "\n".join(rows) + "\n")
    changed = tmp_path / "prices2.csv"
    changed.write_text("event_start,value\n" + rows[0] + "\n2026-01-10T01:00:00+00:00,45\n")

    assert add(db, str(first), sensor.id, "2026-01-09T12:00:00+00:00")["new"] == 2
    again = add(db, str(first), sensor.id, "2026-01-09T13:00:00+00:00")
    assert (again["new"], again["already_stored"], again["ingestion_id"]) == (0, 2, None)
    assert add(db, str(changed), sensor.id, "2026-01-09T14:00:00+00:00")["new"] == 1
    every = add(db, str(first), sensor.id, "2026-01-09T15:00:00+00:00", "--keep-unchanged")
    assert every["new"] == 2
    with open_store(db) as store:
        assert store.count_beliefs(sensor.id) == 2 + 1 + 2
    args = ["add", "beliefs", str(first), "--sensor", str(sensor.id), "--source", "gateway"]
    table = runner.invoke(app, [*args, "--belief-time", "2026-01-09T16:00:00+00:00", "--db", db])
    assert "0 new beliefs" in table.output and "2 were already stored or unchanged" in table.output
