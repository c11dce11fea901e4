"""Calibrated quantiles: rolling conformal prediction on the model's own past residuals.

For each viewpoint ``v`` the quantiles of a median forecast ``ŷ`` are

    ``q_α(t) = ŷ(t) + Q_α(S_v) · σ_v(slot(t))``

where ``S_v`` are the normalised out-of-sample residuals ``(y − ŷ) / σ_v(slot)`` of the same
model's forecasts made at earlier viewpoints within ``window`` before ``v`` whose actual value
was known at ``v``, ``σ_v(slot)`` is their mean absolute residual at the same local time of day
(a locally weighted score: Lei, G'Sell, Rinaldo, Tibshirani & Wasserman 2018, *Distribution-free
predictive inference for regression*, JASA 113:1094, section 5.2), and ``Q_α`` the empirical
``α``-quantile. This is split conformal prediction (Vovk, Gammerman & Shafer 2005, *Algorithmic
Learning in a Random World*) on a rolling calibration window, the usual form for time series.

With ``gamma > 0`` the level is adapted online (adaptive conformal inference, Gibbs & Candès 2021,
*Adaptive conformal inference under distribution shift*, NeurIPS 34): after each viewpoint, for
every outcome that became known, ``α_{t+1} = α_t + γ · (α − 1{y ≤ q_α_t})`` so that the long-run
share of actuals below each quantile tends to its nominal level even when the residuals drift.

Only beliefs known at ``v`` enter: forecasts with ``belief_time < v`` and actuals believed at or
before ``v`` (an as-of join); nothing about the events being forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from flex_pipelines.beliefs.model import BELIEF_SCHEMA
from flex_pipelines.forecasting.history import SeriesHistory

__all__ = ["conformal_quantiles", "MIN_RESIDUALS"]

#: fewer residuals than this at a viewpoint: its quantiles stay at the median (no calibration)
MIN_RESIDUALS = 48


def _slots(event_us: np.ndarray, timezone: str, step_us: int) -> np.ndarray:
    local = (
        pl.Series(event_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    ).dt.convert_time_zone(timezone)
    minute = local.dt.hour().cast(pl.Int64) * 60 + local.dt.minute().cast(pl.Int64)
    return (minute.to_numpy() * 60_000_000 // step_us).astype(np.int64)


def _actual_asof(actuals: SeriesHistory, event_us: np.ndarray, vp_us: np.ndarray) -> np.ndarray:
    """The actual value of each event as believed at each viewpoint (NaN if not yet known)."""
    f = actuals.frame.filter(pl.col("event_value").is_not_null())
    if "cumulative_probability" in f.columns:
        f = f.filter(
            pl.col("cumulative_probability").is_null() | (pl.col("cumulative_probability") == 0.5)
        )
    left = pl.DataFrame({"row": np.arange(len(event_us)), "key": event_us, "vp": vp_us}).sort("vp")
    right = f.select(
        pl.col("event_start").dt.epoch("us").alias("key"),
        pl.col("belief_time").dt.epoch("us").alias("vp"),
        pl.col("event_value"),
    ).sort("vp")
    j = left.join_asof(right, on="vp", by="key", strategy="backward", check_sortedness=False)
    return j.sort("row")["event_value"].fill_null(np.nan).to_numpy()


def conformal_quantiles(
    point: pl.DataFrame,
    actuals: SeriesHistory,
    quantiles: Sequence[float],
    *,
    start: datetime,
    window: timedelta = timedelta(days=56),
    gamma: float = 0.0,
) -> pl.DataFrame:
    """Quantile forecasts from median forecasts by rolling (adaptive) conformal calibration.

    Parameters
    ----------
    point : polars.DataFrame
        The model's median forecasts, a belief frame (``event_start``, ``belief_time`` = the
        viewpoint, ``event_value`` in the target's unit, ``sensor_id``, ``source_id``), for the
        viewpoints to calibrate *and* earlier ones (the calibration history).
    actuals : SeriesHistory
        The target's measured beliefs (with their belief times).
    quantiles : sequence of float
        Cumulative probabilities to return (0.5 is the median forecast itself).
    start : datetime
        Viewpoints at or after ``start`` are returned; earlier ones only calibrate.
    window : timedelta
        How far back from each viewpoint past forecasts count.
    gamma : float
        Step size of the adaptive level update (0: plain rolling conformal).

    Returns
    -------
    polars.DataFrame
        A belief frame with one row per (event, viewpoint ≥ ``start``, quantile), in the unit
        of ``point``. Where fewer than :data:`MIN_RESIDUALS` residuals are known, every
        quantile equals the median.
    """
    qs = np.asarray(sorted(quantiles), dtype=float)
    f = point.sort(["belief_time", "event_start"])
    ev = f["event_start"].dt.epoch("us").to_numpy()
    vp = f["belief_time"].dt.epoch("us").to_numpy()
    pred = f["event_value"].to_numpy().astype(float)
    step_us = int(actuals.resolution.total_seconds() * 1_000_000)
    slot = _slots(ev, actuals.timezone, step_us)
    n_slots = int(slot.max()) + 1 if len(slot) else 1
    vps = np.unique(vp)
    start_us = int(pl.Series([start]).cast(pl.Datetime("us", "UTC")).dt.epoch("us")[0])
    win_us = int(window.total_seconds() * 1_000_000)
    levels = qs.copy()
    out_vals = np.repeat(pred[:, None], len(qs), axis=1)
    first_row = np.searchsorted(vp, vps, side="left")
    last_row = np.searchsorted(vp, vps, side="right")
    scored = np.zeros(len(vp), dtype=bool)  # outcomes already used by the adaptive update
    for k, v in enumerate(vps):
        lo = int(np.searchsorted(vp, v - win_us, side="left"))
        hi = int(first_row[k])  # forecasts made strictly before v
        rows = np.arange(lo, hi)
        y = _actual_asof(actuals, ev[rows], np.full(len(rows), v)) if len(rows) else np.empty(0)
        ok = ~np.isnan(y)
        rows, y = rows[ok], y[ok]
        if gamma > 0 and len(rows):
            new = rows[~scored[rows] & (vp[rows] >= start_us)]
            if len(new):
                yn = _actual_asof(actuals, ev[new], np.full(len(new), v))
                below = (yn[:, None] <= out_vals[new]).mean(axis=0)
                levels = np.clip(levels + gamma * len(new) * (qs - below), 0.005, 0.995)
                scored[new] = True
        if v < start_us or len(rows) < MIN_RESIDUALS:
            continue
        res = y - pred[rows]
        absres = np.abs(res)
        pooled = float(absres.mean()) or 1.0
        sums = np.bincount(slot[rows], weights=absres, minlength=n_slots)
        counts = np.bincount(slot[rows], minlength=n_slots)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(counts >= 5, sums / counts, pooled)
        scale = np.where(scale > 0, scale, pooled)
        scores = res / scale[slot[rows]]
        q_scores = np.quantile(scores, levels)
        cur = np.arange(first_row[k], last_row[k])
        adj = q_scores[None, :] * scale[slot[cur]][:, None]
        out_vals[cur] = pred[cur][:, None] + adj
        out_vals[cur, qs == 0.5] = pred[cur]
    keep = vp >= start_us
    n = int(keep.sum())
    frame = pl.DataFrame(
        {
            "sensor_id": np.repeat(f["sensor_id"].to_numpy()[keep], len(qs)),
            "event_start": np.repeat(ev[keep], len(qs)),
            "belief_time": np.repeat(vp[keep], len(qs)),
            "source_id": np.repeat(f["source_id"].to_numpy()[keep], len(qs)),
            "cumulative_probability": np.tile(qs, n),
            "event_value": np.sort(out_vals[keep], axis=1).reshape(-1),
        }
    ).with_columns(
        pl.col("event_start", "belief_time").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    )
    return frame.select([pl.col(c).cast(t) for c, t in BELIEF_SCHEMA.items()]).sort(
        ["event_start", "belief_time", "cumulative_probability"]
    )
