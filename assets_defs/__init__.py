"""Dagster assets by domain: ingestion, forecasting, scheduling, reporting (plus checks, sensors)."""
