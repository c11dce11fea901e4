"""Where each process of a site runs in the KPI baseline: at its INFLEXIBLE start every day.

The rows feed the ``bl`` VALUES list of :func:`~flex_pipelines.reporting.event_sql.per_event_sql`;
the placement itself comes from the process scheduler, so time restrictions count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flex_pipelines.reporting.site import SiteSpec
from flex_pipelines.time import get_zone

__all__ = ["baseline_rows"]


def baseline_rows(s: SiteSpec, start: datetime, end: datetime, base_s: int) -> list[tuple]:
    """Each process at its INFLEXIBLE start in every local day of the window.

    The INFLEXIBLE placement comes from the process scheduler itself (its first allowed start,
    so time restrictions count); when that day has no allowed placement the process is put at
    local midnight. Rows: (site, first event, number of site events, step, power MW).
    """
    import numpy as np

    from flex_pipelines.errors import FlexPipelinesError
    from flex_pipelines.scheduling.process import schedule_process
    from flex_pipelines.time import n_steps

    rows = []
    tz = get_zone(s.timezone)
    day = start.astimezone(tz).date()
    while True:
        d0 = datetime(day.year, day.month, day.day, tzinfo=tz)
        nxt = day + timedelta(days=1)
        d1 = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
        if d0 >= end:
            return rows
        for p in s.processes:
            if d0 < start:
                continue
            t0, n = d0, int(p.duration.total_seconds()) // base_s
            try:
                fm = {**p.flex_model, "process-type": "INFLEXIBLE", "power": f"{p.power_mw} MW"}
                steps = n_steps(d0, d1, p.resolution)
                sched = schedule_process(np.zeros(steps), d0, p.resolution, fm, timezone=s.timezone)
                on = np.flatnonzero(sched.power_mw)
                if on.size:
                    t0 = d0.astimezone(UTC) + int(on[0]) * p.resolution  # clock time
                    n = int(on.size * p.resolution.total_seconds()) // base_s
            except FlexPipelinesError:
                pass  # no allowed placement that day: keep local midnight
            if n > 0:
                rows.append((s.site_id, t0, n, base_s, p.power_mw))
        day = nxt
