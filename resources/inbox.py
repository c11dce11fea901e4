"""The inbox folder where CSV files of beliefs are dropped for ingestion."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field


def default_inbox() -> str:
    """``FLEXPIPE_INBOX``, else var/inbox."""
    return os.environ.get("FLEXPIPE_INBOX") or "var/inbox"


class InboxResource(ConfigurableResource):
    """Folder with pending ``<sensor_id>__<source>.csv`` files; ``done/`` and ``failed/`` inside."""

    path: str = Field(default_factory=default_inbox, description="inbox folder (FLEXPIPE_INBOX)")

    def pending(self) -> list[Path]:
        """Pending CSV files, oldest first (creates the folders when missing)."""
        root = Path(self.path)
        for sub in ("done", "failed"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        return sorted(root.glob("*.csv"), key=lambda p: (p.stat().st_mtime, p.name))
