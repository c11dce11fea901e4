"""Dagster assets by domain: ingestion, forecasting, scheduling, reporting (plus checks, sensors)."""

import warnings

from dagster import BetaWarning, PreviewWarning

# backfill_policy and pools are beta/preview in dagster 1.13; we use them deliberately
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
