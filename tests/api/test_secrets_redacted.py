"""Store passwords never appear in what the CLI prints or the API server logs (issue 12, item 7).

The PostgreSQL of the tests trusts local connections, so a URL with a made-up password still
connects: the commands run for real and their whole output is searched for the password.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from typer.testing import CliRunner

from flex_pipelines.beliefs.urls import RedactingFilter, redact
from flex_pipelines.cli.api_cmds import log_config
from flex_pipelines.cli.main import app
from tests.api.conftest import free_port

SECRET = "s3cr3t-Pa55"


def with_password(url: str) -> tuple[str, str]:
    """``url`` with a password (the URL's own when it has one, else :data:`SECRET`) and a fresh
    schema; returns the URL and the password to look for."""
    parts = urlsplit(url)
    password = parts.password or SECRET
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port or 5432}"
    query = f"{parts.query}&" if parts.query else ""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    return urlunsplit((parts.scheme, netloc, parts.path, f"{query}schema={schema}", "")), password


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def test_db_init_prints_the_url_without_its_password(pg_database):
    url, password = with_password(pg_database)
    result = cli("db", "init", "--db", url)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Store ready" in result.output and ":***@" in result.output
    assert password not in result.output


def test_errors_about_a_store_url_do_not_print_its_password():
    unreachable = cli("db", "init", "--db", f"postgresql://flex:{SECRET}@127.0.0.1:1/flex")
    assert unreachable.exit_code != 0
    text = unreachable.output + str(unreachable.exception)
    assert "cannot reach PostgreSQL at postgresql://flex:***@127.0.0.1:1/flex" in text
    assert SECRET not in text
    other = cli("db", "init", "--db", f"mysql://flex:{SECRET}@db/flex?password={SECRET}")
    text = other.output + str(other.exception)
    assert other.exit_code != 0 and "is neither a DuckDB path" in text
    assert SECRET not in text


def test_api_run_prints_and_logs_no_password(pg_database, tmp_path: Path):
    url, password = with_password(pg_database)
    port = free_port()
    log = tmp_path / "api.log"
    flexpipe = [sys.executable, "-c", "from flex_pipelines.cli import main; main()"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*flexpipe, "api", "run", "--db", url, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "Application startup complete" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            # a request is logged too (uvicorn's access log)
            assert httpx.get(f"http://127.0.0.1:{port}/api/v3_0/health/ready").status_code < 500
        finally:
            proc.terminate()
            proc.wait(20)
    text = log.read_text()
    assert f"store {redact(url)}" in " ".join(text.split()), text
    assert password not in text, text


def test_log_lines_are_redacted_message_arguments_and_traceback():
    """What ``flexpipe api run`` installs on every handler (uvicorn's and ours)."""
    config = log_config()
    assert all("redact" in h["filters"] for h in config["handlers"].values())
    assert config["loggers"]["flex_pipelines"]["handlers"] == ["default"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"test_redact_{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    url = f"postgresql://flex:{SECRET}@db.internal/flex"
    logger.warning("opening %s", url)
    try:
        raise RuntimeError(f"cannot use {url}")
    except RuntimeError:
        logger.exception("failed")
    text = stream.getvalue()
    assert text.count("postgresql://flex:***@db.internal/flex") == 2, text
    assert "Traceback" in text and SECRET not in text
