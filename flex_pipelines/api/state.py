"""What one API process holds: the store (with a lock serialising its use), settings, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from flex_pipelines.beliefs.store import BeliefStore

if TYPE_CHECKING:
    from flex_pipelines.api.jobs import JobManager
    from flex_pipelines.api.writer import BeliefWriter

#: The FlexMeasures server version whose API we answer like (the client gates features on it).
FLEXMEASURES_COMPAT_VERSION = "1.1.0"


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flex-pipelines")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


FLEXPIPELINES_VERSION = _own_version()


@dataclass(frozen=True)
class ApiSettings:
    """Limits and windows of one API server."""

    token_ttl: timedelta = timedelta(hours=24)
    max_body_bytes: int = 5_000_000  # 5 MB: about 250k values in one POST
    rate_per_s: float = 50.0  # sustained requests per second per user
    rate_burst: float = 200.0  # bucket size
    login_rate_per_s: float = 1.0  # per client address
    login_burst: float = 20.0
    dedup_window: timedelta = timedelta(seconds=60)
    token_cache_s: float = 30.0
    max_values: int = 200_000  # values in one POST
    max_query_steps: int = 200_000  # values in one GET


class TokenBucket:
    """In-memory token buckets keyed by user (or address); thread-safe."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._state: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: object) -> float:
        """Take one token; return 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0


class ApiState:
    """The store, its lock and the per-process caches of one API app."""

    def __init__(self, store: BeliefStore, settings: ApiSettings) -> None:
        self.store = store
        self.settings = settings
        self.lock = threading.RLock()
        self.limiter = TokenBucket(settings.rate_per_s, settings.rate_burst)
        self.login_limiter = TokenBucket(settings.login_rate_per_s, settings.login_burst)
        self.token_cache: dict[str, tuple[object, float]] = {}
        self.source_ids: dict[int, int] = {}
        self.jobs: JobManager | None = None
        self.writer: BeliefWriter | None = None

    @contextmanager
    def db(self) -> Iterator[BeliefStore]:
        """The store, for one thread at a time (DuckDB allows one writer per process)."""
        with self.lock:
            yield self.store
