"""flexpipe monitor latest-run (runs in a real Dagster instance on a temporary DAGSTER_HOME)
and monitor last-seen (a real store, both backends): exit 1 with the problems listed, the
same JSON alert as the Dagster sensors posted to a real local webhook, exit 0 and no alert
when all is well."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import polars as pl
import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterInstance, Failure, job, op
from dagster._core.storage.dagster_run import DagsterRunStatus
from typer.testing import CliRunner

from assets_defs.jobs import pipeline_job
from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.main import app
from flex_pipelines.toy import create_toy_account


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""
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
    yield f"http://127.0.0.1:{server.server_port}/hooks/secret-token", received
    server.shutdown()


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


@op
def fine() -> int:
    return 1


@op
def missing_prices() -> None:
    raise Failure("no day-ahead prices for 2026-03-29")


@job(name=pipeline_job.name)  # the pipeline's job name, as `flexpipe pipeline run` records it
def stub_pipeline() -> None:
    fine()


@job(name="nightly_report")
def nightly_report() -> None:
    missing_prices()


@job(name="weekly_export")
def weekly_export() -> None:
    fine()


def _backdated_success(instance: DagsterInstance, days: float) -> str:
    """A run of weekly_export that started and succeeded ``days`` ago (the events carry the
    times; Dagster's run record takes its start and end from them)."""
    run = instance.create_run_for_job(weekly_export, status=DagsterRunStatus.NOT_STARTED)
    then = time.time() - days * 86400
    for kind, at in ((DagsterEventType.RUN_START, then), (DagsterEventType.RUN_SUCCESS, then + 60)):
        event = DagsterEvent(kind.value, job_name="weekly_export")
        instance.report_dagster_event(event, run.run_id, timestamp=at)
    return run.run_id


def test_latest_run(instance: DagsterInstance, webhook, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    url, received = webhook
    monkeypatch.setenv("DAGSTER_HOME", instance.root_directory)
    assert stub_pipeline.execute_in_process(instance=instance).success
    running = instance.create_run_for_job(stub_pipeline, status=DagsterRunStatus.STARTED)
    assert not nightly_report.execute_in_process(instance=instance, raise_on_error=False).success
    old = _backdated_success(instance, days=3)

    ok = run("monitor", "latest-run", "--max-age", "1h", "--webhook", url, "-f", "json")
    assert ok.exit_code == 0, ok.output
    [check] = json.loads(ok.output)["jobs"]
    assert check["job"] == "pipeline_job" and check["status"] == "SUCCESS"
    assert check["problem"] is None and check["in_progress"] == running.run_id
    assert received == []

    args = ["--job", "nightly_report", "--job", "weekly_export", "--job", "never_ran"]
    bad = run(
        "monitor",
        "latest-run",
        *args,
        "--max-age",
        "26h",
        "--webhook",
        url,
        "--custom-message",
        "call the on-duty engineer",
        "-f",
        "json",
    )
    assert bad.exit_code == 1, bad.output
    report = json.loads(bad.output)
    assert report["ok"] is False
    problems = {c["job"]: c["problem"] for c in report["jobs"]}
    assert problems["nightly_report"].endswith(
        "failed at "
        + report["jobs"][0]["ended"][:19].replace("T", " ")
        + " UTC missing_prices: no day-ahead prices for 2026-03-29"
    )
    assert problems["weekly_export"].startswith(
        f"the latest finished run of weekly_export ({old[:8]}) ended at "
    )
    assert problems["weekly_export"].endswith(" ago: longer than --max-age P1DT2H")
    assert problems["never_ran"] == "job never_ran has no finished run"
    assert [(r["monitor"], r["job"]) for r in received] == [("latest-run", j) for j in problems]
    assert [r["text"] for r in received] == [
        f"{p}\ncall the on-duty engineer" for p in problems.values()
    ]
    assert received[1]["run_id"] == old and received[1]["status"] == "SUCCESS"

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/hooks/secret-token"
    lost = run(
        "monitor", "latest-run", "--job", "never_ran", "--max-age", "1h", "--webhook", closed
    )
    assert lost.exit_code == 1
    assert (
        "Alert not delivered: could not reach the alert webhook at http://127.0.0.1:" in lost.output
    )
    assert "secret-token" not in lost.output

    monkeypatch.delenv("DAGSTER_HOME")
    assert "DAGSTER_HOME is not set" in str(
        run("monitor", "latest-run", "--max-age", "1h").exception
    )


def test_last_seen(store_url: str, webhook) -> None:  # noqa: ANN001
    url, received = webhook
    now = datetime.now(UTC)
    with open_store(store_url) as s:
        made = create_toy_account(s)
        price, pv = made["price sensor"]["id"], made["pv sensor"]["id"]
        power, soc = made["power sensor"]["id"], made["soc sensor"]["id"]
        market = s.get_or_create_source("EPEX", "market")
        meter = s.get_or_create_source("meter", "gateway")
        planner = s.get_or_create_source("planner", "scheduler")

        def save(sensor: int, source: int, believed: datetime) -> None:
            starts = [
                believed.replace(minute=0, second=0, microsecond=0) + timedelta(hours=h)
                for h in range(3)
            ]
            s.save_beliefs(
                pl.DataFrame(
                    {
                        "sensor_id": [sensor] * 3,
                        "event_start": starts,
                        "belief_time": [believed] * 3,
                        "source_id": [source] * 3,
                        "event_value": [1.0, 2.0, 3.0],
                    }
                )
            )

        save(price, market.id, now - timedelta(hours=3))  # stale for --max-age 1h
        save(pv, meter.id, now - timedelta(minutes=10))  # fresh
        save(power, planner.id, now - timedelta(minutes=5))  # a schedule, not data
    db = ("--db", store_url, "--webhook", url, "-f", "json")

    stale = run("monitor", "last-seen", "--max-age", "1h", *db)
    assert stale.exit_code == 1, stale.output
    report = json.loads(stale.output)
    assert (report["checked"], report["not_checked"]) == (2, [power, soc])
    [row] = report["stale"]
    assert (row["sensor"], row["name"]) == (price, "day-ahead prices")
    assert row["last_belief_time"].startswith((now - timedelta(hours=3)).isoformat()[:16])
    [alert] = received
    assert alert["monitor"] == "last-seen" and alert["max_age"] == "PT1H"
    assert alert["text"].startswith(
        f"1 sensor(s) not seen for more than PT1H: {price} 'day-ahead prices' (last belief "
    )
    assert [a["sensor"] for a in alert["sensors"]] == [price]
    assert alert["sensors"][0]["last_belief_time"] == row["last_belief_time"]
    assert alert["sensors"][0]["age"].startswith("PT3H")

    named = run(
        "monitor", "last-seen", "--max-age", "1h", "--sensor", str(pv), "--sensor", str(soc), *db
    )
    assert named.exit_code == 1
    assert [(r["sensor"], r["last_belief_time"]) for r in json.loads(named.output)["stale"]] == [
        (soc, None)
    ]

    received.clear()
    for ok_args in (
        ["--max-age", "4h"],
        ["--max-age", "1h", "--asset", str(made["building"]["id"])],  # not the market's prices
        ["--max-age", "1h", "--source-type", "scheduler", "--sensor", str(power)],
    ):
        ok = run("monitor", "last-seen", *ok_args, *db)
        assert ok.exit_code == 0, (ok_args, ok.output)
        assert json.loads(ok.output)["stale"] == []
    assert received == []
    assert "not one of" in str(
        run("monitor", "last-seen", "--max-age", "1h", "--source-type", "robot", *db).exception
    )
