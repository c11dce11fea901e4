"""``flexpipe add forecasts``, ``show forecast-accuracy``, ``show forecast-models`` and
``show clock-check``.

Progress goes to stderr, so ``--format json`` output on stdout is JSON only: a bar on a terminal,
otherwise a log line every ``FLEXPIPE_PROGRESS_SECONDS`` seconds (default 30) and at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.common import (
    CLIError,
    DbOption,
    FormatOption,
    console,
    default_db,
    dumps,
    emit_records,
    err_console,
)
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import format_duration, parse_datetime, parse_timedelta

DB_DEFAULT = default_db()


def _quantiles(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(q) for q in text.split(",") if q.strip())
    except ValueError as exc:
        raise CLIError(f"--quantiles {text!r} is not a comma-separated list of numbers") from exc


def _model_params(model: str, items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs, each VALUE read as JSON (``1``, ``0.2``, ``[1, 2]``), else as text;
    checked by the forecasting options' parser (the API's and the pipeline's too)."""
    import json

    from flex_pipelines.forecasting.options import ForecastOptionError, parse_model_params

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--model-param")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    try:
        return parse_model_params(model, out)
    except ForecastOptionError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model-param") from None


def _plane(text: str | None) -> str | tuple[float, float] | None:
    """``--clear-sky-plane``: ``fit`` or ``TILT,AZIMUTH`` (degrees), by the shared parser."""
    from flex_pipelines.forecasting.options import ForecastOptionError, parse_clear_sky_plane

    try:
        return parse_clear_sky_plane(text)
    except ForecastOptionError as exc:
        raise typer.BadParameter(str(exc), param_hint="--clear-sky-plane") from None


def _bucket_hours(max_horizon: timedelta) -> float:
    """Lead-time bucket for the summary table: 1 h up to a day ahead, 6 h up to 2 days, else 1 day."""
    hours = max_horizon / timedelta(hours=1)
    return 1.0 if hours <= 24 else 6.0 if hours <= 48 else 24.0


def _records(table: object) -> list[dict[str, object]]:
    return table.to_dicts()  # type: ignore[attr-defined]


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


class ProgressLog:
    """Progress as log lines on stderr for output that is not a terminal (logs, CI, pipes).

    A line at most every ``interval_s`` seconds (``FLEXPIPE_PROGRESS_SECONDS``, default 30;
    0 logs every cycle) and one when the work is done: cycles done, share, elapsed and the
    estimated time left.
    """

    def __init__(self, what: str, interval_s: float | None = None) -> None:
        self.what = what
        env = os.environ.get("FLEXPIPE_PROGRESS_SECONDS", "30")
        self.interval_s = float(env) if interval_s is None else interval_s
        self.t0 = time.monotonic()
        self.last = self.t0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.interval_s:
            return
        self.last = now
        elapsed = now - self.t0
        left = elapsed / done * (total - done) if done else 0.0
        err_console.print(
            f"{self.what}: {done}/{total} cycles ({100 * done / max(total, 1):.0f} %), "
            f"{_clock(elapsed)} elapsed, about {_clock(left)} left",
            highlight=False,
            soft_wrap=True,
        )


