"""``flexpipe monitor latest-run`` and ``flexpipe monitor last-seen`` (issue 17).

Checks for cron or a monitoring system, as FlexMeasures' ``monitor`` commands: exit status 0
when all is well, 1 when something is wrong (listed, and posted to the alert webhook when one is
set: ``--webhook`` or ``FLEXPIPE_ALERT_WEBHOOK``, the Dagster alerts' webhook, in the same JSON
form, :mod:`flex_pipelines.alerts`), 2 for a usage error.

- ``latest-run``: the latest finished run of each Dagster job (default the pipeline's,
  ``pipeline_job``, which ``flexpipe pipeline run`` and the cycles record) in the instance at
  ``DAGSTER_HOME`` failed, was canceled, ended longer than ``--max-age`` ago, or there is none.
- ``last-seen``: sensors whose latest belief (its belief time) from a data source (user, market,
  demo, gateway by default) is older than ``--max-age``. FlexMeasures' ``last-seen`` watches
  users' last requests; here data arrive as beliefs, so the sensors are watched.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from flex_pipelines.alerts import AlertDeliveryError, post_alert
from flex_pipelines.beliefs import BeliefStore, duckdb_path, open_store
from flex_pipelines.beliefs.model import SOURCE_TYPES
from flex_pipelines.cli.common import (
    CLIError,
    DbOption,
    FormatOption,
    WaitOption,
    console,
    default_db,
    dumps,
    emit_records,
    err_console,
    require_format,
)
from flex_pipelines.time import format_duration, parse_timedelta

DB_DEFAULT = default_db()
#: the source types of data (measurements, prices): what "seen" means by default
DATA_SOURCE_TYPES = ("user", "market", "demo", "gateway")
#: stale sensors named in one alert's text (all of them are in its ``sensors`` field)
TEXT_SENSORS = 20

MaxAgeOption = Annotated[
    str, typer.Option("--max-age", help="ISO 8601 duration or e.g. 26h, 90min.")
]
WebhookOption = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        envvar="FLEXPIPE_ALERT_WEBHOOK",
        show_envvar=True,
        help="POST an alert here as JSON when the check fails (as the Dagster alerts do).",
    ),
]
MessageOption = Annotated[
    str | None, typer.Option("--custom-message", help="Added to the alert's text.")
]


def _max_age(text: str) -> timedelta:
    age = parse_timedelta(text)
    if age <= timedelta(0):
        raise CLIError(f"--max-age {text!r} must be positive")
    return age


def _plain(value: Any) -> Any:
    """Times as ISO 8601 text and durations as ISO 8601 durations, in lists and dicts too."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _send(webhook: str | None, text: str, custom: str | None, **fields: Any) -> bool:
    """Post one alert; False (and the reason on stderr) when the webhook did not take it."""
    if not webhook:
        return True
    try:
        post_alert(webhook, f"{text}\n{custom}" if custom else text, **_plain(fields))
    except AlertDeliveryError as exc:
        err_console.print(f"[bold red]Alert not delivered:[/] {exc}")
        return False
    return True


# --- latest-run -----------------------------------------------------------------------------
def _failure_reason(instance: Any, run_id: str) -> str:
    """The first failed step and its error (the innermost 'Failure', as the run alert says)."""
    from dagster import DagsterEventType

    steps = instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    event = steps[0].dagster_event if steps else None
    if event is None or event.step_failure_data is None:
        return ""
    err = event.step_failure_data.error
    while err is not None and err.cause is not None and "Failure" not in err.cls_name:
        err = err.cause
    text = err.message.strip().splitlines()[0] if err is not None and err.message else ""
    head, sep, rest = text.partition(": ")  # "dagster….Failure: message" → "message"
    if sep and err is not None and head.endswith(err.cls_name):
        text = rest
    return f" {event.step_key}: {text}" if text else f" in step {event.step_key}"


