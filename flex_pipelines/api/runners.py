"""What triggered jobs run: thin calls into the service (flex_pipelines.service) as the user who
triggered them.

Each runner takes the store and the job record and returns a small JSON-able result that the
result endpoints use to find the beliefs it saved (sensor ids, window, belief time, sources).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.service.access import Caller
from flex_pipelines.time import add_duration, parse_datetime, parse_duration, parse_timedelta


def caller_of_job(store: BeliefStore, job: dict[str, Any]) -> Caller:
    """The user who triggered a job, as the service's caller (access is checked again when
    the job runs: the account or the flex-models may have changed since the trigger)."""
    from flex_pipelines.api.auth import caller_of, get_user

    return caller_of(get_user(store, int(job["user_id"])))


def run_schedule(store: BeliefStore, job: dict[str, Any]) -> dict[str, Any]:
    """Schedule a sensor's device, or every device of an asset (each site), and save them."""
    from flex_pipelines.service import schedule

    req = job["request"]
    start = parse_datetime(req["start"])
    end = add_duration(start, parse_duration(req["duration"]))
    belief_time = (
        parse_datetime(req["prior"]).astimezone(UTC) if req.get("prior") else datetime.now(UTC)
    )
    target = {"sensor_id" if job["target_type"] == "sensor" else "asset_id": int(job["target_id"])}
    records = schedule(
        caller_of_job(store, job),
        store,
        start,
        end,
        flex_model=req.get("flex_model"),
        flex_context=req.get("flex_context") or None,
        as_of=belief_time,
        **target,
    )
    return {
        "sensor_ids": sorted({s for r in records for s in r.written_sensor_ids}),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "belief_time": belief_time.isoformat(),
        "source_ids": sorted({i for r in records for i in r.source_ids}),
        "scheduler": " + ".join(dict.fromkeys(r.scheduler for r in records)),
        "warnings": [w.to_json() for r in records for w in r.warnings],
        "sites": [r.to_record() for r in records],
    }


def run_forecast(store: BeliefStore, job: dict[str, Any]) -> dict[str, Any]:
    """Forecast a sensor over [start, end) from its own history (and regressors) in the store."""
    from flex_pipelines.service.forecast_report import forecast

    req = job["request"]
    cfg_in = req.get("config") or {}
    start = parse_datetime(req["start"]).astimezone(UTC)
    end = parse_datetime(req["end"]).astimezone(UTC)
    horizon = req.get("max-forecast-horizon") or (
        None if cfg_in.get("max-horizon") else req["duration"]
    )
    rec = forecast(
        caller_of_job(store, job),
        store,
        int(job["target_id"]),
        start,
        end,
        model=cfg_in.get("model"),
        regressor_ids=cfg_in.get("regressors"),
        max_horizon=parse_timedelta(horizon) if horizon else None,
        frequency=parse_timedelta(req.get("forecast-frequency") or req["duration"]),
        train_period=parse_timedelta(cfg_in["train-period"])
        if cfg_in.get("train-period")
        else None,
        quantiles=(0.1, 0.5, 0.9) if req.get("probabilistic") else None,
        clear_sky=cfg_in.get("clear-sky"),
        label=cfg_in.get("label"),
        model_params=cfg_in.get("model-params"),
        clear_sky_plane=cfg_in.get("clear-sky-plane"),
    )
    return {
        "sensor_ids": [rec.sensor_id],
        "start": rec.start.isoformat(),
        "end": rec.end.isoformat(),
        "belief_time": None,
        "source_ids": [rec.source_id],
        "n_new": rec.n_new,
        "warnings": [w.to_json() for w in rec.warnings],
    }


#: FlexMeasures reporter class names → our reporters
REPORTER_ALIASES = {
    "ProfitOrLossReporter": "profit-loss",
    "AggregatorReporter": "aggregator",
    "SQLReporter": "sql",
}


def report_request(
    reporter: str, parameters: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """Map FlexMeasures' report trigger (reporter, parameters, config) onto ``run_report``'s."""
    from flex_pipelines.reporting.run import REPORTERS

    name = REPORTER_ALIASES.get(reporter, reporter)
    if name not in REPORTERS:
        raise FlexPipelinesError(
            f"reporter {reporter!r} is not one of {sorted(REPORTERS)} (or {sorted(REPORTER_ALIASES)})"
        )
    for key in ("start", "end"):
        if not isinstance(parameters.get(key), str):
            raise FlexPipelinesError(f"parameters.{key} is required (ISO 8601 with UTC offset)")
        parse_datetime(parameters[key])
    output = parameters.get("output")
    if isinstance(output, list):
        output = output[0] if len(output) == 1 else output
    if isinstance(output, Mapping):
        output = output.get("sensor")
    if output is not None and (not isinstance(output, int) or isinstance(output, bool)):
        raise FlexPipelinesError(
            f"parameters.output {parameters.get('output')!r} is not one sensor"
        )
    cfg = dict(config)
    if "input" in parameters and "inputs" not in cfg and name == "aggregator":
        cfg["inputs"] = parameters["input"]
    return {
        "reporter": name,
        "config": cfg,
        "start": parameters["start"],
        "end": parameters["end"],
        "output_sensor_id": output,
    }


def run_report(store: BeliefStore, job: dict[str, Any]) -> dict[str, Any]:
    """Run one reporter over a window; save on the output sensor."""
    from flex_pipelines.service.forecast_report import report

    req = job["request"]
    result = report(
        caller_of_job(store, job),
        store,
        req["reporter"],
        req["config"],
        parse_datetime(req["start"]),
        parse_datetime(req["end"]),
        output_sensor_id=req.get("output_sensor_id"),
    )
    record = {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in result.to_record().items()
    }
    out = req.get("output_sensor_id")
    return {
        **record,
        "sensor_ids": [out] if out else [],
        "source_ids": [record["source_id"]] if record.get("source_id") else [],
        "warnings": [{"kind": "note", "message": n} for n in result.notes],
    }


RUNNERS: dict[str, Callable[[BeliefStore, dict[str, Any]], dict[str, Any]]] = {
    "schedule": run_schedule,
    "forecast": run_forecast,
    "report": run_report,
}