@contextmanager
def progress_reporter(what: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback: a bar on a terminal (stderr), else log lines."""
    if not err_console.is_terminal:
        yield ProgressLog(what)
        return
    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("cycles", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def register(
    app: typer.Typer,
    db_app: typer.Typer,
    add_app: typer.Typer,
    show_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    @add_app.command("forecasts")
    def add_forecasts(
        sensor_id: int = typer.Option(..., "--sensor", help="sensor to forecast"),
        start: str = typer.Option(..., "--from", help="first viewpoint (ISO 8601)"),
        end: str = typer.Option(..., "--to", help="viewpoints before this time"),
        max_horizon: str = typer.Option("PT48H", "--max-forecast-horizon"),
        min_horizon: str = typer.Option("PT0H", "--min-forecast-horizon"),
        model: str = typer.Option("hgb", "--model", help="see `flexpipe show forecast-models`"),
        model_params: list[str] = typer.Option(
            [],
            "--model-param",
            help="KEY=VALUE model parameter, repeatable (VALUE as JSON), e.g. shift=0.2",
        ),
        regressors: list[int] = typer.Option([], "--regressor", help="regressor sensor id"),
        train_period: str = typer.Option("P90D", "--train-period"),
        frequency: str = typer.Option("P1D", "--forecast-frequency", help="between viewpoints"),
        retrain: str = typer.Option(
            "P1D", "--retrain-frequency", help="retrain when this much time has passed"
        ),
        quantiles: str = typer.Option("0.5", "--quantiles", help="e.g. 0.1,0.5,0.9"),
        holidays: str | None = typer.Option(None, "--holidays", help="country code, e.g. NL"),
        clear_sky: bool = typer.Option(
            False, "--clear-sky", help="add the clear-sky GHI of the site's location as a regressor"
        ),
        clear_sky_plane: str | None = typer.Option(
            None,
            "--clear-sky-plane",
            help="clear sky on the array's plane: 'fit' (from its past power) or TILT,AZIMUTH "
            "in degrees (azimuth east of north); implies --clear-sky",
        ),
        label: str | None = typer.Option(
            None, "--label", help="name the run's source (default: model and inputs)"
        ),
        local_days: int | None = typer.Option(
            None,
            "--local-days",
            help="forecast whole local days (23/25 h on clock changes) instead of the horizons",
        ),
        days_ahead: int = typer.Option(
            1, "--days-ahead", help="with --local-days: first day, counted from the viewpoint's"
        ),
        calibration: str = typer.Option(
            "conformal", "--calibration", help="quantiles: conformal (calibrated) or none"
        ),
        calibration_window: str = typer.Option(
            "P56D", "--calibration-window", help="past forecasts the quantiles calibrate on"
        ),
        score: bool = typer.Option(True, "--score/--no-score", help="score where actuals exist"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Forecast a sensor from fixed viewpoints and save the forecasts as beliefs."""
        from flex_pipelines.forecasting import CycleConfig
        from flex_pipelines.forecasting.store_io import forecast_sensor, score_forecasts

        params = _model_params(model, model_params)  # refused before the store opens
        plane = _plane(clear_sky_plane)
        with open_store(db) as store:
            sensor = store.get_sensor(sensor_id)
            t0 = parse_datetime(start, sensor.timezone)
            t1 = parse_datetime(end, sensor.timezone)
            freq = parse_timedelta(frequency)
            cfg = CycleConfig(
                max_horizon=parse_timedelta(max_horizon),
                min_horizon=parse_timedelta(min_horizon),
                frequency=freq,
                train_period=parse_timedelta(train_period),
                retrain_every=max(1, round(parse_timedelta(retrain) / freq)),
                quantiles=_quantiles(quantiles),
                holiday_country=holidays,
                calibration=calibration,
                calibration_window=parse_timedelta(calibration_window),
                local_days=local_days,
                days_ahead=days_ahead,
                model_params=params,
            )
            with progress_reporter(f"{model} on sensor {sensor.id} ({sensor.name})") as progress:
                run = forecast_sensor(
                    store,
                    sensor_id,
                    t0,
                    t1,
                    cfg,
                    model=model,
                    regressor_ids=regressors,
                    clear_sky=clear_sky,
                    clear_sky_plane=plane,
                    label=label,
                    progress=progress,
                )
            rec = {
                "sensor": sensor.id,
                "source": run.source_id,
                "source_name": run.source_name,
                "model": run.model,
                "inputs": run.settings.inputs if run.settings else None,
                "viewpoints": run.n_viewpoints,
                "beliefs": run.n_beliefs,
                "new": run.n_new,
                "max_horizon": format_duration(cfg.max_horizon),
                "local_days": cfg.local_days,
                "retrain_every_cycles": cfg.retrain_every,
            }
            table = None
            if score:
                try:  # only the forecasts this run made: viewpoints in [--from, --to)
                    table = score_forecasts(
                        store,
                        sensor_id,
                        source_ids=[run.source_id],
                        bucket_hours=_bucket_hours(cfg.max_horizon),
                        made_from=t0,
                        made_before=t1,
                    )
                except FlexPipelinesError:
                    table = None  # nothing measured yet for these events
        if fmt == "json":
            rec["accuracy"] = _records(table) if table is not None else None
            typer.echo(dumps(rec))
            return
        console.print(
            f"[green]Saved[/] {run.n_new} new forecast beliefs ({run.n_beliefs} in total) from "
            f"{run.n_viewpoints} viewpoints on sensor {sensor.id} ({sensor.name}), "
            f"source {run.source_id} ({run.source_name})."
        )
        if table is not None:
            emit_records(_records(table), fmt, "accuracy where actuals exist")

    @show_app.command("forecast-accuracy")
    def show_forecast_accuracy(
        sensor_id: int = typer.Option(..., "--sensor"),
        start: str | None = typer.Option(None, "--from", help="events from (ISO 8601)"),
        end: str | None = typer.Option(None, "--to", help="events before (ISO 8601)"),
        sources: list[int] = typer.Option([], "--source", help="forecaster source id(s)"),
        made_from: str | None = typer.Option(
            None, "--made-from", help="only forecasts made (viewpoints) from this time"
        ),
        made_before: str | None = typer.Option(
            None, "--made-before", help="only forecasts made before this time"
        ),
        bucket: str = typer.Option("PT1H", "--bucket", help="lead-time bucket width"),
        stored: bool = typer.Option(False, "--stored", help="show the last saved table only"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Accuracy of stored forecasts per source (model, inputs) and lead time: MAE, RMSE,
        sMAPE, pinball, coverage."""
        from flex_pipelines.forecasting.store_io import score_forecasts, stored_accuracy

        with open_store(db) as store:
            sensor = store.get_sensor(sensor_id)
            if stored:
                table = stored_accuracy(store, sensor_id)
            else:
                tz = sensor.timezone
                table = score_forecasts(
                    store,
                    sensor_id,
                    parse_datetime(start, tz) if start else None,
                    parse_datetime(end, tz) if end else None,
                    source_ids=sources or None,
                    bucket_hours=parse_timedelta(bucket) / timedelta(hours=1),
                    made_from=parse_datetime(made_from, tz) if made_from else None,
                    made_before=parse_datetime(made_before, tz) if made_before else None,
                )
        emit_records(
            _records(table),
            fmt,
            f"forecast accuracy, sensor {sensor.id} ({sensor.name}, "
            f"{sensor.unit}; sMAPE and coverage in % and share)",
        )

    @show_app.command("forecast-models")
    def show_forecast_models(fmt: FormatOption = "table") -> None:
        """The registered forecasting models."""
        from flex_pipelines.forecasting import MODEL_REGISTRY, list_models

        emit_records(
            [
                {
                    "name": n,
                    "version": MODEL_REGISTRY[n].version,
                    "description": MODEL_REGISTRY[n].description,
                }
                for n in list_models()
            ],
            fmt,
            "forecasting models",
        )

    @show_app.command("clock-check")
    def show_clock_check(
        sensor_id: int = typer.Option(..., "--sensor"),
        zone: str | None = typer.Option(
            None, "--zone", help="time zone whose clock changes to test (default: the sensor's)"
        ),
        days: int = typer.Option(14, "--days", help="days compared on each side of a change"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Does the sensor's daily profile jump by about an hour at clock changes? (with the fix)"""
        from flex_pipelines.forecasting.checks import clock_change_shifts, diagnose_clock_shifts
        from flex_pipelines.forecasting.store_io import history_from_store

        with open_store(db) as store:
            hist = history_from_store(store, sensor_id)
        tz = zone or hist.timezone
        shifts = clock_change_shifts(hist, tz, days=days)
        finding = diagnose_clock_shifts(shifts, tz)
        rows = [
            {
                "change": s.change,
                "clocks": s.clocks,
                "shift_min": round(s.shift_min, 1),
                "about_an_hour": s.about_an_hour,
            }
            for s in shifts
        ]
        if fmt == "json":
            typer.echo(dumps({"sensor": sensor_id, "zone": tz, "shifts": rows, "finding": finding}))
            return
        if not shifts:
            console.print(f"No clock change of {tz} with {days} days of data on both sides.")
            return
        emit_records(rows, fmt, f"daily profile shift at {tz}'s clock changes, sensor {sensor_id}")
        console.print(finding or "No shift of about an hour at the clock changes: nothing to fix.")
