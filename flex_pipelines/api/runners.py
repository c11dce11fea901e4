"""What triggered jobs run: thin calls into the scheduling, forecasting and reporting libraries.

Each runner takes the store and the job record and returns a small JSON-able result that the
result endpoints use to find the beliefs it saved (sensor ids, window, belief time, sources).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import add_duration, parse_datetime, parse_duration, parse_timedelta

#: where a store-integrated storage scheduler may live (module, function), first found wins
STORAGE_SCHEDULER_CANDIDATES = [
    ("flex_pipelines.scheduling.storage_store", "schedule_storage"),
    ("flex_pipelines.scheduling.store", "schedule_storage"),
    ("flex_pipelines.scheduling.storage", "schedule_storage"),
    ("flex_pipelines.scheduling", "schedule_storage"),
]


def storage_scheduler() -> Callable[..., Any] | None:
    """The store-integrated storage scheduler, if this build has one."""
    for module, name in STORAGE_SCHEDULER_CANDIDATES:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn
    return None


def _stored_flex_model(store: BeliefStore, sensor_id: int) -> dict[str, Any]:
    sensor = store.get_sensor(sensor_id)
    if sensor.asset_id is None:
        return {}
    return dict(store.get_asset(sensor.asset_id).flex_model)


def _is_process(store: BeliefStore, sensor_id: int, flex_model: Mapping[str, Any]) -> bool:
    return "process-type" in {**_stored_flex_model(store, sensor_id), **flex_model}


def check_process_flex_model(store: BeliefStore, sensor_id: int, flex_model: Mapping[str, Any]) -> None:  # fmt: skip
    """Parse a process device's flex-model now, so a bad one is a 400 at trigger time."""
    from flex_pipelines.scheduling.process_model import parse_process_flex_model
    from flex_pipelines.scheduling.process_store import stored_process_flex_model
    from flex_pipelines.units import is_power_unit

    sensor = store.get_sensor(sensor_id)
    merged = {**stored_process_flex_model(store, sensor), **flex_model}
    if "process-type" in merged:
        parse_process_flex_model(
            merged,
            timezone=sensor.timezone,
            default_power_unit=sensor.unit if is_power_unit(sensor.unit) else None,
        )


def devices_of_asset(store: BeliefStore, asset_id: int) -> list[int]:
    """Power sensors of the schedulable devices at or below an asset (flex_model has "sensor")."""
    out: list[int] = []
    todo = [asset_id]
    while todo:
        a = store.get_asset(todo.pop(0))
        if "sensor" in a.flex_model:
            out.append(int(a.flex_model["sensor"]))
        todo.extend(c.id for c in store.list_assets(parent_id=a.id))
    return out


def run_schedule(store: BeliefStore, job: dict[str, Any]) -> dict[str, Any]:
    """Schedule a sensor's device, or every device of an asset (site), and save the schedules."""
    req = job["request"]
    start = parse_datetime(req["start"])
    end = add_duration(start, parse_duration(req["duration"]))
    belief_time = (
        parse_datetime(req["prior"]).astimezone(UTC) if req.get("prior") else datetime.now(UTC)
    )
    flex_context = req.get("flex_context") or {}
    fm = req.get("flex_model")
    if job["target_type"] == "sensor":
        devices = [(int(job["target_id"]), dict(fm or {}))]
    elif isinstance(fm, list) and fm:
        devices = [(int(d["sensor"]), {k: v for k, v in d.items() if k != "sensor"}) for d in fm]
    else:
        devices = [(s, {}) for s in devices_of_asset(store, int(job["target_id"]))]
    if not devices:
        raise FlexPipelinesError(
            f"asset {job['target_id']} has no device to schedule: no flex-model names a power "
            'sensor ("sensor": id) at or below it'
        )
    processes = [(s, m) for s, m in devices if _is_process(store, s, m)]
    storages = [(s, m) for s, m in devices if (s, m) not in processes]
    sources: set[int] = set()
    schedulers: list[str] = []
    if processes:
        from flex_pipelines.scheduling.process_store import schedule_process_for_sensor

        for sensor_id, model in processes:
            run = schedule_process_for_sensor(
                store, sensor_id, start, req["duration"], flex_model=model,
                flex_context=flex_context or None, as_of=belief_time,
            )  # fmt: skip
            if run.source is not None:
                sources.add(run.source.id)
        schedulers.append("ProcessScheduler")
    if storages:
        fn = storage_scheduler()
        if fn is None:
            raise FlexPipelinesError(
                "storage scheduling over the API needs the store-integrated storage scheduler "
                "(schedule_storage), which this build of flex_pipelines.scheduling does not have yet"
            )
        srcs, scheduled = _call_storage(fn, store, job, storages, start, end, flex_context, belief_time)  # fmt: skip
        sources.update(srcs)
        schedulers.append("StorageScheduler")
    else:
        scheduled = []
    return {
        "sensor_ids": sorted({s for s, _ in processes} | set(scheduled)),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "belief_time": belief_time.isoformat(),
        "source_ids": sorted(sources),
        "scheduler": " + ".join(schedulers),
    }


