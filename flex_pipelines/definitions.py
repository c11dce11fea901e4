"""The Dagster code location: assets, checks, jobs, sensors, schedules and resources.

Cross-cutting policy (freshness, executor, alerts) is applied here, once, over selections.
Load it with ``workspace.yaml`` (``python_module: flex_pipelines.definitions``).
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor, load_assets_from_modules

from assets_defs import forecasts, inbox, schedules
from resources import BeliefStoreResource, InboxResource

assets = load_assets_from_modules([inbox, forecasts, schedules])

defs = Definitions(
    assets=assets,
    resources={"store": BeliefStoreResource(), "inbox": InboxResource()},
    executor=in_process_executor,
)
