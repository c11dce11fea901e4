"""Ingestion: CSV files dropped into the inbox folder become beliefs.

File naming (documented in docs/operations.md): ``<sensor_id>__<source name>.csv``, e.g.
``7__EPEX.csv``, with FlexMeasures' CSV layout (header row, event start, value). An optional
sidecar ``<same name>.json`` adds options: ``timezone``, ``unit``, ``horizon`` (ISO 8601),
``belief_time``, ``source_type`` (default ``user``), ``datecol``, ``valuecol``, ``skiprows``,
``delimiter``, ``off_tick``; ``sensor`` and ``source`` there override the file name.
Each file is saved in one transaction; it then moves to ``done/``, or to ``failed/`` with a
``.error.txt`` naming what was wrong. The partition is the day the files were picked up.
"""

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, MetadataValue, asset

from assets_defs.partitions import daily_partitions
from flex_pipelines.beliefs import BeliefStore
from flex_pipelines.beliefs.ingest import CSVOptions, read_csv_beliefs
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import parse_datetime, parse_timedelta
from resources import STORE_POOL, STORE_RETRY, BeliefStoreResource, InboxResource

_OPTION_KEYS = ("datecol", "valuecol", "skiprows", "delimiter", "timezone", "unit", "off_tick")


@dataclass(frozen=True)
class InboxFile:
    """One ingested (or refused) file."""

    name: str
    ok: bool
    sensor_id: int | None = None
    n_new: int = 0
    n_existing: int = 0
    first_event: str | None = None
    last_event: str | None = None
    error: str | None = None


def inbox_spec(path: Path) -> tuple[int, str, str, CSVOptions]:
    """Sensor id, source name, source type and CSV options of an inbox file."""
    side = path.with_suffix(".json")
    extra: dict[str, Any] = json.loads(side.read_text()) if side.exists() else {}
    sensor, sep, source = path.stem.partition("__")
    sensor, source = (
        str(extra.get("sensor", sensor)),
        str(extra.get("source", source if sep else "")),
    )
    if not sensor.isdigit() or not source:
        raise FlexPipelinesError(
            f"inbox file name {path.name!r} is not <sensor_id>__<source>.csv and its sidecar "
            f"gives no 'sensor' and 'source'"
        )
    opts: dict[str, Any] = {k: extra[k] for k in _OPTION_KEYS if k in extra}
    if "horizon" in extra:
        opts["horizon"] = parse_timedelta(extra["horizon"])
    if "belief_time" in extra:
        opts["belief_time"] = parse_datetime(extra["belief_time"])
    return int(sensor), source, str(extra.get("source_type", "user")), CSVOptions(**opts)


def _move(path: Path, folder: str, stamp: str) -> Path:
    target = path.parent / folder / f"{stamp}__{path.name}"
    shutil.move(path, target)
    side = path.with_suffix(".json")
    if side.exists():
        shutil.move(side, target.with_suffix(".json"))
    return target


def ingest_inbox_file(store: BeliefStore, path: Path) -> InboxFile:
    """Save one file's beliefs (all or nothing) and move it to done/ or failed/."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        sensor_id, source_name, source_type, options = inbox_spec(path)
        sensor = store.get_sensor(sensor_id)
        with store.transaction():
            source = store.get_or_create_source(source_name, type=source_type)
            frame = read_csv_beliefs(path, sensor, source.id, options)
            saved = store.save_beliefs(frame)
    except (FlexPipelinesError, LookupError, ValueError, OSError) as exc:
        target = _move(path, "failed", stamp)
        error = f"{type(exc).__name__}: {exc}"
        target.with_suffix(".error.txt").write_text(error + "\n")
        return InboxFile(path.name, False, error=error)
    _move(path, "done", stamp)
    return InboxFile(
        path.name,
        True,
        sensor_id,
        saved.n_new,
        saved.n_existing,
        frame["event_start"].min().isoformat(),
        frame["event_start"].max().isoformat(),
    )


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="ingestion",
    kinds={"python", "csv"},
    owners=["team:data-platform"],
    pool=STORE_POOL,
    retry_policy=STORE_RETRY,
)
def inbox_beliefs(
    context: AssetExecutionContext, store: BeliefStoreResource, inbox: InboxResource
) -> MaterializeResult:
    """Beliefs ingested from CSV files dropped into the inbox (``<sensor_id>__<source>.csv``).

    Each file is saved atomically and moved to ``done/`` (or ``failed/`` with its error). The
    partition is the pickup day; the saved events may lie on any day.
    """
    files = inbox.pending()
    with store.open() as s:
        results = [ingest_inbox_file(s, f) for f in files]
    failed = [r for r in results if not r.ok]
    for r in failed:
        context.log.warning(f"inbox file {r.name} refused: {r.error}")
    rows = [r.__dict__ for r in results]
    return MaterializeResult(
        metadata={
            "files": len(results),
            "failed_files": len(failed),
            "row_count": sum(r.n_new for r in results),
            "existing_rows": sum(r.n_existing for r in results),
            "sensors": MetadataValue.json(sorted({r.sensor_id for r in results if r.ok})),
            "results": MetadataValue.json(rows),
        }
    )
