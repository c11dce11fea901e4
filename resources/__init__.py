"""Dagster resources: the belief store and the inbox folder."""

from resources.inbox import InboxResource
from resources.store import STORE_POOL, BeliefStoreResource, default_db_url

__all__ = ["STORE_POOL", "BeliefStoreResource", "InboxResource", "default_db_url"]