def _call_storage(
    fn: Callable[..., Any],
    store: BeliefStore,
    job: dict[str, Any],
    devices: list[tuple[int, dict[str, Any]]],
    start: datetime,
    end: datetime,
    flex_context: dict[str, Any],
    belief_time: datetime,
) -> tuple[set[int], list[int]]:
    """Call ``schedule_storage``; return the source ids it saved with and the sensors it scheduled."""
    flex_models = [{"sensor": s, **m} for s, m in devices]
    if job["target_type"] == "sensor":
        target: dict[str, Any] = {"sensor_id": int(job["target_id"])}
    else:
        target = {"asset_id": int(job["target_id"])}
    run = fn(
        store, start=start, end=end, flex_model=flex_models,
        flex_context=flex_context or None, as_of=belief_time, **target,
    )  # fmt: skip
    source = getattr(run, "source", None)
    scheduled = [int(s) for s in (getattr(run, "sensors", None) or {}).values()]
    return ({int(source.id)} if source is not None else set()), scheduled or [s for s, _ in devices]


def run_forecast(store: BeliefStore, job: dict[str, Any]) -> dict[str, Any]:
    """Forecast a sensor over [start, end) from its own history (and regressors) in the store."""
    from flex_pipelines.forecasting.cycles import CycleConfig, forecast_cycles
    from flex_pipelines.forecasting.history import SeriesHistory

    req = job["request"]
    sensor = store.get_sensor(int(job["target_id"]))
    cfg_in = req.get("config") or {}
    attrs = dict(sensor.attributes.get("forecast") or {})
    start = parse_datetime(req["start"]).astimezone(UTC)
    end = parse_datetime(req["end"]).astimezone(UTC)
    max_h = parse_timedelta(req.get("max-forecast-horizon") or attrs.get("max-horizon") or req["duration"])  # fmt: skip
    freq = parse_timedelta(req.get("forecast-frequency") or req["duration"])
    train = parse_timedelta(cfg_in.get("train-period") or attrs.get("train-period") or "P30D")
    cfg = CycleConfig(
        max_horizon=max_h,
        frequency=freq,
        train_period=train,
        quantiles=(0.1, 0.5, 0.9) if req.get("probabilistic") else (0.5,),
    )
    model = str(cfg_in.get("model") or attrs.get("model") or "ridge")
    regressor_ids = [int(i) for i in cfg_in.get("regressors") or attrs.get("regressors") or []]

    def history(sensor_id: int) -> SeriesHistory:
        s = store.get_sensor(sensor_id)
        frame = store.search_beliefs(
            sensor_id, start - train - timedelta(days=30), end + max_h,
            exclude_source_types=["forecaster", "scheduler"], most_recent=True,
        )  # fmt: skip
        return SeriesHistory(
            frame.select("event_start", "belief_time", "event_value"),
            s.event_resolution, s.timezone, s.unit, s.name,
        )  # fmt: skip

    source = store.get_or_create_source("FlexPipelines forecaster", "forecaster", model, "1")
    frame = forecast_cycles(
        model, history(sensor.id), start, end, cfg,
        regressors=[history(i) for i in regressor_ids], sensor_id=sensor.id, source_id=source.id,
    )  # fmt: skip
    frame = frame.filter(frame["event_start"] < end + max_h)
    saved = store.save_beliefs(frame)
    first = frame["event_start"].min() if frame.height else start
    last = frame["event_start"].max() if frame.height else start
    return {
        "sensor_ids": [sensor.id],
        "start": first.isoformat(),  # type: ignore[union-attr]
        "end": (last + sensor.event_resolution).isoformat(),  # type: ignore[operator]
        "belief_time": None,
        "source_ids": [source.id],
        "n_new": saved.n_new,
    }


#: FlexMeasures reporter class names → our reporters
REPORTER_ALIASES = {
    "ProfitOrLossReporter": "profit-loss",
    "AggregatorReporter": "aggregator",
    "SQLReporter": "sql",
}


def report_request(reporter: str, parameters: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
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
    """Run one reporter of flex_pipelines.reporting over a window; save on the output sensor."""
    from flex_pipelines.reporting.run import run_report as run

    req = job["request"]
    result = run(
        store, req["reporter"], req["config"], parse_datetime(req["start"]),
        parse_datetime(req["end"]), output_sensor_id=req.get("output_sensor_id"),
    )  # fmt: skip
    record = {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in result.to_record().items()
    }
    out = req.get("output_sensor_id")
    return {**record, "sensor_ids": [out] if out else [], "source_ids": [record["source_id"]] if record.get("source_id") else []}  # fmt: skip


RUNNERS: dict[str, Callable[[BeliefStore, dict[str, Any]], dict[str, Any]]] = {
    "schedule": run_schedule,
    "forecast": run_forecast,
    "report": run_report,
}
