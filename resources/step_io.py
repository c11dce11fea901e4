"""An IO manager that keeps step outputs in the belief store, not on a local disk.

The schedules asset hands small records between its steps (the chunks to schedule, each chunk's
counts, failures and timings). Dagster's default IO manager pickles them under
``$DAGSTER_HOME/storage`` of the machine that ran the step, so a step on another celery worker
or Kubernetes pod could not read them. This one writes them as JSON rows of
``dagster_step_outputs`` in the store (PostgreSQL in a distributed deployment, the DuckDB file
in-process), keyed by run, step, output and mapping key; a retried step overwrites its row.
Rows older than :data:`KEEP_DAYS` are removed when new ones are written.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import InitResourceContext, InputContext, IOManager, OutputContext, io_manager

from resources.store import BeliefStoreResource

KEEP_DAYS = 14
#: the resource key of the store IO manager (the schedules graph's step outputs)
STEP_IO = "step_io"
TABLE = "dagster_step_outputs"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "run_id VARCHAR NOT NULL, step_key VARCHAR NOT NULL, output_name VARCHAR NOT NULL, "
    "mapping_key VARCHAR NOT NULL, value VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL)"
)


def _key(context: OutputContext) -> list[str]:
    return [context.run_id, context.step_key, context.name, context.mapping_key or ""]


class StoreIOManager(IOManager):
    """Step outputs as JSON rows of the belief store (JSON-serialisable values only)."""

    def __init__(self, store: BeliefStoreResource) -> None:
        self.store = store

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        try:
            text = json.dumps(obj)
        except TypeError as exc:
            raise TypeError(
                f"output {context.name} of {context.step_key} is not JSON ({exc}): the store IO "
                "manager keeps only records of plain values"
            ) from exc
        now = datetime.now(UTC)
        with self.store.open() as s, s.transaction():
            s.execute(_DDL)
            s.execute(
                f"DELETE FROM {TABLE} WHERE run_id = ? AND step_key = ? AND output_name = ? "
                "AND mapping_key = ?",
                _key(context),
            )
            s.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)", [*_key(context), text, now])
            s.execute(
                f"DELETE FROM {TABLE} WHERE created_at < ?", [now - timedelta(days=KEEP_DAYS)]
            )
        context.add_output_metadata({"stored_bytes": len(text)})

    def load_input(self, context: InputContext) -> Any:
        up = context.upstream_output
        if up is None:
            raise ValueError(f"input {context.name} has no upstream output to load")
        with self.store.open() as s:
            s.execute(_DDL)
            rows = s.query(
                f"SELECT value FROM {TABLE} WHERE run_id = ? AND step_key = ? AND output_name = ? "
                "AND mapping_key = ?",
                _key(up),
            )
        if rows.is_empty():
            raise ValueError(
                f"no stored output {up.name} of step {up.step_key} (run {up.run_id}, mapping key "
                f"{up.mapping_key!r}) in {TABLE}"
            )
        return json.loads(rows["value"][0])


@io_manager(required_resource_keys={"store"})
def store_io_manager(init_context: InitResourceContext) -> StoreIOManager:
    """The IO manager on the run's own ``store`` resource (so a run config that names another
    store, as the celery and pipeline runs do, keeps the outputs there too)."""
    return StoreIOManager(init_context.resources.store)
