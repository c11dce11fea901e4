"""The typed records the service returns to every door (CLI, API, Dagster), and the warnings
they carry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["RunWarning", "SchedulerRun", "ScheduleRecord", "warnings_from_result"]


@dataclass(frozen=True)
class RunWarning:
    """Something a user should know about a run that still produced a result.

    ``kind``: ``unmet-target`` (a soft SoC target, minimum or maximum not met), ``breach`` (a
    soft limit breached, with its cost), ``note`` (inputs clipped or resampled, a process left
    out of the joint solve, a duration rounded).
    """

    kind: str
    message: str
    device: str | None = None
    field: str | None = None
    time: str | None = None
    required: float | None = None  # MWh for SoC fields
    scheduled: float | None = None
    cost: float | None = None  # in the run's currency

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class SchedulerRun:
    """One call of a scheduler within a site's schedule (the storage scheduler for the storage
    devices and the processes it schedules jointly, or the process scheduler for one process)."""

    scheduler: str  # StorageScheduler, ProcessScheduler
    kind: str  # storage, process
    device_ids: list[int]
    power_sensor_ids: list[int]
    cost_eur: float
    n_new: int
    method: str = ""
    source_id: int | None = None
    result: Any = field(default=None, repr=False)  # ScheduleResult / ProcessRun (for rendering)

    def to_record(self) -> dict[str, Any]:
        rec = {
            "device_ids": self.device_ids,
            "kind": self.kind,
            "scheduler": self.scheduler,
            "cost_eur": round(self.cost_eur, 4),
            "n_new": self.n_new,
        }
        if self.method:
            rec["method"] = self.method
        if self.risk is not None:  # scenarios, risk-aversion, cvar-alpha, expected cost, CVaR
            rec["risk"] = {k: v for k, v in self.risk.to_json().items() if k != "scenario_costs"}
        return rec

    @property
    def risk(self) -> Any:
        """A risk-aware storage run's :class:`~flex_pipelines.scheduling.risk.RiskSummary`
        (scenarios, expected cost, CVaR, each scenario's cost), else None."""
        return getattr(getattr(self.result, "result", None), "risk", None)


@dataclass
class ScheduleRecord:
    """What scheduling a site (or a device of it) for one window did."""

    site_id: int | None
    start: datetime
    end: datetime
    belief_time: datetime
    runs: list[SchedulerRun] = field(default_factory=list)
    warnings: list[RunWarning] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    written_sensor_ids: list[int] = field(default_factory=list)  # every sensor saved on
    solve_s: float = 0.0
    end_soc: dict[int, str] = field(default_factory=dict)  # power sensor id → SoC at the end

    @property
    def devices(self) -> list[dict[str, Any]]:
        """One record per scheduler run (the pipeline's per-site metadata)."""
        return [r.to_record() for r in self.runs]

    @property
    def n_beliefs(self) -> int:
        return sum(r.n_new for r in self.runs)

    @property
    def cost_eur(self) -> float:
        return sum(r.cost_eur for r in self.runs)

    @property
    def source_ids(self) -> list[int]:
        return sorted({r.source_id for r in self.runs if r.source_id is not None})

    @property
    def power_sensor_ids(self) -> list[int]:
        return sorted({s for r in self.runs for s in r.power_sensor_ids})

    @property
    def scheduler(self) -> str:
        """The schedulers that ran, e.g. ``StorageScheduler + ProcessScheduler``."""
        return " + ".join(dict.fromkeys(r.scheduler for r in self.runs))

    def to_record(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "belief_time": self.belief_time.isoformat(),
            "devices": self.devices,
            "skipped": self.skipped,
            "warnings": [w.to_json() for w in self.warnings],
            "n_beliefs": self.n_beliefs,
            "cost_eur": round(self.cost_eur, 4),
            "solve_s": round(self.solve_s, 4),
        }


def warnings_from_result(result: Any) -> list[RunWarning]:
    """The warnings of a storage :class:`~flex_pipelines.scheduling.result.ScheduleResult`:
    unmet soft SoC constraints (with the breach cost of their device), soft limits breached at a
    cost, and the scheduler's notes."""
    out: list[RunWarning] = []
    cur = getattr(result, "currency", "EUR")
    costs: dict[str, float] = getattr(result, "costs", {}) or {}
    for u in getattr(result, "unmet", []) or []:
        label = {
            "soc-targets": "soc minima",
            "soc-minima": "soc minima",
            "soc-maxima": "soc maxima",
        }[u["field"]]
        if u["field"] == "soc-targets" and u["scheduled_mwh"] > u["required_mwh"]:
            label = "soc maxima"
        cost = costs.get(f"{label} breach[{u['device']}]")
        msg = (
            f"unmet {u['field']} of {u['device']} at {u['time']}: {u['required_mwh']:.6g} MWh "
            f"required, {u['scheduled_mwh']:.6g} scheduled"
        )
        if cost:
            msg += f" (breach cost {cost:.2f} {cur} for the device)"
        out.append(
            RunWarning(
                "unmet-target",
                msg,
                device=u["device"],
                field=u["field"],
                time=u["time"],
                required=u["required_mwh"],
                scheduled=u["scheduled_mwh"],
                cost=cost,
            )
        )
    for name, value in costs.items():
        if "breach" in name and "soc m" not in name and value > 1e-9:
            out.append(RunWarning("breach", f"{name}: {value:.2f} {cur}", field=name, cost=value))
    out += [RunWarning("note", n) for n in getattr(result, "notes", []) or []]
    return out
