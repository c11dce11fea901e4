"""One entry point for every reporter, and the reports configured on assets.

``run_report(store, "profit-loss", config, start, end, output_sensor_id=…)`` is what the CLI,
the API and the Dagster report assets call. Reports configured on an asset live in
``asset.attributes["reports"] = [{"reporter": …, "config": {…}, "output-sensor": id}]``
(see docs/conventions.md); :func:`run_asset_reports` runs them all for a window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.aggregator import aggregate
from flex_pipelines.reporting.base import ReportError, ReportResult
from flex_pipelines.reporting.profit_loss import profit_loss
from flex_pipelines.reporting.sql_reporter import sql_report

__all__ = ["REPORTERS", "run_report", "run_asset_reports", "configured_reports"]

REPORTERS: dict[str, Callable[..., ReportResult]] = {
    "profit-loss": profit_loss,
    "aggregator": aggregate,
    "sql": sql_report,
}


def run_report(
    store: BeliefStore,
    reporter: str,
    config: Mapping[str, Any],
    start: datetime,
    end: datetime,
    *,
    output_sensor_id: int | None = None,
    as_of: datetime | None = None,
    belief_time: datetime | None = None,
) -> ReportResult:
    """Run one reporter over [start, end); save on ``output_sensor_id`` when given."""
    if reporter not in REPORTERS:
        raise ReportError(f"reporter {reporter!r} is not one of {sorted(REPORTERS)}")
    if not isinstance(config, Mapping):
        raise ReportError(f"{reporter} config must be a JSON object, not {type(config).__name__}")
    if end <= start:
        raise ReportError(
            f"report window end {end.isoformat()} is not after its start {start.isoformat()}"
        )
    return REPORTERS[reporter](
        store,
        config,
        start,
        end,
        output_sensor_id=output_sensor_id,
        as_of=as_of,
        belief_time=belief_time,
    )


def configured_reports(store: BeliefStore, asset_id: int) -> list[dict[str, Any]]:
    """The reports configured on an asset (``attributes["reports"]``), validated."""
    asset = store.get_asset(asset_id)
    items = asset.attributes.get("reports") or []
    if not isinstance(items, list):
        raise ReportError(f"asset {asset_id} attribute 'reports' must be a list, not {items!r}")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or "reporter" not in item or "config" not in item:
            raise ReportError(
                f"asset {asset_id} attribute 'reports' item {i} needs 'reporter' and 'config'"
            )
    return [dict(x) for x in items]


def run_asset_reports(
    store: BeliefStore,
    asset_id: int,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
) -> list[ReportResult]:
    """Run (and save, where an ``output-sensor`` is given) every report configured on an asset."""
    return [
        run_report(
            store,
            item["reporter"],
            item["config"],
            start,
            end,
            output_sensor_id=item.get("output-sensor"),
            as_of=as_of,
        )
        for item in configured_reports(store, asset_id)
    ]
