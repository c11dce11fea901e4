"""Operator alerts: a failed run and stale schedules become annotations and webhook calls."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    build_run_status_sensor_context,
    build_sensor_context,
)

from assets_defs.sensors import alert_on_run_failure, stale_schedules
from flex_pipelines.pipeline import run_pipeline
from tests.dagster.conftest import DAY


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("FLEXPIPE_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()


def _observations(instance, key: str) -> list[dict]:
    records = instance.fetch_observations(AssetKey(key), limit=10).records
    return [{k: v.value for k, v in r.asset_observation.metadata.items()} for r in records]


def test_failed_run_is_annotated_and_posted(instance, webhook: list[dict]) -> None:
    bad_url = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens there
    summary = run_pipeline(
        bad_url, DAY, DAY, progress=False, instance=instance, assets=["inbox_beliefs"]
    )
    assert not summary.success
    run = instance.get_run_by_id(summary.run_id)
    failure = instance.all_logs(summary.run_id, of_type=DagsterEventType.RUN_FAILURE)[
        0
    ].dagster_event
    ctx = build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()

    alert_on_run_failure(ctx)

    [note] = _observations(instance, "inbox_beliefs")
    assert note["alert"].startswith(f"run {summary.run_id[:8]} of pipeline_job failed")
    assert note["run_id"] == summary.run_id
    assert (
        "inbox_beliefs: " in note["alert"] and "127.0.0.1" in note["alert"]
    )  # the cause, not only "failed"
    assert webhook == [
        {
            "asset": "inbox_beliefs",
            "text": note["alert"],
            "run_id": summary.run_id,
            "partition": note["partition"],
        }
    ]


def test_stale_schedules_alert_once(instance, webhook: list[dict]) -> None:
    ctx = build_sensor_context(instance=instance)
    first = stale_schedules(ctx)
    assert "alerted: schedules stale since never" in first.skip_message
    second = stale_schedules(build_sensor_context(instance=instance, cursor=ctx.cursor))
    assert "already alerted" in second.skip_message
    assert [w["text"] for w in webhook] == ["schedules are stale: last saved never"]
    assert [o["alert"] for o in _observations(instance, "schedules")] == [
        "schedules are stale: last saved never"
    ]


def test_a_failed_sensor_tick_is_alerted_once(instance, webhook: list[dict]) -> None:
    """A tick the daemon recorded as failed (here: the unknown-partition error the old
    partitions raised for tomorrow) becomes one alert on the same webhook; ticks before the
    alerting sensor started are not replayed."""
    import time

    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        SensorInstigatorData,
        TickData,
        TickStatus,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster_shared.error import SerializableErrorInfo

    from assets_defs.sensors import alert_on_tick_failure

    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="flex_pipelines.definitions")
    )
    origin = RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(location, "__repository__"), "reoptimise_on_new_beliefs"
    )
    state = InstigatorState(
        origin, InstigatorType.SENSOR, InstigatorStatus.RUNNING, SensorInstigatorData()
    )
    instance.add_instigator_state(state)

    def tick(status: TickStatus, at: float, error: str | None = None) -> None:
        info = (
            SerializableErrorInfo(error + "\n", [], "DagsterUnknownPartitionError")
            if error
            else None
        )
        instance.create_tick(
            TickData(
                instigator_origin_id=state.instigator_origin_id,
                instigator_name="reoptimise_on_new_beliefs",
                instigator_type=InstigatorType.SENSOR,
                status=status,
                timestamp=at,
                selector_id=state.selector_id,
                error=info,
            )
        )

    now = time.time()
    tick(TickStatus.FAILURE, now - 3600, "an old failure")  # before the alerting sensor started
    first = alert_on_tick_failure(build_sensor_context(instance=instance, cursor=str(now - 60)))
    assert first.skip_message == "no failed ticks" and webhook == []

    tick(TickStatus.SKIPPED, now - 30)
    tick(TickStatus.FAILURE, now - 20, "Could not find a partition with key '2026-12-06'")
    ctx = build_sensor_context(instance=instance, cursor=str(now - 60))
    second = alert_on_tick_failure(ctx)
    assert second.skip_message == "alerted 1 failed tick(s)"
    [hook] = webhook
    assert hook["asset"] == "schedules" and hook["tick"] == "reoptimise_on_new_beliefs"
    assert hook["text"].startswith("sensor reoptimise_on_new_beliefs failed at ")
    assert hook["text"].endswith("Could not find a partition with key '2026-12-06'")
    assert [o["alert"] for o in _observations(instance, "schedules")] == [hook["text"]]
    again = alert_on_tick_failure(build_sensor_context(instance=instance, cursor=ctx.cursor))
    assert again.skip_message == "no failed ticks" and len(webhook) == 1
