"""Fixtures for the Dagster layer: a real DuckDB store with a toy site and real prices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from flex_pipelines.beliefs import open_store
from flex_pipelines.beliefs.ingest import CSVOptions, read_csv_beliefs
from flex_pipelines.toy import create_toy_account

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "data" / "forecasting" / "epf_be_dayahead_price_with_benchmark_forecasts.csv"
DAY = date(2015, 3, 10)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "celery: needs Redis on 127.0.0.1:6379 and starts celery workers"
    )


def price_csv(first: date, days: int) -> bytes:
    """Hourly day-ahead prices (EPF Belgium, bundled) for ``days`` local days from ``first``."""
    raw = pl.read_csv(PRICES, columns=["timestamp", "price"])
    start = f"{first.isoformat()}T00"
    i = raw["timestamp"].to_list().index(next(t for t in raw["timestamp"] if t.startswith(start)))
    return raw.slice(i, 24 * days + 1).write_csv().encode()


def build_site(
    url: str, kind: str = "process", first: date = DAY, days: int = 3, name: str = "Toy Account"
) -> dict:
    """A toy account (building + device + price sensor) with real prices for ``days`` days."""
    with open_store(url) as s:
        made = create_toy_account(s, kind=kind, name=name)
        price = s.get_sensor(made["price sensor"]["id"])
        src = s.get_or_create_source("EPEX", type="market")
        s.save_beliefs(read_csv_beliefs(price_csv(first, days), price, src.id, CSVOptions()))
    return made


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return str(tmp_path / "store.duckdb")


@pytest.fixture
def toy_site(db_url: str) -> dict:
    return build_site(db_url)


@pytest.fixture
def instance(tmp_path: Path):
    """A real SQLite-backed Dagster instance in a temporary DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home), overrides={"telemetry": {"enabled": False}}) as inst:
        yield inst


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXPIPE_INBOX", str(tmp_path / "inbox"))
    monkeypatch.delenv("FLEXPIPE_DB_URL", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "cli_dagster_home"))
