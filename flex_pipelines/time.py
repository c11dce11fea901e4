"""Time: tz-aware parsing, ISO 8601 durations, DST-safe windows and resolution checks.

Rules kept everywhere:
- a timestamp without a UTC offset is an error unless a timezone is given to localise it;
- stored times are UTC; presentation is in the sensor's or site's timezone;
- calendar durations (days, weeks, months) are added on the local wall clock, so a DST day is
  23 or 25 hours long (92 or 100 quarter hours); clock durations (hours, minutes) are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flex_pipelines.errors import FlexPipelinesError

__all__ = [
    "TimeError",
    "Duration",
    "parse_datetime",
    "parse_duration",
    "parse_timedelta",
    "format_duration",
    "add_duration",
    "get_zone",
    "day_window",
    "daily_windows",
    "n_steps",
    "floor_to",
    "is_on_tick",
    "to_utc",
    "EARLIEST_TIME",
    "LATEST_TIME",
    "MAX_SCHEDULE_STEPS",
]

#: The times the store accepts: events and belief times in [EARLIEST_TIME, LATEST_TIME). Far
#: enough for any energy series, and far from the year-9999 end of Python's datetime, where an
#: event's end or its knowledge time would overflow.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)

#: The most steps one schedule may have: a (leap) year of quarter hours. The API and
#: ``flexpipe schedule solve`` refuse longer windows before any array is allocated.
MAX_SCHEDULE_STEPS = 35_136


class TimeError(FlexPipelinesError):
    """A timestamp, duration or window that cannot be used as given."""


def get_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeError(f"unknown timezone {name!r}") from exc


def to_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise TimeError(f"timestamp {dt.isoformat()} has no UTC offset or timezone")
    return dt.astimezone(UTC)


def parse_datetime(value: str | datetime, timezone: str | None = None) -> datetime:
    """Parse an ISO 8601 timestamp into a tz-aware datetime.

    A naive timestamp is localised in ``timezone``; without one it is an error.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise TimeError(f"cannot read timestamp {value!r}: expected ISO 8601") from exc
    if dt.tzinfo is None:
        if timezone is None:
            raise TimeError(
                f"timestamp {value!s} has no UTC offset; add one (e.g. +01:00) or give a timezone"
            )
        dt = dt.replace(tzinfo=get_zone(timezone))
    return dt


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration split into a calendar part (months, days) and a clock part."""

    months: int = 0
    days: int = 0
    clock: timedelta = timedelta(0)

    @property
    def is_calendar(self) -> bool:
        return self.months != 0 or self.days != 0

    def as_timedelta(self) -> timedelta:
        """Nominal length (a day = 24 h, a month not allowed)."""
        if self.months:
            raise TimeError("a duration in months has no fixed length; give a start time")
        return timedelta(days=self.days) + self.clock


_ISO_RE = re.compile(
    r"^(?P<sign>[-+])?P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_SHORT_RE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<u>s|sec|min|m|h|hour|hours|d|day|days|w)$")


def parse_duration(text: str | timedelta | Duration) -> Duration:
    """Parse ``PT15M``, ``P1D``, ``P1M``, ``PT48H``; also ``15min``, ``1h``, ``2d``."""
    if isinstance(text, Duration):
        return text
    if isinstance(text, timedelta):
        return Duration(clock=text)
    t = str(text).strip()
    m = _ISO_RE.match(t.upper())
    if m and t.upper() not in ("P", "PT") and not t.upper().endswith("T"):
        g = {k: v for k, v in m.groupdict().items() if v is not None}
        sign = -1 if g.get("sign") == "-" else 1
        months = sign * (int(g.get("y", 0)) * 12 + int(g.get("mo", 0)))
        days = sign * (int(g.get("w", 0)) * 7 + int(g.get("d", 0)))
        clock = sign * timedelta(
            hours=float(g.get("h", 0)), minutes=float(g.get("mi", 0)), seconds=float(g.get("s", 0))
        )
        return Duration(months=months, days=days, clock=clock)
    m2 = _SHORT_RE.match(t.lower())
    if m2:
        n, u = float(m2.group("n")), m2.group("u")
        if u in ("s", "sec"):
            return Duration(clock=timedelta(seconds=n))
        if u in ("min", "m"):
            return Duration(clock=timedelta(minutes=n))
        if u in ("h", "hour", "hours"):
            return Duration(clock=timedelta(hours=n))
        if u in ("d", "day", "days") and n == int(n):
            return Duration(days=int(n))
        if u == "w" and n == int(n):
            return Duration(days=7 * int(n))
    raise TimeError(f"cannot read duration {text!r}: expected ISO 8601 such as PT15M, PT48H or P1D")


def parse_timedelta(text: str | timedelta) -> timedelta:
    """A fixed-length duration (resolutions, horizons): days count as 24 hours."""
    return parse_duration(text).as_timedelta()


def format_duration(td: timedelta) -> str:
    """ISO 8601 for a timedelta, e.g. ``PT15M``, ``P1D``, ``PT1H30M``."""
    secs = int(td.total_seconds())
    if secs == 0:
        return "PT0S"
    sign = "-" if secs < 0 else ""
    secs = abs(secs)
    days, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    out = f"{sign}P" + (f"{days}D" if days else "")
    if h or m or s:
        out += "T" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    return out


def _add_months(d: datetime, months: int) -> datetime:
    y, mo = divmod(d.month - 1 + months, 12)
    y += d.year
    mo += 1
    import calendar

    day = min(d.day, calendar.monthrange(y, mo)[1])
    return d.replace(year=y, month=mo, day=day)


def add_duration(start: datetime, duration: str | timedelta | Duration) -> datetime:
    """Add a duration to a tz-aware time: calendar parts on the local wall clock, DST-safe."""
    dur = parse_duration(duration)
    if start.tzinfo is None:
        raise TimeError(f"start {start.isoformat()} has no UTC offset or timezone")
    local = start
    if dur.months:
        local = _add_months(local, dur.months)
    if dur.days:
        local = local + timedelta(days=dur.days)  # wall-clock arithmetic for ZoneInfo tzinfo
    # normalise (resolves wall-clock times to the right offset), then add exact clock time
    utc = local.astimezone(UTC) + dur.clock
    return utc.astimezone(start.tzinfo)


def day_window(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, in UTC (23, 24 or 25 hours long)."""
    tz = get_zone(timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def daily_windows(first: date, last: date, timezone: str) -> list[tuple[datetime, datetime]]:
    """Local-day windows from ``first`` to ``last`` inclusive, each as a UTC [start, end)."""
    if last < first:
        raise TimeError(f"window end {last} is before its start {first}")
    return [day_window(first + timedelta(days=i), timezone) for i in range((last - first).days + 1)]


def n_steps(start: datetime, end: datetime, resolution: timedelta) -> int:
    """Number of steps of ``resolution`` in [start, end); the window must divide evenly."""
    if end <= start:
        raise TimeError(f"window end {end.isoformat()} is not after its start {start.isoformat()}")
    span = (to_utc(end) - to_utc(start)).total_seconds()
    step = resolution.total_seconds()
    n = span / step
    if abs(n - round(n)) > 1e-9:
        raise TimeError(
            f"window {start.isoformat()}–{end.isoformat()} is not a whole number of "
            f"{format_duration(resolution)} steps"
        )
    return int(round(n))


def is_on_tick(dt: datetime, resolution: timedelta) -> bool:
    """Whether a time lies on the resolution's grid (grid anchored at the UTC epoch)."""
    secs = to_utc(dt).timestamp()
    return abs(secs / resolution.total_seconds() - round(secs / resolution.total_seconds())) < 1e-9


def floor_to(dt: datetime, resolution: timedelta) -> datetime:
    secs = to_utc(dt).timestamp()
    step = resolution.total_seconds()
    return datetime.fromtimestamp(secs - (secs % step), tz=UTC)
