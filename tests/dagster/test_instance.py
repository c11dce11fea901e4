"""The two instance configurations: SQLite under DAGSTER_HOME (default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import yaml
from dagster import DagsterInstance, DagsterRunStatus

from flex_pipelines.pipeline import run_pipeline
from tests.dagster.celery_support import ROOT, postgres_instance_yaml, write_home
from tests.dagster.conftest import DAY


def test_sqlite_instance_from_the_repository_dagster_yaml(
    tmp_path: Path, db_url: str, toy_site: dict
) -> None:
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert "storage" not in config  # SQLite is the default
    home = write_home(tmp_path / "home", config)
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        summary = run_pipeline(db_url, DAY, DAY, progress=False, instance=instance)
        assert summary.success
        assert instance.get_run_by_id(summary.run_id).status == DagsterRunStatus.SUCCESS
    assert (home / "history" / "runs.db").exists()


def test_postgres_instance_from_the_deploy_config(
    pg_server, tmp_path: Path, db_url: str, toy_site: dict
) -> None:
    pg = pg_server.create_database("flexpipe_dagster")
    config = postgres_instance_yaml(pg)
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    home = write_home(tmp_path / "home", config)
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        summary = run_pipeline(db_url, DAY, DAY, progress=False, instance=instance)
        assert summary.success
    with psycopg.connect(pg) as con:
        (n,) = con.execute(
            "SELECT count(*) FROM runs WHERE run_id = %s", [summary.run_id]
        ).fetchone()
        (mats,) = con.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            [summary.run_id],
        ).fetchone()
    assert n == 1 and mats == 4
