"""Accuracy metrics and per-horizon accuracy tables.

- ``mae``: mean absolute error (target unit); ``rmse``: root mean squared error;
- ``smape``: symmetric MAPE in %, ``100 · mean(|y − ŷ| / ((|y| + |ŷ|) / 2))`` (0 when both are 0),
  the definition of Lago et al. (2021);
- ``mape``: mean absolute percentage error in % (only meaningful away from zero, e.g. demand);
- ``pinball``: mean pinball (quantile) loss over the forecast quantiles (target unit);
- ``coverage``: share of actual values inside [lowest quantile, highest quantile].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

__all__ = ["mae", "rmse", "smape", "mape", "pinball", "accuracy_table"]


def mae(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean(np.abs(y - yhat)))


def rmse(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - yhat) ** 2)))


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    den = (np.abs(y) + np.abs(yhat)) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, np.abs(y - yhat) / den, 0.0)
    return float(100 * np.mean(r))


def mape(y: np.ndarray, yhat: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(y - yhat) / np.abs(y)
    return float(100 * np.nanmean(np.where(np.isfinite(r), r, np.nan)))


def pinball(y: np.ndarray, qhat: np.ndarray, quantiles: Sequence[float]) -> float:
    """Mean pinball loss; ``qhat`` has one column per quantile."""
    q = np.asarray(quantiles, dtype=float)[None, :]
    diff = y[:, None] - qhat
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def _row(label: str, sub: pl.DataFrame, quantiles: Sequence[float]) -> dict[str, object]:
    """Metrics of one bucket. Each metric uses the rows that have what it needs: the median for
    MAE/RMSE/sMAPE, every quantile for pinball and coverage (a forecast made with other
    quantiles, e.g. an older run, is left out of those instead of turning them into NaN)."""
    y = sub["actual"].to_numpy()
    row: dict[str, object] = {"horizon": label, "n": int(sub.height)}
    if "q_0.5" in sub.columns:
        med = sub["q_0.5"].to_numpy().astype(float)
        ok = ~np.isnan(med)
        if ok.any():
            row |= {"mae": mae(y[ok], med[ok]), "rmse": rmse(y[ok], med[ok])}
            row["smape"] = smape(y[ok], med[ok])
    if len(quantiles) > 1:
        qhat = np.column_stack([sub[f"q_{q:g}"].to_numpy().astype(float) for q in quantiles])
        ok = ~np.isnan(qhat).any(axis=1)
        if ok.any():
            row["pinball"] = pinball(y[ok], qhat[ok], quantiles)
            row["coverage"] = float(np.mean((y[ok] >= qhat[ok, 0]) & (y[ok] <= qhat[ok, -1])))
            row["coverage_nominal"] = float(quantiles[-1] - quantiles[0])
    return row


def accuracy_table(
    forecasts: pl.DataFrame, actuals: pl.DataFrame, bucket_hours: float = 1.0
) -> pl.DataFrame:
    """Accuracy per lead-time bucket, plus an ``all`` row.

    ``forecasts``: a belief frame (``event_start``, ``belief_time``, ``cumulative_probability``,
    ``event_value``); ``actuals``: ``event_start`` and ``event_value``. The lead time of a
    forecast is ``event_start − belief_time``; buckets are ``bucket_hours`` wide and labelled by
    their start (``"12h"``, ``"13h"``…).
    """
    quantiles = sorted(forecasts["cumulative_probability"].unique().to_list())
    wide = (
        forecasts.with_columns(
            pl.format("q_{}", pl.col("cumulative_probability").round(6).cast(pl.String)).alias("q")
        )
        .pivot(on="q", index=["event_start", "belief_time"], values="event_value")
        .rename({f"q_{q}": f"q_{q:g}" for q in (round(x, 6) for x in quantiles)}, strict=False)
        .join(
            actuals.select("event_start", pl.col("event_value").alias("actual")),
            on="event_start",
        )
        .filter(pl.col("actual").is_not_null() & pl.col("actual").is_not_nan())
        .with_columns(
            (
                (pl.col("event_start") - pl.col("belief_time")).dt.total_seconds()
                / 3600.0
                / bucket_hours
            )
            .floor()
            .alias("bucket")
        )
    )
    rows = []
    for b in sorted(wide["bucket"].unique().to_list()):
        sub = wide.filter(pl.col("bucket") == b)
        rows.append(_row(f"{b * bucket_hours:g}h", sub, quantiles))
    if wide.height:
        rows.append(_row("all", wide, quantiles))
    return pl.DataFrame(rows)
