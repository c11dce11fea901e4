"""A store URL with a password never lands in Dagster's run storage (run config, event log)."""

from __future__ import annotations

import re
from datetime import date

from dagster import DagsterInstance

from flex_pipelines.pipeline import run_pipeline


def test_store_password_is_not_in_run_storage(pg_url: str) -> None:
    secret = "s3cret-pw-4242"
    url = re.sub(r"^(postgresql://[^:@/]+)(:[^@]*)?@", rf"\1:{secret}@", pg_url)
    assert secret in url  # the server trusts local connections: any password works
    with DagsterInstance.ephemeral() as instance:
        summary = run_pipeline(
            url, date(2015, 3, 10), date(2015, 3, 10), progress=False, instance=instance
        )  # noqa: E501
        run = instance.get_run_by_id(summary.run_id)
        assert run is not None
        stored = repr(run.run_config) + repr(run.tags)
        stored += "".join(
            repr(e.dagster_event) + e.message for e in instance.all_logs(summary.run_id)
        )  # noqa: E501
    assert summary.success, summary.error
    assert secret not in stored
