"""Run the chart's rendered containers as local processes, as a kubelet would start them.

Without a cluster, a "pod" here is the rendered container's command and arguments with its
environment: the image's ``ENV`` (read from the Dockerfile), the container's ``env`` (literal
values, ``secretKeyRef`` from a dict of Secrets, ``fieldRef`` ``metadata.name``) and ``$(VAR)``
expansion in the arguments. Volumes are folders: the instance ConfigMap's files in one folder
(mounted read-only in the pod; :func:`files_under` lets a test check nothing was written there),
an emptyDir each for DAGSTER_HOME (with dagster.yaml, the subPath mount) and /tmp. The image's
paths map to this checkout (/app), this virtual environment (/opt/venv) and those folders.
Service names map to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deploy.helm_support import RELEASE, ROOT, find, image_env

INSTANCE_DIR = "/opt/dagster/instance"


@dataclass
class Pod:
    """One rendered container, ready to run here."""

    component: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    home: Path  # DAGSTER_HOME, the pod's emptyDir
    process: subprocess.Popen | None = None

    def start(self) -> Pod:
        out = open(self.log, "w")  # noqa: SIM115 (closed with the process's end)
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def run(self, argv: list[str], timeout_s: float = 60) -> subprocess.CompletedProcess:
        """A probe's ``exec`` command in this pod's environment."""
        return subprocess.run(
            [self.which(argv[0]), *argv[1:]],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def which(self, command: str) -> str:
        found = shutil.which(command, path=self.env["PATH"])
        assert found, f"{command} is not on the pod's PATH {self.env['PATH']}"
        return found

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Node:
    """Folders standing in for volumes, and the mapping of the image's paths to them."""

    def __init__(self, root: Path, objects: list[dict[str, Any]], secrets: dict[str, dict]):
        self.root = root
        self.objects = objects
        self.secrets = secrets
        self.instance = root / "instance"
        self.instance.mkdir(parents=True)
        self.paths = {
            INSTANCE_DIR: str(self.instance),
            "/app/": f"{ROOT}/",
            "/opt/venv": sys.prefix,
        }
        config_map = find(objects, "ConfigMap", f"{RELEASE}-instance")
        for name, text in config_map["data"].items():
            (self.instance / name).write_text(self.map(text))

    def map(self, text: str, extra: dict[str, str] | None = None) -> str:
        """``text`` with the image's paths and the release's Service names made local."""
        table = {**self.paths, **(extra or {})}
        keys = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
        text = re.sub(keys, lambda m: table[m.group(0)], text)
        return re.sub(rf"\b{re.escape(RELEASE)}-(code|redis)\b", "127.0.0.1", text)

    def pod(self, component: str, replica: int = 0) -> Pod:
        """Replica ``replica`` of the Deployment ``RELEASE-component``, with volumes of its own."""
        deployment = find(self.objects, "Deployment", f"{RELEASE}-{component}")
        assert replica < deployment["spec"]["replicas"]
        (c,) = deployment["spec"]["template"]["spec"]["containers"]
        pod_name = f"{RELEASE}-{component}-{replica}"
        home = self.root / pod_name / "home"
        tmp = self.root / pod_name / "tmp"
        home.mkdir(parents=True)
        tmp.mkdir(parents=True)
        volumes = {"/opt/dagster/home": str(home), "/tmp": str(tmp)}
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        assert mounts["/opt/dagster/home/dagster.yaml"]["subPath"] == "dagster.yaml"
        shutil.copy(self.instance / "dagster.yaml", home / "dagster.yaml")

        plain_path = os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(sys.prefix)
        )
        env = {"PATH": plain_path, "LANG": "C.UTF-8"}
        for key, value in image_env().items():
            env[key] = self.map(value.replace("$PATH", env["PATH"]), volumes)
        for item in c["env"]:
            env[item["name"]] = self._value(item, pod_name, volumes)
        for source in c.get("envFrom", []):
            env.update(self.secrets[source["secretRef"]["name"]])

        def expand(arg: str) -> str:
            return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], arg)

        argv = [self.map(expand(a), volumes) for a in c["command"] + c.get("args", [])]
        pod = Pod(component, argv, env, self.root / f"{pod_name}.log", home)
        pod.argv[0] = pod.which(pod.argv[0])
        return pod

    def _value(self, item: dict[str, Any], pod_name: str, volumes: dict[str, str]) -> str:
        if "value" in item:
            return self.map(str(item["value"]), volumes)
        source = item["valueFrom"]
        if "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.name"
            return pod_name
        ref = source["secretKeyRef"]
        return self.secrets[ref["name"]][ref["key"]]

    def probe(self, component: str, kind: str) -> list[str] | tuple[str, int]:
        """A container's probe: an ``exec`` command, ``(path, port)`` of an ``httpGet`` or
        ``(service, port)`` of a ``grpc`` probe."""
        deployment = find(self.objects, "Deployment", f"{RELEASE}-{component}")
        (c,) = deployment["spec"]["template"]["spec"]["containers"]
        probe = c[kind]
        if "exec" in probe:
            return probe["exec"]["command"]
        if "grpc" in probe:
            return probe["grpc"].get("service", ""), probe["grpc"]["port"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        get = probe["httpGet"]
        return get["path"], ports.get(get["port"], get["port"])


def grpc_serving(port: int, service: str) -> bool:
    """What the kubelet's ``grpc`` probe asks: grpc.health.v1 ``Check(service)`` is SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=5
            )
        except grpc.RpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}
