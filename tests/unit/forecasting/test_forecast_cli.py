"""``flexpipe add forecasts`` and ``flexpipe show forecast-accuracy`` on a real DuckDB file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import KnowledgeHorizon, open_store
from flex_pipelines.cli import app
from flex_pipelines.forecasting import SeriesHistory, UnknownModelError
from flex_pipelines.forecasting.options import (
    ForecastOptionError,
    parse_clear_sky_plane,
    parse_model_params,
)

runner = CliRunner()


def _db(tmp_path: Path, prices: SeriesHistory) -> tuple[str, int]:
    path = str(tmp_path / "cli.duckdb")
    with open_store(path) as store:
        sensor = store.add_sensor(
            "be-price",
            "EUR/MWh",
            timedelta(hours=1),
            timezone="Etc/GMT-1",
            knowledge_horizon=KnowledgeHorizon(kind="day_ahead", hour=13),
        )
        src = store.get_or_create_source("EPEX", "market")
        store.save_beliefs(
            prices.frame.with_columns(
                pl.lit(sensor.id).alias("sensor_id"),
                pl.lit(src.id).alias("source_id"),
                pl.lit(0.5).alias("cumulative_probability"),
            )
        )
    return path, sensor.id


def test_add_forecasts_then_show_accuracy(tmp_path: Path, be_prices: SeriesHistory) -> None:
    db, sid = _db(tmp_path, be_prices)
    args = [
        "add",
        "forecasts",
        "--sensor",
        str(sid),
        "--from",
        "2015-11-10T12:00",
        "--to",
        "2015-11-13T12:00",
        "--max-forecast-horizon",
        "PT36H",
        "--min-forecast-horizon",
        "PT12H",
        "--model",
        "ridge",
        "--train-period",
        "P28D",
        "--quantiles",
        "0.1,0.5,0.9",
        "--db",
        db,
        "--format",
        "json",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, (r.output, r.exception)
    out = json.loads(r.stdout)
    assert out["viewpoints"] == 3 and out["beliefs"] == 216 and out["new"] == 216
    assert out["accuracy"][-1]["horizon"] == "all" and out["accuracy"][-1]["n"] == 72
    r = runner.invoke(
        app,
        [
            "show",
            "forecast-accuracy",
            "--sensor",
            str(sid),
            "--bucket",
            "PT6H",
            "--db",
            db,
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, (r.output, r.exception)
    rows = json.loads(r.stdout)
    assert [x["horizon"] for x in rows] == ["12h", "18h", "24h", "30h", "all"]
    assert all(x["model"] == "ridge" for x in rows)
    r = runner.invoke(
        app,
        [
            "show",
            "forecast-accuracy",
            "--sensor",
            str(sid),
            "--stored",
            "--db",
            db,
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 5
    r = runner.invoke(app, ["show", "forecast-models", "--format", "json"])
    assert "lear" in [m["name"] for m in json.loads(r.stdout)]


def test_unknown_model_is_reported(tmp_path: Path, be_prices: SeriesHistory) -> None:
    db, sid = _db(tmp_path, be_prices)
    r = runner.invoke(
        app,
        [
            "add",
            "forecasts",
            "--sensor",
            str(sid),
            "--from",
            "2015-11-10T12:00+01:00",
            "--to",
            "2015-11-11T12:00+01:00",
            "--model",
            "prophet",
            "--db",
            db,
        ],
    )
    assert r.exit_code != 0
    assert isinstance(r.exception, UnknownModelError)
    assert "model 'prophet' is not registered" in str(r.exception)


def test_model_params_reach_the_model_and_version_the_run(
    tmp_path: Path, be_prices: SeriesHistory
) -> None:
    """``--model-param`` (JSON values) changes the forecast and the run's source (its hash);
    a malformed pair or a value the model refuses is an error naming it."""
    db, sid = _db(tmp_path, be_prices)
    base = [
        "add",
        "forecasts",
        "--sensor",
        str(sid),
        "--from",
        "2015-11-20T12:00",
        "--to",
        "2015-11-21T12:00",
        "--max-forecast-horizon",
        "PT36H",
        "--min-forecast-horizon",
        "PT12H",
        "--model",
        "ridge-profiles",
        "--train-period",
        "P28D",
        "--db",
        db,
        "--format",
        "json",
    ]
    runs = {}
    for label, extra in {
        "default": [],
        "params": ["--model-param", "transform=none", "--model-param", "profile_weeks=[1, 2]"],
    }.items():
        r = runner.invoke(app, base + extra)
        assert r.exit_code == 0, (r.output, r.exception)
        runs[label] = json.loads(r.stdout)
    assert runs["default"]["new"] == runs["params"]["new"] == 24
    assert runs["default"]["source"] != runs["params"]["source"]
    with open_store(db) as store:
        values = {
            k: store.search_beliefs(sid, source_ids=[v["source"]])
            .sort("event_start")["event_value"]
            .to_numpy()
            for k, v in runs.items()
        }
    assert abs(values["default"] - values["params"]).max() > 0.01  # EUR/MWh
    r = runner.invoke(app, base + ["--model-param", "transform"])
    assert r.exit_code != 0 and "KEY=VALUE" in r.output
    # the options' parser (the API's and the pipeline's too): a usage error naming the value
    for bad, why in (
        ("transform=log", "model-params: model parameter transform='log'"),
        (
            "days=3",
            "model 'ridge-profiles' has no parameter 'days'; its parameters: alpha, center,",
        ),
        (
            "profile_days=abc",
            "model-params: model 'ridge-profiles' parameter profile_days='abc': expected a non-empty list",
        ),
    ):
        r = runner.invoke(app, base + ["--model-param", bad])
        assert r.exit_code == 2 and why in _flat(r.output), r.output
        key, _, value = bad.partition("=")
        # word for word the message the API trigger and the pipeline give for the same input
        assert _parser_message(parse_model_params, "ridge-profiles", {key: value}) in _flat(
            r.output
        )


def _parser_message(fn: Callable[..., object], *args: object) -> str:
    with pytest.raises(ForecastOptionError) as err:
        fn(*args)
    return str(err.value)


def _flat(output: str) -> str:
    """A CLI error's text on one line (rich's error box wraps and frames it)."""
    return " ".join(output.replace("│", " ").split())


def test_clear_sky_plane_option_is_checked(tmp_path: Path, be_prices: SeriesHistory) -> None:
    """``--clear-sky-plane`` takes 'fit' or TILT,AZIMUTH within range; anything else is refused
    naming the value; a valid plane on a sensor without a site location says so."""
    db, sid = _db(tmp_path, be_prices)
    base = ["add", "forecasts", "--sensor", str(sid), "--from", "2015-11-20T12:00"]
    base += ["--to", "2015-11-21T12:00", "--db", db, "--clear-sky-plane"]
    for bad, why in (("south", "neither 'fit' nor TILT,AZIMUTH"), ("95,180", "tilt must be 0–90")):
        r = runner.invoke(app, [*base, bad])
        assert r.exit_code == 2 and why in _flat(r.output), r.output
        assert _parser_message(parse_clear_sky_plane, bad) in _flat(r.output)
    r = runner.invoke(app, [*base, "30,180"])
    assert r.exit_code != 0 and "needs a location" in str(r.exception)
