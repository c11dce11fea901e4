"""Dagster resources: the belief store and the inbox folder."""

from resources.inbox import InboxResource
from resources.store import STORE_POOL, STORE_RETRY, BeliefStoreResource, default_db_url

__all__ = ["STORE_POOL", "STORE_RETRY", "BeliefStoreResource", "InboxResource", "default_db_url"]
