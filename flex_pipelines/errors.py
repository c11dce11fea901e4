"""The one base class for errors a user can act on (bad input, unknown ids, infeasible models).

Interfaces (CLI, API, Dagster) catch :class:`FlexPipelinesError` and show its message as it is;
anything else is a bug and keeps its traceback.
"""


class FlexPipelinesError(ValueError):
    """An error caused by input, with a message that names the field, value and time."""


class NotFoundError(FlexPipelinesError, LookupError):
    """An id or name that does not exist (unknown sensor, source, asset…)."""
