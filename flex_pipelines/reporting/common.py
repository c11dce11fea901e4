"""What the three reporters (profit-loss, aggregator, SQL) share around their own computation.

Every reporter is called as ``reporter(store, config, start, end, *, output_sensor_id=None,
as_of=None, belief_time=None)`` and returns a :class:`~flex_pipelines.reporting.base.ReportResult`
(:func:`~flex_pipelines.reporting.run.run_report` picks one by name). Around its own
computation each one:

- refuses configuration fields it does not know (:func:`check_fields`);
- reads the optional ``"resolution"`` field (:func:`config_resolution`);
- reads its inputs with :func:`~flex_pipelines.reporting.series.read_input` and dates its result
  by their latest belief time (:func:`latest_belief_time`);
- says which inputs had no values when the report is empty (:func:`empty_note`);
- saves the result on the output sensor when one is given (:func:`finish`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from datetime import datetime, timedelta
from typing import Any

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.reporting.base import ReportError, ReportResult, save_report
from flex_pipelines.reporting.series import Series
from flex_pipelines.time import parse_timedelta

__all__ = ["check_fields", "config_resolution", "empty_note", "finish", "latest_belief_time"]


def check_fields(
    config: Mapping[str, Any],
    known: Set[str],
    reporter: str,
    error: type[ReportError] = ReportError,
) -> None:
    """Raise ``error`` naming the unknown and the known fields if ``config`` has a field not
    in ``known`` (``reporter`` names the reporter in the message)."""
    unknown = set(config) - known
    if unknown:
        raise error(
            f"{reporter} config has unknown field(s) {sorted(unknown)}; known fields: "
            f"{sorted(known)}"
        )


def config_resolution(config: Mapping[str, Any]) -> timedelta | None:
    """The configured ``"resolution"`` (an ISO 8601 duration); None when absent or empty."""
    return parse_timedelta(config["resolution"]) if config.get("resolution") else None


def latest_belief_time(inputs: Iterable[Series]) -> datetime | None:
    """The latest belief time among the inputs' values (None for fixed values only)."""
    times = [s.belief_time for s in inputs if s.belief_time is not None]
    return max(times) if times else None


def empty_note(inputs: Iterable[Series], start: datetime, end: datetime) -> str:
    """The note of a report whose inputs hold no values in [start, end)."""
    return (
        f"no input values in {start.isoformat()}–{end.isoformat()} "
        f"({', '.join(s.label for s in inputs)}): empty report"
    )


def finish(
    store: BeliefStore,
    result: ReportResult,
    output_sensor_id: int | None,
    model: str,
    config: Mapping[str, Any],
    belief_time: datetime | None,
) -> ReportResult:
    """Save ``result`` on the output sensor as ``model`` when one is given; return it."""
    if output_sensor_id is not None:
        save_report(store, result, output_sensor_id, model, config, belief_time)
    return result
