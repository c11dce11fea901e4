"""The rendered pods run: the code-location server, webserver, daemon and a celery worker start
from the chart's own commands, environment and instance file (tests/deploy/pods.py), on a real
PostgreSQL and Redis, and answer the chart's own probes."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from flex_pipelines.beliefs import open_store
from tests.dagster.celery_support import ensure_redis
from tests.deploy.helm_support import BASE_VALUES, manifests, merged
from tests.deploy.pods import Node, Pod, files_under

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


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@pytest.mark.postgres
@pytest.mark.celery
@pytest.mark.slow
def test_the_rendered_pods_start_and_answer_their_probes(pg_server, tmp_path: Path) -> None:
    if (why := ensure_redis()) is not None:
        pytest.fail(why)
    instance_url, instance_password = without_password(pg_server.create_database("k8s_instance"))
    store_url, store_password = without_password(pg_server.create_database("k8s_store"))
    instance = urlsplit(instance_url)
    code_port, web_port = free_port(), free_port()
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
            "celery": {"broker": "redis://127.0.0.1:6379/4", "backend": "redis://127.0.0.1:6379/5"},
            "codeLocation": {"port": code_port},
            "webserver": {"port": web_port},
        },
    )
    secrets = {"dagster-pg": {"pw": instance_password}, "store-pg": {"pw": store_password}}
    node = Node(tmp_path, manifests(values), secrets)
    instance_files = files_under(node.instance)
    code = node.pod("code")
    pods = [code]
    try:
        code.start()
        probe = node.probe("code", "readinessProbe")
        wait_for("the code server", lambda: code.run(probe).returncode == 0, pods, 180)

        web, daemon, worker = (node.pod(c) for c in ("webserver", "daemon", "worker"))
        pods += [p.start() for p in (web, daemon, worker)]
        path, port = node.probe("webserver", "readinessProbe")
        assert port == web_port
        wait_for("the webserver", lambda: http_get(port, path) == 200, pods, 180)
        # the webserver reached the code server through the rendered workspace.yaml
        (entry,) = graphql(port, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        assert entry["name"] == "flex_pipelines"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry

        ready = f"{worker.env['POD_NAME']}@"  # the worker is named after its pod
        wait_for("the worker", lambda: ready in worker.log.read_text(), pods, 180)
        wait_for("the worker", lambda: "ready." in worker.log.read_text(), pods, 60)
        liveness = node.probe("daemon", "livenessProbe")
        wait_for("daemon heartbeats", lambda: daemon.run(liveness).returncode == 0, pods, 240)

        # the belief store the pods were given is PostgreSQL, reachable with the Secret's password
        with open_store(worker.env["FLEXPIPE_DB_URL"]) as store:
            assert type(store).__name__ == "PostgresStore"
    finally:
        for pod in pods:
            pod.stop()
    # nothing was written where the ConfigMap is mounted read-only
    assert files_under(node.instance) == instance_files
    # dagster-celery wrote its worker config into DAGSTER_HOME: why that is an emptyDir
    assert list((Path(worker.env["DAGSTER_HOME"]) / "dagster_celery").rglob("*.py"))
