"""Backtest variants: what each schedule of a backtest day is allowed to know.

A variant is one way of scheduling the same day at the same viewpoint:

- ``actual``: the input roles (``price``, ``load``, ``pv``) read as realised (every belief that
  is not a forecast or a schedule, as known at the end), the others as known at the viewpoint;
- ``naive``: inputs not yet known at the viewpoint are the value of the same time a week
  earlier (seasonal-naive, as known at the viewpoint) instead of the stored forecasts;
- ``forecaster``: read only the forecasts of forecaster sources of this model (e.g. ``ridge``,
  ``lear``; the source's ``model``) where no value is known at the viewpoint, so one store with
  several forecasters' beliefs backtests each (None: whichever the store's one-value-per-event
  rule picks, as the pipeline's scheduler does);
- ``flex_context``: extra flex-context fields on top of the site's (e.g. the risk-aware
  scheduler's ``risk-aversion``, ``cvar-alpha`` and ``scenarios``).

The built-in set (:data:`VARIANTS`): ``forecast`` (what the pipeline schedules: stored point
forecasts as known at the viewpoint), ``perfect`` (every input realised: perfect foresight),
``naive``, and one input swapped to its realised values at a time (``price-actual``,
``load-actual``, ``pv-actual``) for the cost of each input's forecast error. The no-battery
baseline is not a schedule; every day settles it alongside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flex_pipelines.errors import FlexPipelinesError

__all__ = [
    "DEFAULT_VARIANTS",
    "INPUT_ROLES",
    "RISK_AWARE",
    "VARIANTS",
    "BacktestError",
    "Variant",
    "parse_variants",
]

#: the input roles a variant can swap to realised values
INPUT_ROLES = ("price", "load", "pv")


class BacktestError(FlexPipelinesError):
    """A backtest cannot run as asked (unknown site or variant, empty period, naive times)."""


@dataclass(frozen=True)
class Variant:
    """One way to schedule a backtest day (see the module docstring)."""

    name: str
    description: str
    actual: frozenset[str] = frozenset()
    naive: bool = False
    flex_context: Mapping[str, Any] = field(default_factory=dict)
    forecaster: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.actual) - set(INPUT_ROLES)
        if unknown:
            raise BacktestError(
                f"variant {self.name!r}: actual inputs {sorted(unknown)} are not among "
                f"{list(INPUT_ROLES)}"
            )
        if self.naive and self.forecaster:
            raise BacktestError(
                f"variant {self.name!r}: naive and forecaster {self.forecaster!r} exclude each other"
            )

    @property
    def is_perfect(self) -> bool:
        return set(self.actual) == set(INPUT_ROLES)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("forecast", "stored point forecasts as known at the viewpoint (the pipeline's)"),
        Variant(
            "perfect", "perfect foresight: realised prices, loads and PV", frozenset(INPUT_ROLES)
        ),
        Variant(
            "naive", "inputs unknown at the viewpoint: the same time a week earlier", naive=True
        ),
        Variant("price-actual", "forecasts, but realised prices", frozenset({"price"})),
        Variant("load-actual", "forecasts, but realised loads", frozenset({"load"})),
        Variant("pv-actual", "forecasts, but realised PV", frozenset({"pv"})),
    )
}

#: the risk-aware scheduler's variant: point-forecast inputs plus its flex-context fields
RISK_AWARE = Variant(
    "risk-aware",
    "stored quantile forecasts as scenarios, expected cost plus a CVaR term",
    flex_context={"risk-aversion": 0.5, "cvar-alpha": 0.9, "scenarios": 20},
)
VARIANTS[RISK_AWARE.name] = RISK_AWARE

#: what ``flexpipe backtest`` runs without ``--variants`` (risk-aware is asked for by name)
DEFAULT_VARIANTS = ("forecast", "perfect", "naive", "price-actual", "load-actual", "pv-actual")


def parse_variants(names: str | Sequence[str | Variant] | None) -> list[Variant]:
    """Variants by name (comma-separated or a list of names or :class:`Variant` objects: a
    caller's own variants); ``perfect`` is always included (value capture is measured
    against it).

    Raises
    ------
    BacktestError
        Naming an unknown variant and the known ones.
    """
    if names is None:
        wanted = list(DEFAULT_VARIANTS)
    elif isinstance(names, str):
        wanted = [n.strip() for n in names.split(",") if n.strip()]
    else:
        wanted = [n if isinstance(n, Variant) else str(n).strip() for n in names]
    if not wanted:
        raise BacktestError("variants: give at least one variant name")
    own = {n.name: n for n in wanted if isinstance(n, Variant)}
    wanted = [n.name if isinstance(n, Variant) else n for n in wanted]
    unknown = [n for n in wanted if n not in VARIANTS and n not in own]
    if unknown:
        raise BacktestError(
            f"variants: unknown {', '.join(map(repr, unknown))}; known: {', '.join(VARIANTS)}"
        )
    if "perfect" not in wanted:
        wanted.append("perfect")
    return [own.get(n) or VARIANTS[n] for n in dict.fromkeys(wanted)]
