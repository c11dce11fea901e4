"""Operating settings of the pipeline: every ``FLEXPIPE_*`` variable the Dagster layer reads.

The environment is read here and nowhere else in the Dagster layer. :func:`load_settings` reads
it when called (the code location calls it once when it loads; alerts call it when they fire, so
a changed webhook needs no restart). Dagster resources take their values through
:func:`resource_value`, which hands Dagster an ``EnvVar`` when the variable is set (the UI then
shows where the value comes from) and the default otherwise. No dagster import at module level.

| variable | default | meaning |
|---|---|---|
| ``FLEXPIPE_DB_URL`` | ``var/flexpipe.duckdb`` | the belief store |
| ``FLEXPIPE_INBOX`` | ``var/inbox`` | folder of CSV files to ingest |
| ``FLEXPIPE_TIMEZONE`` | ``Europe/Amsterdam`` | the local day of a partition, the cycles' clock |
| ``FLEXPIPE_PARTITIONS_START`` | ``2015-01-01`` | first partition |
| ``FLEXPIPE_PLANNING_HORIZON_DAYS`` | ``1`` | days after today that exist as partitions (1: tomorrow) |
| ``FLEXPIPE_REOPT_MAX_RUNS`` | ``4`` | runs the re-optimisation sensor requests per tick at most |
| ``FLEXPIPE_GATE_CLOSURE`` | ``12:00`` | viewpoint of day-ahead forecasts (local, the day before) |
| ``FLEXPIPE_DAY_AHEAD_TIME`` | ``13:00`` | when the day-ahead cycle runs |
| ``FLEXPIPE_INTRADAY_MINUTES`` | ``15`` | interval of the intraday cycle |
| ``FLEXPIPE_AUTOMATION`` | ``on`` | ``off`` starts sensors and schedules stopped |
| ``FLEXPIPE_SENSOR_INTERVAL_S`` | ``4`` | minimum interval of the inbox, re-optimisation and automation sensors (the daemon evaluates sensors every 5 s: 4 means every loop) |
| ``FLEXPIPE_ALERT_WEBHOOK`` | — | URL that receives alerts as JSON |
| ``FLEXPIPE_STALE_AFTER_HOURS`` | ``26`` | schedules older than this raise a stale-data alert |
| ``FLEXPIPE_LOCK_WAIT_S`` | ``600`` | seconds a step waits for a DuckDB file another process holds |
| ``FLEXPIPE_CHUNK_SPAN`` | ``1000`` | site asset ids per chunk of the schedules asset (a chunk is one step: ids ``k·span … (k+1)·span − 1``) |
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULTS: dict[str, str] = {
    "FLEXPIPE_DB_URL": "var/flexpipe.duckdb",
    "FLEXPIPE_INBOX": "var/inbox",
    "FLEXPIPE_TIMEZONE": "Europe/Amsterdam",
    "FLEXPIPE_PARTITIONS_START": "2015-01-01",
    "FLEXPIPE_PLANNING_HORIZON_DAYS": "1",
    "FLEXPIPE_REOPT_MAX_RUNS": "4",
    "FLEXPIPE_GATE_CLOSURE": "12:00",
    "FLEXPIPE_DAY_AHEAD_TIME": "13:00",
    "FLEXPIPE_INTRADAY_MINUTES": "15",
    "FLEXPIPE_AUTOMATION": "on",
    #: at most the daemon's 5 s sensor loop: with exactly 5 a tick that comes a little early is
    #: skipped and the sensor runs every 10 s
    "FLEXPIPE_SENSOR_INTERVAL_S": "4",
    "FLEXPIPE_ALERT_WEBHOOK": "",
    "FLEXPIPE_STALE_AFTER_HOURS": "26",
    "FLEXPIPE_LOCK_WAIT_S": "600",
    "FLEXPIPE_CHUNK_SPAN": "1000",
}


@dataclass(frozen=True)
class Settings:
    """The pipeline's operating settings (see the module docstring for the variables)."""

    db_url: str
    inbox: str
    timezone: str
    partitions_start: str
    planning_horizon_days: int
    reopt_max_runs: int
    gate_closure: str  # HH:MM local
    day_ahead_time: str  # HH:MM local
    intraday_minutes: int
    automation: bool
    sensor_interval_s: int
    alert_webhook: str | None
    stale_after_hours: float
    lock_wait_s: int  # seconds
    chunk_span: int  # site asset ids per schedules chunk


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name) or DEFAULTS[name]


def _hhmm(name: str, text: str) -> str:
    hh, _, mm = text.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"{name}={text!r} is not a local time HH:MM")
    return f"{int(hh):02d}:{int(mm):02d}"


def _number(name: str, text: str, kind: type[int] | type[float], minimum: float) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a {kind.__name__}") from None
    if value < minimum:
        raise ValueError(f"{name}={text!r} is below {minimum}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``env`` (default the process environment); a bad value raises a
    ``ValueError`` naming the variable and the value."""
    env = os.environ if env is None else env
    return Settings(
        db_url=_get(env, "FLEXPIPE_DB_URL"),
        inbox=_get(env, "FLEXPIPE_INBOX"),
        timezone=_get(env, "FLEXPIPE_TIMEZONE"),
        partitions_start=_get(env, "FLEXPIPE_PARTITIONS_START"),
        planning_horizon_days=_number(
            "FLEXPIPE_PLANNING_HORIZON_DAYS", _get(env, "FLEXPIPE_PLANNING_HORIZON_DAYS"), int, 1
        ),
        reopt_max_runs=_number(
            "FLEXPIPE_REOPT_MAX_RUNS", _get(env, "FLEXPIPE_REOPT_MAX_RUNS"), int, 1
        ),
        gate_closure=_hhmm("FLEXPIPE_GATE_CLOSURE", _get(env, "FLEXPIPE_GATE_CLOSURE")),
        day_ahead_time=_hhmm("FLEXPIPE_DAY_AHEAD_TIME", _get(env, "FLEXPIPE_DAY_AHEAD_TIME")),
        intraday_minutes=_number(
            "FLEXPIPE_INTRADAY_MINUTES", _get(env, "FLEXPIPE_INTRADAY_MINUTES"), int, 1
        ),
        automation=_get(env, "FLEXPIPE_AUTOMATION").lower() == "on",
        sensor_interval_s=_number(
            "FLEXPIPE_SENSOR_INTERVAL_S", _get(env, "FLEXPIPE_SENSOR_INTERVAL_S"), int, 1
        ),
        alert_webhook=env.get("FLEXPIPE_ALERT_WEBHOOK") or None,
        stale_after_hours=_number(
            "FLEXPIPE_STALE_AFTER_HOURS", _get(env, "FLEXPIPE_STALE_AFTER_HOURS"), float, 0
        ),
        lock_wait_s=_number("FLEXPIPE_LOCK_WAIT_S", _get(env, "FLEXPIPE_LOCK_WAIT_S"), int, 0),
        chunk_span=_number("FLEXPIPE_CHUNK_SPAN", _get(env, "FLEXPIPE_CHUNK_SPAN"), int, 1),
    )


def resource_value(name: str, kind: type[str] | type[int] = str) -> Any:
    """A resource field's value: ``EnvVar(name)`` (``EnvVar.int`` for ``kind=int``) when the
    variable is set (resolved by Dagster when the resource is built), else the default."""
    if os.environ.get(name):
        from dagster import EnvVar

        return EnvVar.int(name) if kind is int else EnvVar(name)
    return kind(DEFAULTS[name])


@functools.cache
def code_location_settings() -> Settings:
    """The settings the code location was loaded with (read once per process)."""
    return load_settings()
