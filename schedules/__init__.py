"""Dagster schedules: the day-ahead and intraday operating cycles."""
