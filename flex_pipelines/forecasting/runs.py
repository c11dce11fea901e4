"""Versioned forecaster runs: one source per model, parameters and inputs.

A forecast run's settings (model and its version and parameters, regressor sensors, the
built-in clear-sky input, horizons or local days, training window, retraining, quantiles,
calibration, holidays) are hashed; the forecaster source is named after them (a readable name
plus the first 8 hex digits of the hash, or ``--label`` plus the hash), so a run with other
settings saves under a new source instead of replacing an earlier run's forecasts, and the same
settings again reuse their source (idempotent). The settings are kept in the table
``forecast_runs`` (created on first use) so accuracy tables can say which inputs a forecast used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from flex_pipelines.beliefs.model import Source
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.forecasting.cycles import CycleConfig

__all__ = ["RunSettings", "run_source", "run_descriptions"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS forecast_runs ("
    " source_id BIGINT PRIMARY KEY, sensor_id BIGINT, model TEXT, label TEXT,"
    " settings_hash TEXT, inputs TEXT, settings TEXT, created_at TIMESTAMPTZ)"
)


def _jsonable(v: Any) -> Any:
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in sorted(v.items())}
    return v


@dataclass(frozen=True)
class RunSettings:
    """Everything that changes what a forecast run computes."""

    model: str
    model_version: str
    config: CycleConfig
    regressor_ids: tuple[int, ...] = ()
    clear_sky: bool = False
    #: the clear-sky input on a tilted plane: "fit" (fitted from the power) or "TILT,AZIMUTH"
    clear_sky_plane: str | None = None

    def as_dict(self) -> dict[str, Any]:
        cfg = {k: _jsonable(v) for k, v in asdict(self.config).items()}
        out = {
            "model": self.model,
            "model_version": self.model_version,
            "regressors": list(self.regressor_ids),
            "clear_sky": self.clear_sky,
            "config": cfg,
        }
        if self.clear_sky_plane is not None:  # absent otherwise: earlier runs keep their hash
            out["clear_sky_plane"] = self.clear_sky_plane
        return out

    @property
    def hash(self) -> str:
        """First 8 hex digits of the SHA-256 of the settings' canonical JSON."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    @property
    def inputs(self) -> str:
        """A readable summary of the inputs besides the target's own history."""
        parts = [f"sensor {r}" for r in self.regressor_ids]
        if self.clear_sky:
            parts.append(self._clear_sky_text())
        return ", ".join(parts) if parts else "history only"

    def _clear_sky_text(self) -> str:
        if self.clear_sky_plane is None:
            return "clear-sky"
        plane = "fitted plane" if self.clear_sky_plane == "fit" else self.clear_sky_plane
        return f"clear-sky on {plane}"

    def readable_name(self) -> str:
        """``flexpipe <model>`` plus its inputs (``+ sensors 3, 4``, ``+ clear-sky``); a mean
        of models names them (``flexpipe mean(lear, hgb)``)."""
        name = f"flexpipe {self.model}"
        members = self.config.model_params.get("models") if self.model == "mean" else None
        if isinstance(members, list | tuple):
            name += f"({', '.join(map(str, members))})"
        if self.regressor_ids:
            ids = ", ".join(str(r) for r in self.regressor_ids)
            name += f" + sensor{'s' if len(self.regressor_ids) > 1 else ''} {ids}"
        if self.clear_sky:
            name += f" + {self._clear_sky_text()}"
        return name

    def source_name(self, label: str | None = None) -> str:
        return f"{label or self.readable_name()} [{self.hash}]"


def run_source(
    store: BeliefStore, sensor_id: int, settings: RunSettings, label: str | None = None
) -> Source:
    """The forecaster source of these settings (created with its ``forecast_runs`` row)."""
    source = store.get_or_create_source(
        settings.source_name(label),
        type="forecaster",
        model=settings.model,
        version=f"{settings.model_version}+{settings.hash}",
    )
    with store.transaction():
        store.execute(_DDL)
        known = store.query("SELECT 1 FROM forecast_runs WHERE source_id = ?", [source.id])
        if known.height == 0:
            store.execute(
                "INSERT INTO forecast_runs (source_id, sensor_id, model, label, settings_hash,"
                " inputs, settings, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    source.id,
                    sensor_id,
                    settings.model,
                    label,
                    settings.hash,
                    settings.inputs,
                    json.dumps(settings.as_dict(), sort_keys=True),
                    datetime.now(UTC),
                ],
            )
    return source


def run_descriptions(store: BeliefStore, source_ids: Sequence[int]) -> pl.DataFrame:
    """``source_id``, ``source`` (name) and ``inputs`` of forecaster sources.

    Sources without a ``forecast_runs`` row (made before runs were versioned, or by another
    forecaster) say ``inputs`` = ``"unknown"``.
    """
    with store.transaction():
        store.execute(_DDL)
    rows = []
    for sid in source_ids:
        src = store.get_source(int(sid))
        got = store.query("SELECT inputs FROM forecast_runs WHERE source_id = ?", [int(sid)])
        inputs = str(got["inputs"][0]) if got.height else "unknown"
        rows.append({"source_id": int(sid), "source": src.name, "inputs": inputs})
    schema = {"source_id": pl.Int64, "source": pl.String, "inputs": pl.String}
    return pl.DataFrame(rows, schema=schema)
