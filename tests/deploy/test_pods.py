"""The rendered pods run: the code-location server, webserver, daemon and two celery workers
start from the chart's own commands, environment and instance file (tests/deploy/pods.py), on a
real PostgreSQL and Redis, answer the chart's own probes, and a celery run of the schedules
launched through the webserver goes daemon → code server → both workers and saves every site's
schedule, with nothing but celery's config left on the pods' disks."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

from assets_defs.schedules import schedule_run_config
from tests.dagster.celery_support import REDIS, ensure_redis
from tests.dagster.conftest import DAY
from tests.dagster.test_celery import build_sites, scheduled
from tests.deploy.helm_support import BASE_VALUES, manifests, merged
from tests.deploy.pods import Node, Pod, files_under, grpc_serving

N_SITES = 4
BROKER_DB = 4  # Redis databases of their own (tests/dagster/test_celery.py uses 2 and 3)
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
WORKSPACE_QUERY = (
    "{ workspaceOrError { __typename ... on Workspace { locationEntries { name "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def without_password(url: str) -> tuple[str, str]:
    """``url`` without its password, and the password (the chart takes it from a Secret)."""
    parts = urlsplit(url)
    netloc = f"{parts.username}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc)), parts.password or ""


def wait_for(what: str, check: Callable[[], bool], pods: list[Pod], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = [p for p in pods if not p.alive()]
        if dead:
            logs = "\n".join(f"--- {p.component}\n{p.log.read_text()[-3000:]}" for p in dead)
            pytest.fail(f"waiting for {what}: a pod exited\n{logs}")
        if check():
            return
        time.sleep(1)
    logs = "\n".join(f"--- {p.component}\n{p.log.read_text()[-2000:]}" for p in pods)
    pytest.fail(f"{what}: not within {timeout_s} s\n{logs}")


def http_get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status
    except OSError:
        return 0


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def flush_broker() -> None:
    """Drop stale tasks a killed earlier run may have left in this test's Redis databases."""
    with socket.create_connection(REDIS, timeout=2) as s:
        s.sendall(f"SELECT {BROKER_DB}\r\nFLUSHDB\r\n".encode())
        s.recv(64)


def launch_celery_run(port: int, site_ids: list[int]) -> str:
    """Launch ``celery_schedules_job`` for ``DAY`` through the webserver, as from the launchpad."""
    execution = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "celery.yaml").read_text())[
        "execution"
    ]
    params = {
        "selector": {
            "repositoryLocationName": "flex_pipelines",
            "repositoryName": "__repository__",
            "jobName": "celery_schedules_job",
        },
        "runConfigData": {**schedule_run_config(site_ids), "execution": execution},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY.isoformat()}]},
    }
    launched = graphql(port, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


@pytest.mark.postgres
@pytest.mark.celery
@pytest.mark.slow
def test_the_rendered_pods_run_a_celery_schedules_run(pg_server, tmp_path: Path) -> None:
    if (why := ensure_redis()) is not None:
        pytest.fail(why)
    flush_broker()
    instance_url, instance_password = without_password(pg_server.create_database("k8s_instance"))
    store_db = pg_server.create_database("k8s_store")  # the test's own access (with password)
    store_url, store_password = without_password(store_db)
    sites = build_sites(store_db, N_SITES)
    instance = urlsplit(instance_url)
    code_port, web_port = free_port(), free_port()
    broker = f"redis://127.0.0.1:6379/{BROKER_DB}"
    values = merged(
        BASE_VALUES,
        {
            "store": {"url": store_url, "passwordSecret": {"name": "store-pg", "key": "pw"}},
            "instance": {
                "postgres": {
                    "host": instance.hostname,
                    "port": instance.port,
                    "database": instance.path.lstrip("/"),
                    "username": instance.username,
                    "passwordSecret": {"name": "dagster-pg", "key": "pw"},
                }
            },
            "celery": {"broker": broker, "backend": f"redis://127.0.0.1:6379/{BROKER_DB + 1}"},
            "codeLocation": {"port": code_port},
            "webserver": {"port": web_port},
            "workers": {"replicas": 2},
            # no sensors or cycles of their own; one chunk per site, so both workers get chunks
            "settings": {
                "FLEXPIPE_AUTOMATION": "off",
                "FLEXPIPE_INBOX": str(tmp_path / "inbox"),
                "FLEXPIPE_CHUNK_SPAN": "1",
            },
        },
    )
    secrets = {"dagster-pg": {"pw": instance_password}, "store-pg": {"pw": store_password}}
    node = Node(tmp_path, manifests(values), secrets)
    instance_files = files_under(node.instance)
    code = node.pod("code")
    pods = [code]
    try:
        code.start()
        service, grpc_port = node.probe("code", "readinessProbe")
        assert grpc_port == code_port
        wait_for("the code server", lambda: grpc_serving(grpc_port, service), pods, 180)
        assert not grpc_serving(grpc_port, "NoSuchService")  # the probe can fail

        web, daemon = node.pod("webserver"), node.pod("daemon")
        workers = [node.pod("worker", 0), node.pod("worker", 1)]
        pods += [p.start() for p in (web, daemon, *workers)]
        path, port = node.probe("webserver", "readinessProbe")
        assert port == web_port
        wait_for("the webserver", lambda: http_get(port, path) == 200, pods, 180)
        # the webserver reached the code server through the rendered workspace.yaml
        (entry,) = graphql(port, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        assert entry["name"] == "flex_pipelines"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        for worker in workers:  # named after its pod
            ready = f"{worker.env['POD_NAME']}@"
            wait_for("a worker", lambda w=worker, r=ready: r in w.log.read_text(), pods, 180)
            wait_for("a worker", lambda w=worker: "ready." in w.log.read_text(), pods, 60)
        liveness = node.probe("daemon", "livenessProbe")
        wait_for("daemon heartbeats", lambda: daemon.run(liveness).returncode == 0, pods, 240)

        # queued by the webserver, started by the daemon in the code server, steps on the workers
        run_id = launch_celery_run(port, sites)

        def finished() -> bool:
            status = graphql(port, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
            assert status not in ("FAILURE", "CANCELED"), (status, code.log.read_text()[-3000:])
            return status == "SUCCESS"

        wait_for("the celery run", finished, pods, 420)
    finally:
        for pod in pods:
            pod.stop()
    for worker in workers:
        assert "succeeded" in worker.log.read_text(), f"{worker.env['POD_NAME']} ran no step"
    rows = scheduled(store_db)
    assert len(rows) == N_SITES * 96  # each site's day once
    # nothing written where the ConfigMap is mounted read-only; on the pods' own disks only
    # dagster-celery's worker config (why DAGSTER_HOME is an emptyDir): no step outputs
    assert files_under(node.instance) == instance_files
    for pod in pods:
        left = {p for p in files_under(pod.home) if (pod.home / p).is_file()}
        celery = {p for p in left if p.parts[0] == "dagster_celery"}
        assert left - celery == {Path("dagster.yaml")}, (pod.component, left)
