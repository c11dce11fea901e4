"""deploy/: celery's Redis databases come from the environment, the worker script runs without
an activated virtualenv, and every document the files point to exists."""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from tests.dagster.conftest import ROOT

DEPLOY = ROOT / "deploy"


def test_celery_broker_and_backend_come_from_the_environment() -> None:
    config = yaml.safe_load((DEPLOY / "celery.yaml").read_text())["execution"]["config"]
    assert config["broker"] == {"env": "FLEXPIPE_CELERY_BROKER"}
    assert config["backend"] == {"env": "FLEXPIPE_CELERY_BACKEND"}
    assert "redis://" not in yaml.safe_dump(config)


def test_the_worker_script_names_what_is_missing_without_a_virtualenv() -> None:
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "DAGSTER_HOME": "/tmp/x"}
    result = subprocess.run(
        [str(DEPLOY / "celery-worker"), "w1"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "FLEXPIPE_CELERY_BROKER is not set" in result.stderr
    # (tests/dagster/test_celery.py starts its two workers with this script and that PATH)


def test_every_document_deploy_files_cite_exists() -> None:
    cited = set()
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            cited |= set(re.findall(r"[\w./-]+\.md\b", path.read_text()))
    assert cited, "deploy files point to no documentation"
    missing = [c for c in cited if not (ROOT / c).exists()]
    assert missing == []
