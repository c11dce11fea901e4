"""``flexpipe add forecasts``, ``flexpipe show forecast-accuracy`` and ``show forecast-models``."""

from __future__ import annotations

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
)
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.time import format_duration, parse_datetime, parse_timedelta

DB_DEFAULT = default_db()


def _quantiles(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(q) for q in text.split(",") if q.strip())
    except ValueError as exc:
        raise CLIError(f"--quantiles {text!r} is not a comma-separated list of numbers") from exc


def _bucket_hours(max_horizon: timedelta) -> float:
    """Lead-time bucket for the summary table: 1 h up to a day ahead, 6 h up to 2 days, else 1 day."""
    hours = max_horizon / timedelta(hours=1)
    return 1.0 if hours <= 24 else 6.0 if hours <= 48 else 24.0


def _records(table: object) -> list[dict[str, object]]:
    return table.to_dicts()  # type: ignore[attr-defined]


def register(app: typer.Typer, db_app: typer.Typer, add_app: typer.Typer, show_app: typer.Typer, delete_app: typer.Typer) -> None:  # fmt: skip
    @add_app.command("forecasts")
    def add_forecasts(
        sensor_id: int = typer.Option(..., "--sensor", help="sensor to forecast"),
        start: str = typer.Option(..., "--from", help="first viewpoint (ISO 8601)"),
        end: str = typer.Option(..., "--to", help="viewpoints before this time"),
        max_horizon: str = typer.Option("PT48H", "--max-forecast-horizon"),
        min_horizon: str = typer.Option("PT0H", "--min-forecast-horizon"),
        model: str = typer.Option("hgb", "--model", help="see `flexpipe show forecast-models`"),
        regressors: list[int] = typer.Option([], "--regressor", help="regressor sensor id"),
        train_period: str = typer.Option("P90D", "--train-period"),
        frequency: str = typer.Option("P1D", "--forecast-frequency", help="between viewpoints"),
        retrain: str = typer.Option(
            "P1D", "--retrain-frequency", help="retrain when this much time has passed"
        ),
        quantiles: str = typer.Option("0.5", "--quantiles", help="e.g. 0.1,0.5,0.9"),
        holidays: str | None = typer.Option(None, "--holidays", help="country code, e.g. NL"),
        score: bool = typer.Option(True, "--score/--no-score", help="score where actuals exist"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Forecast a sensor from fixed viewpoints and save the forecasts as beliefs."""
        from flex_pipelines.forecasting import CycleConfig
        from flex_pipelines.forecasting.store_io import forecast_sensor, score_forecasts

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
            )
            with Progress(
                TextColumn(f"[bold]{model}[/] on sensor {sensor.id} ({sensor.name})"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=fmt == "json",
            ) as bar:
                task = bar.add_task("cycles", total=None)
                run = forecast_sensor(
                    store, sensor_id, t0, t1, cfg, model=model, regressor_ids=regressors,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )  # fmt: skip
            rec = {
                "sensor": sensor.id, "source": run.source_id, "model": run.model,
                "viewpoints": run.n_viewpoints, "beliefs": run.n_beliefs, "new": run.n_new,
                "max_horizon": format_duration(cfg.max_horizon),
                "retrain_every_cycles": cfg.retrain_every,
            }  # fmt: skip
            table = None
            if score:
                try:
                    table = score_forecasts(
                        store, sensor_id, t0, t1 + cfg.max_horizon, source_ids=[run.source_id],
                        bucket_hours=_bucket_hours(cfg.max_horizon),
                    )  # fmt: skip
                except FlexPipelinesError:
                    table = None  # nothing measured yet for these events
        if fmt == "json":
            rec["accuracy"] = _records(table) if table is not None else None
            typer.echo(dumps(rec))
            return
        console.print(
            f"[green]Saved[/] {run.n_new} new forecast beliefs ({run.n_beliefs} in total) from "
            f"{run.n_viewpoints} viewpoints on sensor {sensor.id} ({sensor.name}), "
            f"source {run.source_id} ({run.model})."
        )
        if table is not None:
            emit_records(_records(table), fmt, "accuracy where actuals exist")

    @show_app.command("forecast-accuracy")
    def show_forecast_accuracy(
        sensor_id: int = typer.Option(..., "--sensor"),
        start: str | None = typer.Option(None, "--from", help="events from (ISO 8601)"),
        end: str | None = typer.Option(None, "--to", help="events before (ISO 8601)"),
        sources: list[int] = typer.Option([], "--source", help="forecaster source id(s)"),
        bucket: str = typer.Option("PT1H", "--bucket", help="lead-time bucket width"),
        stored: bool = typer.Option(False, "--stored", help="show the last saved table only"),
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
    ) -> None:
        """Accuracy of stored forecasts per lead time: MAE, RMSE, sMAPE, pinball, coverage."""
        from flex_pipelines.forecasting.store_io import score_forecasts, stored_accuracy

        with open_store(db) as store:
            sensor = store.get_sensor(sensor_id)
            if stored:
                table = stored_accuracy(store, sensor_id)
            else:
                table = score_forecasts(
                    store, sensor_id,
                    parse_datetime(start, sensor.timezone) if start else None,
                    parse_datetime(end, sensor.timezone) if end else None,
                    source_ids=sources or None,
                    bucket_hours=parse_timedelta(bucket) / timedelta(hours=1),
                )  # fmt: skip
        emit_records(
            _records(table), fmt, f"forecast accuracy, sensor {sensor.id} ({sensor.name}, "
            f"{sensor.unit}; sMAPE and coverage in % and share)",
        )  # fmt: skip

    @show_app.command("forecast-models")
    def show_forecast_models(fmt: FormatOption = "table") -> None:
        """The registered forecasting models."""
        from flex_pipelines.forecasting import MODEL_REGISTRY, list_models

        emit_records(
            [
                {"name": n, "version": MODEL_REGISTRY[n].version,
                 "description": MODEL_REGISTRY[n].description}
                for n in list_models()
            ],
            fmt, "forecasting models",
        )  # fmt: skip
