"""Versioned forecaster runs through the CLI on a real DuckDB store: runs with other settings
coexist, accuracy names their inputs, ``--from`` scores only the run's own forecasts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from flex_pipelines.beliefs import KnowledgeHorizon, open_store
from flex_pipelines.cli import app
from flex_pipelines.forecasting import SeriesHistory
from flex_pipelines.forecasting.datasets import epf_exogenous

runner = CliRunner()


def _db(tmp_path: Path, prices: SeriesHistory) -> tuple[str, int, int]:
    """BE prices and France's day-ahead load forecast (a forecaster's beliefs) in one store."""
    path = str(tmp_path / "runs.duckdb")
    lo, hi = prices.frame["event_start"].min(), prices.frame["event_start"].max()
    load = epf_exogenous("be")[1]
    load_frame = load.frame.filter(pl.col("event_start").is_between(lo, hi))
    with open_store(path) as store:
        price = store.add_sensor(
            "be-price",
            "EUR/MWh",
            timedelta(hours=1),
            timezone="Etc/GMT-1",
            knowledge_horizon=KnowledgeHorizon(kind="day_ahead", hour=13),
        )
        fr_load = store.add_sensor("fr-load-forecast", "MW", timedelta(hours=1))
        market = store.get_or_create_source("EPEX", "market")
        tso = store.get_or_create_source("RTE day-ahead", "forecaster")
        for sensor, frame, src in ((price, prices.frame, market), (fr_load, load_frame, tso)):
            store.save_beliefs(
                frame.with_columns(
                    pl.lit(sensor.id).alias("sensor_id"),
                    pl.lit(src.id).alias("source_id"),
                    pl.lit(0.5).alias("cumulative_probability"),
                )
            )
    return path, price.id, fr_load.id


def _add(db: str, sid: int, start: str, end: str, *extra: str) -> dict:
    args = [
        "add",
        "forecasts",
        "--sensor",
        str(sid),
        "--from",
        start,
        "--to",
        end,
        "--max-forecast-horizon",
        "PT36H",
        "--min-forecast-horizon",
        "PT12H",
        "--model",
        "ridge",
        "--train-period",
        "P14D",
        "--quantiles",
        "0.1,0.5,0.9",
        "--calibration-window",
        "P14D",
        "--db",
        db,
        "--format",
        "json",
        *extra,
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, (r.output, r.exception)
    return json.loads(r.stdout)


def test_runs_with_other_settings_coexist_and_accuracy_lists_both(
    tmp_path: Path, be_prices: SeriesHistory
) -> None:
    db, sid, load_id = _db(tmp_path, be_prices)
    plain = _add(db, sid, "2015-11-10T12:00", "2015-11-12T12:00")
    with_load = _add(db, sid, "2015-11-10T12:00", "2015-11-12T12:00", "--regressor", str(load_id))
    named = _add(
        db,
        sid,
        "2015-11-10T12:00",
        "2015-11-12T12:00",
        "--regressor",
        str(load_id),
        "--label",
        "ridge with load",
    )
    assert len({plain["source"], with_load["source"], named["source"]}) == 3
    assert plain["inputs"] == "history only" and with_load["inputs"] == f"sensor {load_id}"
    assert with_load["source_name"].startswith(f"flexpipe ridge + sensor {load_id} [")
    assert named["source_name"].startswith("ridge with load [")
    # both runs' forecasts are stored: the second did not replace the first
    with open_store(db) as store:
        stored = store.search_beliefs(sid, source_types=["forecaster"])
    assert stored.group_by("source_id").len()["len"].to_list() == [2 * 24 * 3] * 3
    # the same settings again reuse their source and store nothing new
    again = _add(db, sid, "2015-11-10T12:00", "2015-11-12T12:00")
    assert again["source"] == plain["source"] and again["new"] == 0
    r = runner.invoke(
        app,
        [
            "show",
            "forecast-accuracy",
            "--sensor",
            str(sid),
            "--db",
            db,
            "--bucket",
            "PT48H",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, (r.output, r.exception)
    rows = [x for x in json.loads(r.stdout) if x["horizon"] == "all"]
    assert {x["source_id"] for x in rows} == {plain["source"], with_load["source"], named["source"]}
    by_source = {x["source_id"]: x for x in rows}
    assert by_source[with_load["source"]]["inputs"] == f"sensor {load_id}"
    assert by_source[plain["source"]]["inputs"] == "history only"
    assert by_source[plain["source"]]["mae"] != by_source[with_load["source"]]["mae"]


def test_accuracy_of_add_forecasts_scores_only_forecasts_made_from_its_start(
    tmp_path: Path, be_prices: SeriesHistory
) -> None:
    db, sid, _ = _db(tmp_path, be_prices)
    early = _add(db, sid, "2015-11-05T12:00", "2015-11-10T12:00")
    later = _add(db, sid, "2015-11-10T12:00", "2015-11-12T12:00")
    assert later["source"] == early["source"]  # same settings, one source
    overall = later["accuracy"][-1]
    # 2 viewpoints × 24 hours: not the 5 earlier days' forecasts of the same source
    assert overall["horizon"] == "all" and overall["n"] == 48
    assert overall["pinball"] is not None and overall["pinball"] > 0
    assert 0.0 <= overall["coverage"] <= 1.0
    # show forecast-accuracy can be cut the same way (viewpoints from a time on)
    r = runner.invoke(
        app,
        [
            "show",
            "forecast-accuracy",
            "--sensor",
            str(sid),
            "--db",
            db,
            "--made-from",
            "2015-11-10T12:00",
            "--bucket",
            "PT48H",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, (r.output, r.exception)
    assert [x["n"] for x in json.loads(r.stdout) if x["horizon"] == "all"] == [48]
