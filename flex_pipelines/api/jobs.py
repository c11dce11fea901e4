"""Triggered work: a jobs table, de-duplication of identical triggers, one worker thread.

A trigger records a job (``QUEUED``) and returns its id; the worker runs it in this process
(``STARTED`` → ``FINISHED`` or ``FAILED``) through a runner of :mod:`flex_pipelines.api.runners`.
An identical trigger (same kind, target, account and message) within the de-duplication window
returns the id of the job already recorded, unless that job failed or the request forces a new
one. Statuses and messages follow FlexMeasures' (RQ's) job states.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flex_pipelines.api.state import ApiState
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError

log = logging.getLogger(__name__)

#: kind → (label used in messages, runner(store, job) → result dict)
Runner = Callable[[BeliefStore, dict[str, Any]], dict[str, Any]]
LABELS = {"schedule": "Scheduling", "forecast": "Forecasting", "report": "Report"}

_COLS = (
    "id, kind, target_type, target_id, account_id, user_id, request, status, message, result, "
    "exc_info, enqueued_at, started_at, ended_at"
)


def describe(kind: str, status: str, detail: str = "") -> str:
    """FlexMeasures' wording of a job's state (the client polls on these)."""
    label = LABELS.get(kind, "Job")
    text = {
        "QUEUED": f"{label} job waiting to be processed.",
        "STARTED": f"{label} job in progress.",
        "FINISHED": f"{label} job has finished.",
        "FAILED": f"{label} job failed with {detail}.",
    }.get(status, f"{label} job has an unknown status.")
    return text


class JobManager:
    """Records jobs in the store and runs them on one background thread."""

    def __init__(self, state: ApiState, runners: dict[str, Runner]) -> None:
        self.state = state
        self.runners = runners
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._cond = threading.Condition()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker; jobs queued by a previous process are run, started ones failed."""
        with self.state.db() as store:
            store.execute(
                "UPDATE api_jobs SET status = 'FAILED', message = ?, ended_at = ? "
                "WHERE status = 'STARTED'",
                ["Job failed with RuntimeError: the server stopped while it ran.", _now()],
            )
            pending = store.query(
                "SELECT id FROM api_jobs WHERE status = 'QUEUED' ORDER BY enqueued_at"
            )["id"].to_list()
        for job_id in pending:
            self._enqueue(job_id)
        self._thread = threading.Thread(target=self._work, name="flexpipe-api-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    # --- triggering --------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        target_type: str,
        target_id: int,
        account_id: int | None,
        user_id: int,
        request: dict[str, Any],
        force_new: bool = False,
    ) -> tuple[str, bool]:
        """Record a job (or find the identical recent one); returns (job id, de-duplicated)."""
        key = hashlib.sha256(
            json.dumps(
                [kind, target_type, target_id, account_id, request], sort_keys=True, default=str
            ).encode()
        ).hexdigest()
        now = _now()
        with self.state.db() as store:
            if not force_new:
                since = datetime.fromtimestamp(
                    now.timestamp() - self.state.settings.dedup_window.total_seconds(), tz=UTC
                )
                rows = store.query(
                    "SELECT id FROM api_jobs WHERE request_key = ? AND enqueued_at >= ? "
                    "AND status <> 'FAILED' ORDER BY enqueued_at DESC LIMIT 1",
                    [key, since],
                )
                if not rows.is_empty():
                    return str(rows["id"][0]), True
            job_id = str(uuid.uuid4())
            store.execute(
                "INSERT INTO api_jobs (id, kind, target_type, target_id, account_id, user_id, "
                "request_key, request, status, message, enqueued_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'QUEUED', ?, ?)",
                [
                    job_id,
                    kind,
                    target_type,
                    int(target_id),
                    account_id,
                    int(user_id),
                    key,
                    json.dumps(request, default=str),
                    describe(kind, "QUEUED"),
                    now,
                ],
            )
        self._enqueue(job_id)
        return job_id, False

    def _enqueue(self, job_id: str) -> None:
        with self._cond:
            self._pending += 1
        self._queue.put(job_id)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.state.db() as store:
            rows = store.query(f"SELECT {_COLS} FROM api_jobs WHERE id = ?", [job_id])
        if rows.is_empty():
            return None
        job = rows.row(0, named=True)
        job["request"] = json.loads(job["request"])
        job["result"] = json.loads(job["result"]) if job["result"] else None
        return job

    # --- the worker --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self.run(job_id)
            except Exception:  # the worker must survive anything
                log.exception("job %s could not be recorded", job_id)
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def run(self, job_id: str) -> None:
        job = self.get(job_id)
        if job is None or job["status"] != "QUEUED":
            return
        kind = job["kind"]
        with self.state.db() as store:
            store.execute(
                "UPDATE api_jobs SET status = 'STARTED', message = ?, started_at = ? WHERE id = ?",
                [describe(kind, "STARTED"), _now(), job_id],
            )
            status, result, exc_info = "FINISHED", None, None
            try:
                runner = self.runners.get(kind)
                if runner is None:
                    raise FlexPipelinesError(f"no runner for job kind {kind!r}")
                result = runner(store, job)
                message = describe(kind, "FINISHED")
                warnings = [w["message"] for w in result.get("warnings") or []]
                if warnings:
                    more = f" (and {len(warnings) - 3} more)" if len(warnings) > 3 else ""
                    message += f" {len(warnings)} warning(s): " + "; ".join(warnings[:3]) + more
            except FlexPipelinesError as exc:
                status, message = "FAILED", describe(kind, "FAILED", f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug: keep the traceback for the job record
                log.exception("job %s failed", job_id)
                status = "FAILED"
                message = describe(kind, "FAILED", f"{type(exc).__name__}: {exc}")
                exc_info = traceback.format_exc()
            store.execute(
                "UPDATE api_jobs SET status = ?, message = ?, result = ?, exc_info = ?, "
                "ended_at = ? WHERE id = ?",
                [
                    status,
                    message,
                    json.dumps(result, default=str) if result is not None else None,
                    exc_info,
                    _now(),
                    job_id,
                ],
            )

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no job is queued or running (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)


def _now() -> datetime:
    return datetime.now(UTC)


def job_status_json(job: dict[str, Any]) -> dict[str, Any]:
    """GET /jobs/<id>: FlexMeasures' job status document."""

    def iso(dt: datetime | None) -> str | None:
        return dt.isoformat() if dt is not None else None

    return {
        "status": job["status"],
        "message": job["message"],
        "result": job["result"],
        "func_name": f"flex_pipelines.api.runners.run_{job['kind']}",
        "origin": {"schedule": "scheduling", "forecast": "forecasting"}.get(
            job["kind"], "reporting"
        ),
        "enqueued_at": iso(job["enqueued_at"]),
        "started_at": iso(job["started_at"]),
        "ended_at": iso(job["ended_at"]),
        "exc_info": job["exc_info"],
    }