def check_latest_run(instance: Any, job: str, max_age: timedelta, now: datetime) -> dict[str, Any]:
    """The latest finished run of ``job`` judged: ``problem`` is None when it succeeded within
    ``max_age`` before ``now``."""
    from dagster import DagsterRunStatus, RunsFilter

    finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
    active = [s for s in DagsterRunStatus if s not in finished]
    [running] = instance.get_run_records(RunsFilter(job_name=job, statuses=active), limit=1) or [
        None
    ]
    records = instance.get_run_records(RunsFilter(job_name=job, statuses=finished), limit=1)
    out: dict[str, Any] = {
        "job": job,
        "run_id": None,
        "status": None,
        "started": None,
        "ended": None,
        "age": None,
        "in_progress": None,
        "problem": None,
    }
    if running is not None:
        out["in_progress"] = running.dagster_run.run_id
    if not records:
        out["problem"] = f"job {job} has no finished run"
        return out
    rec = records[0]
    run = rec.dagster_run
    ended_ts = rec.end_time or rec.start_time or rec.create_timestamp.timestamp()
    ended = datetime.fromtimestamp(ended_ts, UTC)
    out.update(
        run_id=run.run_id,
        status=run.status.value,
        started=datetime.fromtimestamp(rec.start_time, UTC) if rec.start_time else None,
        ended=ended,
        age=now - ended,
    )
    problems = []
    if run.status != DagsterRunStatus.SUCCESS:
        verb = "failed" if run.status == DagsterRunStatus.FAILURE else "was canceled"
        reason = _failure_reason(instance, run.run_id) if verb == "failed" else ""
        problems.append(
            f"the latest run of {job} ({run.run_id[:8]}) {verb} at "
            f"{ended:%Y-%m-%d %H:%M:%S} UTC{reason}"
        )
    if now - ended > max_age:
        problems.append(
            f"the latest finished run of {job} ({run.run_id[:8]}) ended at "
            f"{ended:%Y-%m-%d %H:%M:%S} UTC, {format_duration(now - ended)} ago: longer than "
            f"--max-age {format_duration(max_age)}"
        )
    out["problem"] = "; ".join(problems) or None
    return out


def _dagster_instance() -> Any:
    from dagster import DagsterInstance

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise CLIError(
            "DAGSTER_HOME is not set: point it at the Dagster instance that records the runs"
        )
    if not Path(home).is_dir():
        raise CLIError(f"DAGSTER_HOME={home} is not a directory")
    return DagsterInstance.get()


# --- last-seen ------------------------------------------------------------------------------
def _open_existing(db: str, wait: str | None) -> BeliefStore:
    path = duckdb_path(db)
    if path and not Path(path).is_file():
        raise CLIError(f"no DuckDB store at {path}")
    wait_s = parse_timedelta(wait).total_seconds() if wait else 0.0
    return open_store(db, read_only=bool(path), lock_wait_s=wait_s)


def _subtree(store: BeliefStore, root: int) -> set[int]:
    store.get_asset(root)
    children: dict[int | None, list[int]] = {}
    for a in store.list_assets():
        children.setdefault(a.parent_id, []).append(a.id)
    found, todo = set(), [root]
    while todo:
        aid = todo.pop()
        found.add(aid)
        todo += children.get(aid, [])
    return found


