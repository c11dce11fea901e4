"""Rendering deploy/helm/flex-pipelines the way ``helm template`` does, without a helm binary.

The dev extra installs helm-python-sdk, which runs Helm's own Go code (chart loading, the values
schema check, the template engine, ``helm lint``) through a C library. A missing package fails the
test with the command that installs it: these tests never skip.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "flex-pipelines"
DOCKERFILE = ROOT / "Dockerfile"
RELEASE = "flexpipe"
NAMESPACE = "ems"
INSTALL_HINT = (
    "is not installed: the Helm chart tests need the dev extra "
    "(`make venv`, or `.venv/bin/uv pip install -c constraints.txt -e '.[dev]'`)"
)

#: the smallest values a real installation gives: image, store, instance (all else defaults)
BASE_VALUES: dict[str, Any] = {
    "image": {"repository": "registry.example/flex-pipelines", "tag": "0.1.0"},
    "store": {
        "url": "postgresql://flexpipe@db.example:5432/flexpipe",
        "passwordSecret": {"name": "flexpipe-store", "key": "password"},
    },
    "instance": {
        "postgres": {
            "host": "db.example",
            "passwordSecret": {"name": "flexpipe-dagster-pg", "key": "password"},
        }
    },
}


def need(module: str, package: str) -> ModuleType:
    """Import ``module`` or fail (not skip) naming the dev-extra ``package`` that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{package} {INSTALL_HINT}", pytrace=False)


def helm() -> ModuleType:
    return need("helm_python", "helm-python-sdk")


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in key by key (as ``-f a.yaml -f b.yaml`` does)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def template(values: dict[str, Any] | None = None) -> dict[str, str]:
    """``helm template RELEASE CHART -n NAMESPACE`` with ``values`` over the chart's defaults:
    template path → rendered text. Values the schema refuses raise ``HelmValuesError``."""
    with helm().Chart.load(CHART) as chart:
        values = BASE_VALUES if values is None else values
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)


def manifests(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The Kubernetes objects of :func:`template` (NOTES.txt and empty documents left out)."""
    objects = []
    for path, text in template(values).items():
        if path.endswith(".txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    hits = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} rendered"
    return hits[0]


def container(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    """The one container of the Deployment ``RELEASE-component``."""
    spec = find(objects, "Deployment", f"{RELEASE}-{component}")["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    return only


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    """A container's environment: name → literal value or its ``valueFrom``."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def image_env() -> dict[str, str]:
    """The ``ENV`` settings of the Dockerfile (``KEY=value`` pairs, continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    pairs = re.findall(r"^ENV (.+)$", text, re.M)
    return dict(p.split("=", 1) for line in pairs for p in line.split())
