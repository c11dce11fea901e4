"""Whole-pipeline backtests with value capture (no dagster here).

For a site and a period, every local day is scheduled at its day-ahead viewpoint with only what
was known then (stored point forecasts), and alongside on the same days with perfect foresight,
a naive forecast and each input swapped to its realised values; every schedule is settled at
realised prices and loads. See docs/backtest.md.

- :mod:`~flex_pipelines.backtest.variants`: what each schedule may know;
- :mod:`~flex_pipelines.backtest.inputs`: the store as seen from a viewpoint;
- :mod:`~flex_pipelines.backtest.settle`: realised cost with the scheduler's cost formula;
- :mod:`~flex_pipelines.backtest.run`: the day loop;
- :mod:`~flex_pipelines.backtest.results`: per day and totals, value capture, error split;
- :mod:`~flex_pipelines.backtest.store`: the ``backtest_runs`` and ``backtest_days`` tables.
"""

from flex_pipelines.backtest.results import (
    BacktestDay,
    BacktestResult,
    ErrorSplit,
    VariantTotal,
    value_capture,
)
from flex_pipelines.backtest.variants import (
    DEFAULT_VARIANTS,
    INPUT_ROLES,
    RISK_AWARE,
    VARIANTS,
    BacktestError,
    Variant,
    parse_variants,
)

__all__ = [
    "DEFAULT_VARIANTS",
    "INPUT_ROLES",
    "RISK_AWARE",
    "VARIANTS",
    "BacktestDay",
    "BacktestError",
    "BacktestResult",
    "ErrorSplit",
    "Variant",
    "VariantTotal",
    "parse_variants",
    "value_capture",
]
