"""The inbox folder where CSV files of beliefs are dropped for ingestion."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from flex_pipelines.settings import load_settings


def default_inbox() -> str:
    """``FLEXPIPE_INBOX``, else var/inbox."""
    return load_settings().inbox


class InboxResource(ConfigurableResource):
    """Folder with pending ``<sensor_id>__<source>.csv`` files; ``done/`` and ``failed/`` inside."""

    path: str = Field(default_factory=default_inbox, description="inbox folder (FLEXPIPE_INBOX)")

    def pending(self) -> list[Path]:
        """Pending CSV files, oldest first (creates the folders when missing)."""
        root = Path(self.path)
        for sub in ("done", "failed"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        return sorted(root.glob("*.csv"), key=lambda p: (p.stat().st_mtime, p.name))
