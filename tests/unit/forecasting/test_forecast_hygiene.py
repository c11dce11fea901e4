"""Data hygiene (issue 16): local delivery days on clock-change days, the clock-change profile
check, ``add beliefs --skip-missing``, clean JSON and progress lines when not on a terminal,
the built-in clear-sky regressor from the site's location."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import KnowledgeHorizon, open_store
from flex_pipelines.cli import app
from flex_pipelines.forecasting import CycleConfig, SeriesHistory, forecast_cycles
from flex_pipelines.forecasting.checks import clock_change_shifts, diagnose_clock_shifts
from flex_pipelines.forecasting.datasets import PV_TIMEZONE, epf_prices, pv_serf

runner = CliRunner()
BRU = ZoneInfo("Europe/Brussels")
MST = timezone(timedelta(hours=-7))


@pytest.fixture(scope="module")
def brussels_prices() -> SeriesHistory:
    """BE prices laid on consecutive UTC hours in Europe/Brussels across the 2016 changes."""
    _, df = epf_prices("be")
    vals = df["price"].to_numpy()[-8000:]
    t0 = datetime(2016, 2, 1, tzinfo=UTC)
    starts = pl.datetime_range(t0, t0 + timedelta(hours=len(vals) - 1), "1h", eager=True)
    return SeriesHistory.from_values(
        starts,
        vals,
        resolution=timedelta(hours=1),
        knowledge_horizon=KnowledgeHorizon(kind="day_ahead", hour=13),
        timezone="Europe/Brussels",
        unit="EUR/MWh",
        name="be-price",
    )


@pytest.mark.parametrize(("day", "hours"), [((2016, 3, 26), 23), ((2016, 10, 29), 25)])
def test_next_local_day_has_its_23_or_25_hours(
    brussels_prices: SeriesHistory, day: tuple[int, int, int], hours: int
) -> None:
    vp = datetime(*day, 12, tzinfo=BRU)
    cfg = CycleConfig(local_days=1, train_period=timedelta(days=21))
    fc = forecast_cycles("ridge", brussels_prices, vp, vp + timedelta(hours=1), cfg)
    assert fc.height == hours
    local = fc["event_start"].dt.convert_time_zone("Europe/Brussels")
    assert local.dt.date().unique().to_list() == [date(*day) + timedelta(days=1)]
    # a fixed 24-hour window would take an hour of the wrong day, or miss one
    fixed = forecast_cycles(
        "ridge",
        brussels_prices,
        vp,
        vp + timedelta(hours=1),
        CycleConfig(
            min_horizon=timedelta(hours=12),
            max_horizon=timedelta(hours=36),
            train_period=timedelta(days=21),
        ),
    )
    assert fixed.height == 24


def _relabelled_pv(shift_from: datetime) -> SeriesHistory:
    """Real PV power whose stamps from ``shift_from`` on are one hour late, as if written on
    a daylight-saving wall clock and labelled with the standard offset."""
    power, _, _ = pv_serf()
    late = pl.col("event_start") >= shift_from
    f = power.frame.with_columns(
        pl.when(late)
        .then(pl.col("event_start") + timedelta(hours=1))
        .otherwise(pl.col("event_start"))
        .alias("event_start"),
        pl.when(late)
        .then(pl.col("belief_time") + timedelta(hours=1))
        .otherwise(pl.col("belief_time"))
        .alias("belief_time"),
    ).unique("event_start", keep="first")
    return power.with_frame(f)


def test_clock_check_flags_pv_on_a_daylight_saving_wall_clock() -> None:
    power, _, _ = pv_serf()
    change = [(date(2016, 9, 1), "forward")]
    clean = clock_change_shifts(power, changes=change)
    assert len(clean) == 1 and abs(clean[0].shift_min) < 20
    assert diagnose_clock_shifts(clean, "America/Denver") is None
    bad = clock_change_shifts(_relabelled_pv(datetime(2016, 9, 1, tzinfo=MST)), changes=change)
    assert bad[0].about_an_hour and bad[0].shift_min > 0
    finding = diagnose_clock_shifts(bad, "America/Denver")
    assert (
        finding is not None and "wall-clock" in finding and "--timezone America/Denver" in finding
    )


def _price_db(tmp_path: Path, prices: SeriesHistory) -> tuple[str, int]:
    path = str(tmp_path / "hygiene.duckdb")
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


def test_json_is_json_only_and_progress_is_logged_when_not_a_terminal(
    tmp_path: Path, be_prices: SeriesHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, sid = _price_db(tmp_path, be_prices)
    monkeypatch.setenv("FLEXPIPE_PROGRESS_SECONDS", "0")  # a line per cycle
    r = runner.invoke(
        app,
        [
            "add",
            "forecasts",
            "--sensor",
            str(sid),
            "--from",
            "2015-11-10T12:00",
            "--to",
            "2015-11-13T12:00",
            "--model",
            "naive-day",
            "--train-period",
            "P14D",
            "--db",
            db,
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, (r.output, r.exception)
    assert r.stdout.startswith("{")  # no leading empty line
    assert json.loads(r.stdout)["viewpoints"] == 3
    lines = [x for x in r.stderr.splitlines() if "cycles" in x]
    assert len(lines) == 3 and lines[-1].startswith("naive-day on sensor")
    assert "3/3 cycles (100 %)" in lines[-1] and "elapsed" in lines[-1]


def test_add_beliefs_skips_missing_rows_on_request(tmp_path: Path) -> None:
    power, _, _ = pv_serf()
    rows = power.frame.head(96).with_columns(
        pl.col("event_start").dt.convert_time_zone(PV_TIMEZONE).dt.strftime("%Y-%m-%dT%H:%M%:z")
    )
    text = ["timestamp,ac_power"]
    for k, (t, v) in enumerate(zip(rows["event_start"], rows["event_value"], strict=True)):
        value = "" if k % 10 == 3 else ("NaN" if k % 10 == 7 else f"{v}")
        text.append(f"{t},{value}")
    text.append(",")  # an empty row
    csv = tmp_path / "pv_with_gaps.csv"
    csv.write_text("\n".join(text) + "\n")
    db = str(tmp_path / "pv.duckdb")
    with open_store(db) as store:
        sid = store.add_sensor("pv", "W", timedelta(minutes=15), timezone=PV_TIMEZONE).id
    args = ["add", "beliefs", str(csv), "--sensor", str(sid), "--source", "inverter", "--db", db]
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0 and "is empty in row 97" in str(refused.exception)
    r = runner.invoke(app, [*args, "--skip-missing", "--format", "json"])
    assert r.exit_code == 0, (r.output, r.exception)
    out = json.loads(r.stdout)
    gaps = sum(1 for k in range(96) if k % 10 in (3, 7))
    assert out["skipped_missing"] == gaps + 1 and out["new"] == 96 - gaps


def test_built_in_clear_sky_regressor_from_the_site_location(tmp_path: Path) -> None:
    from flex_pipelines.forecasting.store_io import forecast_sensor

    power, _, _ = pv_serf()
    with open_store(str(tmp_path / "cs.duckdb")) as store:
        account = store.add_account("solar")
        site = store.add_asset("SERF", "building", account.id, latitude=39.742, longitude=-105.18)
        pv = store.add_sensor(
            "pv", "W", timedelta(minutes=15), timezone=PV_TIMEZONE, asset_id=site.id
        )
        meter = store.get_or_create_source("inverter", "user")
        store.save_beliefs(
            power.frame.with_columns(
                pl.lit(pv.id).alias("sensor_id"),
                pl.lit(meter.id).alias("source_id"),
                pl.lit(0.5).alias("cumulative_probability"),
            )
        )
        vp = datetime(2016, 8, 20, 12, tzinfo=MST)
        cfg = CycleConfig(local_days=1, train_period=timedelta(days=14))
        run = forecast_sensor(
            store, pv.id, vp, vp + timedelta(hours=1), cfg, model="ridge", clear_sky=True
        )
        assert run.settings is not None and run.settings.inputs == "clear-sky"
        assert run.source_name.startswith("flexpipe ridge + clear-sky [")
        at = dict(zip(run.forecasts["event_start"], run.forecasts["event_value"], strict=True))
        assert (
            abs(at[datetime(2016, 8, 21, 23, 30, tzinfo=MST)])
            < 300
            < at[datetime(2016, 8, 21, 12, tzinfo=MST)]
        )  # W: dark at 23:30 MST, bright at noon
        plain = store.add_sensor("no-site", "W", timedelta(minutes=15))
        with pytest.raises(Exception, match="needs a location"):
            forecast_sensor(store, plain.id, vp, vp + timedelta(hours=1), cfg, clear_sky=True)