def last_beliefs(
    store: BeliefStore, source_types: list[str], sensor_ids: list[int] | None = None
) -> dict[int, tuple[datetime, datetime]]:
    """Per sensor with beliefs from those source types: the latest belief time and event start."""
    marks = ", ".join("?" for _ in source_types)
    where = f"src.type IN ({marks})"
    if sensor_ids is not None:
        where += " AND b.sensor_id IN (" + ", ".join(str(int(i)) for i in sensor_ids) + ")"
    frame = store.query(
        "SELECT b.sensor_id, max(b.belief_time) AS last_belief, max(b.event_start) AS last_event "
        f"FROM beliefs b JOIN sources src ON src.id = b.source_id WHERE {where} "
        "GROUP BY b.sensor_id",
        source_types,
    )
    return {int(s): (b, e) for s, b, e in frame.iter_rows()}


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    monitor_app = typer.Typer(
        help="Checks that exit 1 (and can alert a webhook) when the pipeline or data are stale.",
        no_args_is_help=True,
    )
    app.add_typer(monitor_app, name="monitor")

    @monitor_app.command("latest-run")
    def latest_run(
        max_age: MaxAgeOption,
        jobs: Annotated[
            list[str] | None,
            typer.Option("--job", help="Dagster job name (repeat); default pipeline_job."),
        ] = None,
        webhook: WebhookOption = None,
        custom_message: MessageOption = None,
        fmt: FormatOption = "table",
    ) -> None:
        """Exit 1 when a job's latest finished run (in the Dagster instance at DAGSTER_HOME)
        failed, was canceled, ended longer than --max-age ago, or does not exist."""
        require_format(fmt)
        age = _max_age(max_age)
        instance = _dagster_instance()
        now = datetime.now(UTC)
        try:
            checks = [check_latest_run(instance, j, age, now) for j in jobs or ["pipeline_job"]]
        finally:
            instance.dispose()
        delivered = True
        for c in checks:
            if c["problem"]:
                delivered &= _send(
                    webhook,
                    c["problem"],
                    custom_message,
                    monitor="latest-run",
                    job=c["job"],
                    run_id=c["run_id"],
                    status=c["status"],
                    ended=c["ended"],
                )
        bad = [c for c in checks if c["problem"]]
        if fmt == "json":
            typer.echo(dumps({"ok": not bad, "max_age": age, "jobs": checks}))
        else:
            emit_records([{**c, "ok": not c["problem"]} for c in checks], fmt, "latest runs")
            for c in bad:
                err_console.print(f"[bold red]Problem:[/] {c['problem']}")
        if bad or not delivered:
            raise typer.Exit(1)

    @monitor_app.command("last-seen")
    def last_seen(
        max_age: MaxAgeOption,
        sensor_ids: Annotated[
            list[int] | None,
            typer.Option(
                "--sensor", help="Check these sensors (repeat); one without beliefs is stale."
            ),
        ] = None,
        account_id: Annotated[int | None, typer.Option("--account")] = None,
        asset_id: Annotated[
            int | None, typer.Option("--asset", help="The sensors of this asset and below it.")
        ] = None,
        source_types: Annotated[
            list[str] | None,
            typer.Option(
                "--source-type",
                help="Beliefs of these source types count (repeat); "
                "default user, market, demo, gateway.",
            ),
        ] = None,
        webhook: WebhookOption = None,
        custom_message: MessageOption = None,
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Exit 1 listing the sensors whose latest belief is older than --max-age (without
        --sensor: every sensor with beliefs of those source types, of --account or --asset)."""
        require_format(fmt)
        age = _max_age(max_age)
        types = list(source_types or DATA_SOURCE_TYPES)
        unknown = sorted(set(types) - set(SOURCE_TYPES))
        if unknown:
            raise CLIError(
                f"--source-type {', '.join(unknown)} not one of {', '.join(SOURCE_TYPES)}"
            )
        now = datetime.now(UTC)
        with _open_existing(db, wait) as store:
            sensors = {s.id: s for s in store.list_sensors()}
            if sensor_ids:
                missing = sorted(set(sensor_ids) - set(sensors))
                if missing:
                    raise CLIError(f"unknown sensor id(s): {missing}")
            scope = set(sensor_ids or sensors)
            if account_id is not None:
                store.get_account(account_id)
                owned = {a.id for a in store.list_assets(account_id=account_id)}
                scope = {s for s in scope if sensors[s].asset_id in owned}
            if asset_id is not None:
                tree = _subtree(store, asset_id)
                scope = {s for s in scope if sensors[s].asset_id in tree}
            seen = last_beliefs(store, types, sorted(scope)) if scope else {}
        checked = sorted(scope if sensor_ids else set(seen))
        stale = []
        for sid in checked:
            last, event = seen.get(sid, (None, None))
            if last is None or now - last > age:
                stale.append(
                    {
                        "sensor": sid,
                        "name": sensors[sid].name,
                        "asset": sensors[sid].asset_id,
                        "last_belief_time": last,
                        "last_event_start": event,
                        "age": None if last is None else now - last,
                    }
                )
        not_checked = sorted(scope - set(checked))
        delivered = True
        if stale:
            names = "; ".join(
                f"{r['sensor']} {r['name']!r} (last belief "
                f"{r['last_belief_time'].isoformat() if r['last_belief_time'] else 'never'})"
                for r in stale[:TEXT_SENSORS]
            )
            more = f" and {len(stale) - TEXT_SENSORS} more" if len(stale) > TEXT_SENSORS else ""
            text = (
                f"{len(stale)} sensor(s) not seen for more than {format_duration(age)}: "
                f"{names}{more}"
            )
            delivered = _send(
                webhook,
                text,
                custom_message,
                monitor="last-seen",
                max_age=format_duration(age),
                sensors=stale,
            )
        if fmt == "json":
            typer.echo(
                dumps(
                    {
                        "ok": not stale,
                        "max_age": age,
                        "checked": len(checked),
                        "stale": stale,
                        "not_checked": not_checked,
                    }
                )
            )
        else:
            if stale:
                emit_records(stale, fmt, f"sensors not seen for more than {format_duration(age)}")
            console.print(
                f"{len(checked)} sensor(s) checked, {len(stale)} not seen for more than "
                f"{format_duration(age)} (beliefs of {', '.join(types)})."
                + (
                    f" {len(not_checked)} without such beliefs not checked "
                    "(name them with --sensor)."
                    if not_checked
                    else ""
                )
            )
        if stale or not delivered:
            raise typer.Exit(1)
