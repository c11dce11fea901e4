"""The service core: one function per use case, behind every door (API, CLI, Dagster).

Each takes an explicit :class:`~flex_pipelines.service.access.Caller` (the CLI and the pipeline
act as :data:`~flex_pipelines.service.access.LOCAL_ADMIN`), checks access on every sensor the
request names, and returns a typed record with the warnings the run produced. The doors parse
their input, call one of these and render the record; none of them walks the asset tree, reads
flex-model JSON or checks access itself.

- :func:`~flex_pipelines.service.schedule.schedule` (and ``prepare_schedule`` for trigger-time
  checks): a site or a device;
- :func:`~flex_pipelines.service.forecast.forecast`: a sensor over a window;
- :func:`~flex_pipelines.service.report.report`: one reporter run (and ``prepare_report``);
- the site model itself lives in :mod:`flex_pipelines.sites`.

No dagster import here.
"""

from flex_pipelines.service.access import LOCAL_ADMIN, AccessDenied, Caller, authorize
from flex_pipelines.service.records import RunWarning, ScheduleRecord, SchedulerRun
from flex_pipelines.service.schedule import (
    MissingInputsError,
    SchedulePlan,
    input_gaps,
    prepare_schedule,
    schedule,
)

__all__ = [
    "LOCAL_ADMIN",
    "AccessDenied",
    "Caller",
    "MissingInputsError",
    "RunWarning",
    "SchedulePlan",
    "ScheduleRecord",
    "SchedulerRun",
    "authorize",
    "input_gaps",
    "prepare_schedule",
    "schedule",
]
