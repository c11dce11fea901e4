"""FlexMeasures-compatible HTTP API (v3) over the belief store; see docs/api.md."""

from __future__ import annotations

from flex_pipelines.api.app import create_app
from flex_pipelines.api.state import ApiSettings

__all__ = ["ApiSettings", "create_app"]
