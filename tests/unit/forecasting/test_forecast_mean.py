"""The ``mean`` model: the average of several models' forecasts, each member fitted on its own
features at every viewpoint, through every path that runs a model (cycles, the CLI door)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli import app
from flex_pipelines.forecasting import CycleConfig, SeriesHistory, forecast_cycles
from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.options import ForecastOptionError, parse_model_params
from tests.unit.forecasting.test_forecast_cli import _db

CET = timezone(timedelta(hours=1))
VP = datetime(2015, 11, 10, 12, tzinfo=CET)
DA = dict(min_horizon=timedelta(hours=12), max_horizon=timedelta(hours=36))


def _run(prices: SeriesHistory, model: str, calibration: str = "none", **params: object):
    cfg = CycleConfig(
        **DA,
        train_period=timedelta(days=28),
        model_params=params,
        calibration=calibration,
        quantiles=(0.1, 0.5, 0.9),
    )
    fc = forecast_cycles(model, prices, VP, VP + timedelta(days=2), cfg)
    return fc.sort("belief_time", "event_start", "cumulative_probability")


def test_the_mean_averages_each_members_own_forecast(be_prices: SeriesHistory) -> None:
    """Each member uses its own features (LEAR's day profiles, ridge's lags): the mean equals
    the average of the members run alone, quantile by quantile, and differs from each."""
    lear, ridge = _run(be_prices, "lear"), _run(be_prices, "ridge")
    both = _run(be_prices, "mean", models=["lear", "ridge"])
    assert both.height == lear.height == 2 * 24 * 3
    expected = (lear["event_value"].to_numpy() + ridge["event_value"].to_numpy()) / 2
    np.testing.assert_allclose(both["event_value"].to_numpy(), expected, atol=1e-9)
    assert np.abs(lear["event_value"].to_numpy() - ridge["event_value"].to_numpy()).max() > 1
    # with conformal calibration the members' medians are averaged, then calibrated as one
    cal = _run(be_prices, "mean", calibration="conformal", models=["lear", "ridge"])
    med = cal.filter(pl.col("cumulative_probability") == 0.5)["event_value"].to_numpy()
    np.testing.assert_allclose(
        med, both.filter(pl.col("cumulative_probability") == 0.5)["event_value"], atol=1e-9
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "models=None: give a list of two or more model names"),
        ({"models": ["lear"]}, r"models=\['lear'\]: give a list of two or more"),
        ({"models": "lear,hgb"}, "models='lear,hgb': give a list"),
        ({"models": ["lear", "prophet"]}, "'prophet' is not a model to average; models: "),
        ({"models": ["lear", "mean"]}, "'mean' is not a model to average"),
        ({"models": ["lear"], "alpha": 1}, "model 'mean' has no parameter 'alpha'"),
    ],
)
def test_a_bad_mean_is_refused_before_any_work(
    be_prices: SeriesHistory, params: dict, message: str
) -> None:
    with pytest.raises(ForecastOptionError, match=message):
        parse_model_params("mean", params)
    with pytest.raises(ForecastingError, match=message):
        _run(be_prices, "mean", **params)


def test_the_cli_saves_a_mean_as_one_versioned_run(
    tmp_path: Path, be_prices: SeriesHistory
) -> None:
    db, sid = _db(tmp_path, be_prices)
    args = ["add", "forecasts", "--sensor", str(sid), "--from", "2015-11-20T12:00"]
    args += ["--to", "2015-11-21T12:00", "--max-forecast-horizon", "PT36H"]
    args += ["--min-forecast-horizon", "PT12H", "--train-period", "P28D", "--db", db]
    args += ["--format", "json", "--model", "mean"]
    r = CliRunner().invoke(app, [*args, "--model-param", 'models=["naive-day", "naive-week"]'])
    assert r.exit_code == 0, (r.output, r.exception)
    run = json.loads(r.stdout)
    assert run["new"] == 24
    with open_store(db) as store:
        source = store.get_source(run["source"])
        got = store.search_beliefs(sid, source_ids=[source.id]).sort("event_start")
    assert source.name.startswith("flexpipe mean(naive-day, naive-week) [")
    assert got.height == 24
    bad = CliRunner().invoke(app, [*args, "--model-param", 'models=["naive-day"]'])
    assert bad.exit_code == 2 and "two or more model names" in bad.output


def test_the_means_version_follows_its_members_and_units_name_the_member(
    be_prices: SeriesHistory,
) -> None:
    from flex_pipelines.forecasting.models import get_model
    from flex_pipelines.forecasting.models.linear import Lear

    mean = get_model("mean", models=["lear", "hgb"])
    assert mean.version == f"1[lear:{Lear.version}, hgb:1]"
    # a member that cannot forecast the unit is named (lear forecasts prices only)
    load = be_prices.with_frame(be_prices.frame)
    load = type(load)(load.frame, load.resolution, load.timezone, "MW", "load")
    with pytest.raises(ForecastingError, match="model 'lear' cannot forecast sensor 'load'"):
        _run(load, "mean", models=["hgb", "lear"])
