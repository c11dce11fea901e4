"""Data checks before forecasting: does a series' daily profile jump at clock changes?

A series whose timestamps are labelled with a fixed UTC offset but were really written on a local
wall clock with daylight saving time (a common export error) shows its daily profile moving by
about an hour at each clock change: a PV system's production midpoint (solar noon) moves *later*
by an hour in the labelled time when the clocks go forward, and back when they go back. The
opposite sign is what a series driven by the local clock (demand, prices) shows when its stamps
are correct UTC: then the data are right and only the sensor's time zone should follow that clock.

The shift at each change is estimated by the circular cross-correlation of the mean daily profiles
of the ``days`` days before and after it (the change day itself and the day after left out),
refined to below one step by parabolic interpolation of the correlation peak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.history import SeriesHistory, per_event
from flex_pipelines.time import get_zone

__all__ = ["ClockShift", "clock_changes", "clock_change_shifts", "diagnose_clock_shifts"]

#: a shift within this many minutes of ±60 counts as "about an hour"
TOLERANCE_MIN = 20.0


@dataclass(frozen=True)
class ClockShift:
    """The profile shift at one clock change (minutes; positive: later in the labelled time)."""

    change: date
    clocks: str  # "forward" or "back"
    shift_min: float
    days_before: int
    days_after: int

    @property
    def about_an_hour(self) -> bool:
        return abs(abs(self.shift_min) - 60.0) <= TOLERANCE_MIN


def clock_changes(zone: str, first: datetime, last: datetime) -> list[tuple[date, str]]:
    """The local dates in [first, last] on which ``zone``'s UTC offset changes, and the way
    (``"forward"``: offset grows, as in spring; ``"back"``)."""
    tz = get_zone(zone)
    out = []
    day = first.astimezone(UTC).date()
    prev = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).astimezone(tz).utcoffset()
    while day <= last.astimezone(UTC).date():
        day += timedelta(days=1)
        off = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).astimezone(tz).utcoffset()
        if off != prev and off is not None and prev is not None:
            out.append((day, "forward" if off > prev else "back"))
        prev = off
    return out


def _profile(ev_us: np.ndarray, vals: np.ndarray, step_us: int, lo: int, hi: int) -> np.ndarray:
    s = int(86_400_000_000 // step_us)
    sel = (ev_us >= lo) & (ev_us < hi)
    slot = (ev_us[sel] % 86_400_000_000) // step_us
    total = np.bincount(slot, weights=vals[sel], minlength=s)
    count = np.bincount(slot, minlength=s)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _shift_steps(before: np.ndarray, after: np.ndarray, max_lag: int) -> float:
    """Lag (steps, sub-step) that best aligns ``after`` with ``before`` (after(t) ≈ before(t − L))."""
    a = np.nan_to_num(before - np.nanmean(before))
    b = np.nan_to_num(after - np.nanmean(after))
    lags = np.arange(-max_lag, max_lag + 1)
    corr = np.array([np.dot(a, np.roll(b, -lag)) for lag in lags])
    k = int(np.argmax(corr))
    if 0 < k < len(lags) - 1:
        y0, y1, y2 = corr[k - 1], corr[k], corr[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            return float(lags[k] + 0.5 * (y0 - y2) / den)
    return float(lags[k])


def clock_change_shifts(
    history: SeriesHistory,
    zone: str | None = None,
    *,
    changes: list[tuple[date, str]] | None = None,
    days: int = 14,
) -> list[ClockShift]:
    """How far the daily profile moves at each clock change in the series' span.

    Parameters
    ----------
    history : SeriesHistory
        The series (its latest value per event is used).
    zone : str, optional
        The time zone whose clock changes to test (default: the history's own).
    changes : list of (date, str), optional
        Explicit change dates and directions instead of ``zone``'s.
    days : int
        Days on each side of a change whose mean profile is compared.

    Returns
    -------
    list of ClockShift
        One per change with at least 3 days of data on both sides; shifts in minutes, positive
        when the profile moved later in the labelled time.
    """
    ev = per_event(history)
    if ev.height == 0:
        return []
    ev_us = ev["event_start"].dt.epoch("us").to_numpy()
    vals = ev["event_value"].to_numpy().astype(float)
    step_us = int(history.resolution.total_seconds() * 1_000_000)
    if changes is None:
        first, last = ev["event_start"].min(), ev["event_start"].max()
        changes = clock_changes(zone or history.timezone, first, last)  # type: ignore[arg-type]
    day_us = 86_400_000_000
    max_lag = max(1, int(3 * 3_600_000_000 // step_us))
    out = []
    for d, way in changes:
        c = int(pl.Series([d]).cast(pl.Datetime("us")).dt.epoch("us")[0])
        lo, hi = c - (days + 1) * day_us, c - day_us
        lo2, hi2 = c + 2 * day_us, c + (days + 2) * day_us
        n_before = len(np.unique(ev_us[(ev_us >= lo) & (ev_us < hi)] // day_us))
        n_after = len(np.unique(ev_us[(ev_us >= lo2) & (ev_us < hi2)] // day_us))
        if n_before < 3 or n_after < 3:
            continue
        before = _profile(ev_us, vals, step_us, lo, hi)
        after = _profile(ev_us, vals, step_us, lo2, hi2)
        steps = _shift_steps(before, after, max_lag)
        out.append(ClockShift(d, way, steps * step_us / 60_000_000, n_before, n_after))
    return out


def diagnose_clock_shifts(shifts: list[ClockShift], zone: str) -> str | None:
    """A finding with the fix to apply, or None when no change moved the profile by ~1 h."""
    if not shifts or not all(s.about_an_hour for s in shifts):
        return None
    # profile later after clocks go forward: the stamps follow the DST wall clock
    wall_clock = all((s.shift_min > 0) == (s.clocks == "forward") for s in shifts)
    where = ", ".join(f"{s.change} ({s.clocks}: {s.shift_min:+.0f} min)" for s in shifts)
    if wall_clock:
        return (
            f"the daily profile moves with {zone}'s clock changes ({where}): the timestamps are "
            f"local wall-clock time with daylight saving, labelled as a fixed UTC offset. Fix: "
            f"strip the offsets and read the file as local time of {zone} (`flexpipe add beliefs "
            f"--timezone {zone}` on naive timestamps), or move the stamps in daylight-saving "
            "time one hour earlier"
        )
    return (
        f"the daily profile follows {zone}'s local clock ({where}) while the timestamps are "
        f"UTC: the data are consistent; give the sensor the time zone {zone} so calendar "
        "features and day-ahead publication times follow that clock"
    )


def check_series_clock(history: SeriesHistory, zone: str | None = None) -> str | None:
    """:func:`clock_change_shifts` and :func:`diagnose_clock_shifts` for one series."""
    tz = zone or history.timezone
    try:
        get_zone(tz)
    except Exception as exc:  # noqa: BLE001  (the zone library's own error types vary)
        raise ForecastingError(f"time zone {tz!r} is not known") from exc
    return diagnose_clock_shifts(clock_change_shifts(history, tz), tz)
