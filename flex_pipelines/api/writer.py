"""Group commit for posted beliefs: concurrent POSTs are saved together in one transaction.

The store has one connection (DuckDB: one writer per file), so saves are serialised and each
costs a fixed overhead of a few statements. Requests that arrive while a save runs wait and
are then saved together: the first waiting request becomes the leader and saves everything
pending in one ``save_beliefs`` call. If that combined save is refused (one request holds a
conflicting value), nothing of it is stored and each request is saved on its own, so each gets
its own answer and a rejected request still stores nothing. Requests of a combined save about
different sensors get their own counts (the store counts new beliefs per sensor); requests
sharing a sensor get the counts of the whole group.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import polars as pl

from flex_pipelines.api.state import ApiState
from flex_pipelines.beliefs.model import SaveResult
from flex_pipelines.errors import FlexPipelinesError


@dataclass
class _Item:
    frame: pl.DataFrame
    done: threading.Event = field(default_factory=threading.Event)
    result: SaveResult | None = None
    grouped: bool = False
    error: BaseException | None = None


class BeliefWriter:
    """Saves belief frames, combining those that arrive while another save runs."""

    def __init__(self, state: ApiState, max_rows: int = 500_000) -> None:
        self.state = state
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._pending: list[_Item] = []
        self._writing = False
        self.n_saves = 0  # store calls, for the benchmark's report
        self.n_grouped = 0  # requests saved in a combined call

    def save(self, frame: pl.DataFrame) -> tuple[SaveResult, bool]:
        """Save one request's frame; returns its result and whether its counts are those of a
        whole group (saved together with a request about the same sensor)."""
        item = _Item(frame)
        with self._lock:
            self._pending.append(item)
            leader = not self._writing
            self._writing = True
        if leader:
            self._drain()
        item.done.wait()
        if item.error is not None:
            raise item.error
        assert item.result is not None
        return item.result, item.grouped

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch, rows = [], 0
                while self._pending and (
                    not batch or rows + self._pending[0].frame.height <= self.max_rows
                ):
                    item = self._pending.pop(0)
                    batch.append(item)
                    rows += item.frame.height
                if not batch:
                    self._writing = False
                    return
            try:
                self._write(batch)
            finally:
                for item in batch:
                    item.done.set()

    def _write(self, batch: list[_Item]) -> None:
        with self.state.db() as store:
            if len(batch) > 1:
                try:
                    result = store.save_beliefs(pl.concat([i.frame for i in batch]))
                    self.n_saves += 1
                    self.n_grouped += len(batch)
                    _share_out(result, batch)
                    return
                except FlexPipelinesError:
                    pass  # one of them is refused: save each on its own
                except BaseException as exc:
                    for item in batch:
                        item.error = exc
                    return
            for item in batch:
                try:
                    item.result = store.save_beliefs(item.frame)
                    self.n_saves += 1
                except BaseException as exc:  # each request gets its own error
                    item.error = exc


def _share_out(result: SaveResult, batch: list[_Item]) -> None:
    """Give each request of a combined save its own counts when no two requests are about the
    same sensor; otherwise every request gets the group's result (``grouped``)."""
    sensors = [set(item.frame["sensor_id"].unique().to_list()) for item in batch]
    if sum(len(s) for s in sensors) != len(set().union(*sensors)):
        for item in batch:
            item.result, item.grouped = result, True
        return
    for item, own in zip(batch, sensors, strict=True):
        n_new = sum(result.new_by_sensor.get(s, 0) for s in own)
        by_sensor = {s: n for s, n in result.new_by_sensor.items() if s in own}
        ingestion_id = result.ingestion_id if n_new else None
        item.result = SaveResult(n_new, item.frame.height - n_new, ingestion_id, by_sensor)
