"""What an asset's stored configuration may name: the same access rule as a request, applied
when a flex-model, a flex-context or a report configuration is stored (API create/patch), so a
configuration cannot make the pipeline — which acts for the store's owner — read or write
another account's sensors later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.scheduling.references import SensorReference, flex_references, json_references
from flex_pipelines.service.access import Caller, authorize

__all__ = ["authorize_asset_config"]


def authorize_asset_config(
    caller: Caller,
    store: BeliefStore,
    *,
    flex_model: Any = None,
    flex_context: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """Check every sensor a stored flex-model (one or a list), flex-context and the
    ``reports`` attribute name, as if the caller sent them in a request.

    Raises
    ------
    AccessDenied
        Naming the field and sensor id the caller may not use.
    """
    fms = flex_model if isinstance(flex_model, list) else ([flex_model] if flex_model else [])
    refs = flex_references([f for f in fms if isinstance(f, Mapping)], flex_context or {})
    for i, item in enumerate((attributes or {}).get("reports") or []):
        if not isinstance(item, Mapping):
            continue
        refs += json_references(item.get("config"), f"attributes.reports[{i}].config")
        if item.get("output-sensor") is not None:
            refs += json_references(
                item["output-sensor"],
                f"attributes.reports[{i}].output-sensor",
                "write",
                bare_ids=True,
            )
    authorize(caller, store, [r for r in refs if isinstance(r, SensorReference)])
