"""Load (GB demand) and PV (NREL SERF East) parts of the forecasting benchmark.

Each compares every candidate (models and combinations) on a validation window (the days before
the test window) and on the test window; the reported choice is the best on validation. The
protocol is in ``bench_forecasting.PROTOCOL``; ``bench_forecasting.main`` runs these
(``--only load-pv`` runs just these two).

Decision rules (fixed before the candidates were scored, the same for every round): load — of our
models and combinations (not the naive baselines), the lowest MAPE on the validation window (the
28 days before the test window); PV — of the candidates without measured irradiance (not the
oracle, not ``naive-day``), the lowest MAE on the validation window (the 20 days before the test
window). Ties go to the earlier row. Nothing of the test window is read to choose.

Round 2 (2026-12-04 20:00 UTC) widened the candidate sets after round 1's test table had been
published (load 0.703× naive-week, PV 6.88 % of peak), with candidates from the literature and
from validation-only trials (scratch runs that scored the validation windows only, never the
test window): load — ``ridge-profiles`` without the asinh transform (a price transform; load is
not spiky) and with the profiles of two weeks back (``profile_weeks=[1, 2]``), each also averaged
with ``naive-week``; PV — the clear-sky-index climatology ``clear-sky-quantile`` (level shifts
0–0.3, with and without pooling ±2 neighbouring quarter hours) and ``recent-quantile`` +0.2.
The same rules then chose among all candidates. Outcome (2026-12-04 20:09 UTC): load
``ridge-profiles, no asinh, d-1, d-2, w-1, w-2 + naive-week`` (validation 1.63 %, test 1.50 % =
0.696× naive-week; round 1's choice 0.703×); PV ``clear-sky-quantile, level +0.2, pooled ±2``
(validation 6.34 %, test 6.94 % of peak; round 1's choice 6.88 %): PV did not improve.

Round 3 (2026-12-04 20:15 UTC, designed after round 2's PV test score was seen, which the
result file says): the clear-sky index on the array's plane (``clear-sky-quantile`` with the
``clear-sky-poa`` regressor; tilt and azimuth fitted by ``fit_orientation`` from the power known
at the first validation viewpoint), level shifts 0–0.3 with and without pooling ±2, the same
rule. Outcome (20:24 UTC): ``on the plane, level +0.1, pooled ±2`` (validation 6.29 %, test
6.78 % of peak; fitted plane tilt 50°, azimuth 165°); the 6.5 % aim is not met.

Round 4 (2026-12-04 22:24 UTC, written before it was run; designed after rounds 1–3's test
scores had been seen): PV only, still without measured irradiance, all on the fitted plane and
pooled ±2. Candidates: ``clear-sky-cliper`` (Yang 2019's optimal convex combination of the
clear-sky index's persistence, the latest known day at the same time, and its 21-day climatology;
the weight and the climatology's quantile level chosen by MAE in W on the last 28 past
viewpoints, as each knew them) with both fitted, with the median level (Yang's CLIPER, weight
fitted) and with weight 0 (the climatology with an adaptively chosen level);
``clear-sky-qr`` (linear quantile regression of the index on its climatology quantiles 0.25,
0.5, 0.75 and its persistence, clear-sky weighted, fitted on the last 56 viewpoints); and the
round-3 row with climatology windows of 14, 28 and 35 days instead of 21. They may be iterated
on the validation window only (scratch runs that never compute a test-window score); the list
is frozen in a commit before this benchmark runs. The decision rule is unchanged: of the honest
rows (not the oracle, not ``naive-day``), the lowest validation MAE; ties to the earlier row.

Round 4's validation-only trials (22:24–22:31 UTC; scratch runs that computed the validation MAE
and nothing of the test window; % of peak, the round-3 choice scoring 6.29): the registered
CLIPER rows 6.45–6.69 (fitted on 28 viewpoints, of which the earliest had little history: the
series starts on 2016-07-01), ``clear-sky-qr`` 6.39, the round-3 row at 14/28/35 days 6.40 /
6.26 / 6.19. Then tried: fitting on 56 viewpoints (all there are), a day-level persistence (the
index of the last 24 hours known, option ``persistence="day"``), gradient-boosted trees for the
quantile regression (``method="hgb"``), 35-day windows for CLIPER and the regression, other
levels (+0, +0.05, +0.15) and pooling (±3, ±4) at 35 days, 30 days, and equal-weight averages of
two rows (6.26–6.31: none better than its better member). Rows added from these (below) span
6.16–6.63 on validation; not added: ±4 pooling at 35 days (6.22), CLIPER with day persistence
on 28 viewpoints (6.72) or at the median level (6.40; 6.26 at 35 days), the regression with day
persistence (6.37; 6.34 at 35 days) or on 28 viewpoints (6.58), the trees with day persistence
(6.79) or 35 days (6.57), and the averages. The list was then frozen (22:31 UTC). Best on
validation: the round-3 row with a 35-day window and level +0.05 (6.16), a level and window
picked among a few on these 20 days, so its validation score is optimistic.

Round 4 outcome (run 22:31–22:41 UTC, ``--only load-pv``, once): the rule chose
``clear-sky-quantile on the plane, level +0.05, pooled ±2, 35 days`` (validation 6.16 %, test
6.82 % of peak), 0.04 points worse on test than round 3's choice (6.78 %); the 6.5 % aim is not
met. On test the round-4 rows score 6.77–6.92 % (the trees 7.09 %): CLIPER 6.83–6.92, the linear
quantile regression 6.82–6.85, the 28- and 30-day windows 6.77. Load is unchanged (1.50 % =
0.696× naive-week). No round 5.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl

from flex_pipelines.forecasting.clearsky import CLEAR_SKY_POA_NAME, clear_sky_history
from flex_pipelines.forecasting.combine import combine_forecasts
from flex_pipelines.forecasting.cycles import CycleConfig, forecast_cycles
from flex_pipelines.forecasting.datasets import PV_TIMEZONE, gb_demand, pv_serf
from flex_pipelines.forecasting.history import SeriesHistory
from flex_pipelines.forecasting.metrics import mae, mape
from flex_pipelines.forecasting.models import ForecastModel, get_model
from flex_pipelines.forecasting.orientation import fit_orientation

DAY = timedelta(days=1)
MST = timezone(timedelta(hours=-7))
DAY_AHEAD = dict(min_horizon=timedelta(hours=12), max_horizon=timedelta(hours=36), frequency=DAY)


def _day_ahead_window(last_day: date, n_days: int, offset_days: int, tz: timezone) -> tuple:
    """Viewpoints (12:00 the day before) of ``n_days`` delivery days ending ``offset_days``
    before ``last_day`` (offset 0: the test window; offset n_days: the validation window)."""
    first = last_day - timedelta(days=n_days - 1 + offset_days)
    start = datetime(first.year, first.month, first.day, 12, tzinfo=tz) - DAY
    return start, start + timedelta(days=n_days)


def _runs(
    hist: SeriesHistory,
    rows: list[tuple[str, str | ForecastModel, int, list[SeriesHistory]]],
    combos: list[tuple[str, ...]],
    window: tuple[datetime, datetime],
) -> dict[str, tuple[pl.DataFrame, float]]:
    out: dict[str, tuple[pl.DataFrame, float]] = {}
    for label, model, retrain, regs in rows:
        cfg = CycleConfig(**DAY_AHEAD, train_period=timedelta(days=120), retrain_every=retrain)
        t0 = time.perf_counter()
        fc = forecast_cycles(model, hist, *window, cfg, regressors=regs)
        out[label] = (fc, time.perf_counter() - t0)
    for combo in combos:
        out[" + ".join(combo)] = (combine_forecasts([out[c][0] for c in combo]), 0.0)
    return out


#: (row, model, retrain every N cycles) for GB demand; combinations of two
LOAD_ROWS = [
    ("naive-day", "naive-day", 1),
    ("naive-week", "naive-week", 1),
    ("ridge", "ridge", 1),
    ("lasso", "lasso", 1),
    ("ridge-profiles", "ridge-profiles", 1),
    ("hgb", "hgb", 7),
    ("ets", "ets", 1),
    ("sarimax", "sarimax", 7),
]
#: round 2 (see the module docstring): ridge-profiles on load as it is, with two weeks' profiles
LOAD_ROWS_2 = [
    ("ridge-profiles, no asinh", get_model("ridge-profiles", transform="none"), 1),
    (
        "ridge-profiles, no asinh, w-1 and w-2",
        get_model("ridge-profiles", transform="none", profile_weeks=[1, 2]),
        1,
    ),
    (
        "ridge-profiles, no asinh, d-1, d-2, w-1, w-2",
        get_model("ridge-profiles", transform="none", profile_days=[1, 2], profile_weeks=[1, 2]),
        1,
    ),
]
LOAD_COMBOS = [
    ("ridge-profiles", "hgb"),
    ("ridge-profiles", "naive-week"),
    ("ridge-profiles, no asinh", "naive-week"),
    ("ridge-profiles, no asinh, w-1 and w-2", "naive-week"),
    ("ridge-profiles, no asinh, d-1, d-2, w-1, w-2", "naive-week"),
]


def bench_load(n_days: int) -> tuple[str, str]:
    """GB demand: every model and combination on the validation window (the ``n_days`` before
    the test window) and on the test window; the best on validation is the reported choice."""
    hist = gb_demand()
    last_day = hist.frame["event_start"].max().date()  # type: ignore[union-attr]
    truth = hist.frame.select("event_start", pl.col("event_value").alias("actual"))
    rows = [(label, model, rt, []) for label, model, rt in LOAD_ROWS + LOAD_ROWS_2]
    scores: dict[str, dict[str, tuple[float, float, int, float]]] = {}
    for which, offset in (("validation", n_days), ("test", 0)):
        runs = _runs(hist, rows, LOAD_COMBOS, _day_ahead_window(last_day, n_days, offset, UTC))
        scores[which] = {}
        for label, (fc, secs) in runs.items():
            j = fc.join(truth, on="event_start")
            y, yhat = j["actual"].to_numpy(), j["event_value"].to_numpy()
            scores[which][label] = (mape(y, yhat), mae(y, yhat), len(y), secs)
    ours = [k for k in scores["validation"] if not k.startswith("naive")]
    chosen = min(ours, key=lambda k: scores["validation"][k][0])
    lines = [
        "| model | MAPE (%), validation | MAPE (%), test | MAE (MW), test | half hours | runtime (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, (m, a, n, secs) in scores["test"].items():
        mark = " (chosen on validation)" if label == chosen else ""
        lines.append(
            f"| {label}{mark} | {scores['validation'][label][0]:.2f} | {m:.2f} | {a:.0f} | {n} | "
            f"{secs:.1f} |"
        )
    ratio = scores["test"][chosen][0] / scores["test"]["naive-week"][0]
    aim = (
        f"Load: `{chosen}` (chosen on the validation window) MAPE "
        f"{scores['test'][chosen][0]:.2f} % = {ratio:.3f}× naive-week "
        f"({scores['test']['naive-week'][0]:.2f} %); aim ≤ 0.7×: "
        f"{'met' if ratio <= 0.7 else 'not met'}."
    )
    print("\n".join(lines), aim, sep="\n", flush=True)
    return "\n".join(lines), aim


def _oracle(ghi: SeriesHistory) -> SeriesHistory:
    """Measured GHI re-dated as known one day before: a perfect day-ahead weather forecast."""
    f = ghi.frame.with_columns((pl.col("event_start") - timedelta(days=2)).alias("belief_time"))
    return ghi.with_frame(f)


SERF_LAT, SERF_LON = 39.742, -105.18
LAST_PV_DAY = date(2016, 10, 12)


def bench_pv(n_days: int) -> tuple[str, str]:
    """PV: models with no input, the built-in (pvlib) clear-sky GHI, and measured GHI as an
    oracle; validation = the ``n_days`` before the test window (from 2016-07-22)."""
    power, _, ghi = pv_serf()
    clear = clear_sky_history(
        power.frame["event_start"], timedelta(minutes=15), SERF_LAT, SERF_LON, PV_TIMEZONE
    )
    peak = float(power.frame["event_value"].max())  # type: ignore[arg-type]
    truth = power.frame.select("event_start", pl.col("event_value").alias("actual"))
    rows = [
        ("naive-day", "naive-day", 1, []),
        ("ridge", "ridge", 1, []),
        ("ridge + clear-sky", "ridge", 1, [clear]),
        ("hgb", "hgb", 7, []),
        ("hgb + clear-sky", "hgb", 7, [clear]),
        ("hgb + measured GHI (oracle)", "hgb", 7, [_oracle(ghi)]),
        ("recent-quantile", get_model("recent-quantile"), 1, []),
        ("recent-quantile, level +0.1", get_model("recent-quantile", shift=0.1), 1, []),
        ("recent-quantile, level +0.2", get_model("recent-quantile", shift=0.2), 1, []),
    ]
    for shift in (0.0, 0.1, 0.2, 0.3):  # round 2: the clear-sky-index climatology
        label = "clear-sky-quantile" + (f", level +{shift}" if shift else "")
        rows.append((label, get_model("clear-sky-quantile", shift=shift), 1, [clear]))
    for shift in (0.2, 0.3):
        model = get_model("clear-sky-quantile", shift=shift, pool_slots=2)
        rows.append((f"clear-sky-quantile, level +{shift}, pooled ±2", model, 1, [clear]))
    # round 3: the index on the array's plane, fitted from the power known before validation
    plane = fit_orientation(
        power, SERF_LAT, SERF_LON, _day_ahead_window(LAST_PV_DAY, 20, n_days, MST)[0]
    )
    poa = clear_sky_history(
        power.frame["event_start"],
        timedelta(minutes=15),
        SERF_LAT,
        SERF_LON,
        PV_TIMEZONE,
        surface_tilt=plane.tilt_deg,
        surface_azimuth=plane.azimuth_deg,
    )
    for shift in (0.0, 0.1, 0.2, 0.3):
        for pool in (0, 2):
            model = get_model(
                "clear-sky-quantile", shift=shift, pool_slots=pool, regressor=CLEAR_SKY_POA_NAME
            )
            label = f"clear-sky-quantile on the plane, level +{shift}" + (
                f", pooled ±{pool}" if pool else ""
            )
            rows.append((label, model, 1, [poa]))
    # round 4: fitted to the recent past (CLIPER, quantile regression) and other window lengths
    on_plane = dict(pool_slots=2, regressor=CLEAR_SKY_POA_NAME)
    for label, model in (
        ("clear-sky-cliper on the plane, pooled ±2", get_model("clear-sky-cliper", **on_plane)),
        (
            "clear-sky-cliper on the plane, median level, pooled ±2",
            get_model("clear-sky-cliper", shift=0.0, **on_plane),
        ),
        (
            "clear-sky-cliper on the plane, weight 0, pooled ±2",
            get_model("clear-sky-cliper", weight=0.0, **on_plane),
        ),
        ("clear-sky-qr on the plane, pooled ±2", get_model("clear-sky-qr", **on_plane)),
    ):
        rows.append((label, model, 1, [poa]))
    for days in (14, 28, 35):
        model = get_model("clear-sky-quantile", shift=0.1, days=days, **on_plane)
        label = f"clear-sky-quantile on the plane, level +0.1, pooled ±2, {days} days"
        rows.append((label, model, 1, [poa]))
    # round 4, added after validation-only trials (see the module docstring)
    for label, name, params in (
        (
            "clear-sky-cliper on the plane, weight 0, pooled ±2, fit 56",
            "clear-sky-cliper",
            dict(weight=0.0, fit_days=56),
        ),
        ("clear-sky-cliper on the plane, pooled ±2, fit 56", "clear-sky-cliper", dict(fit_days=56)),
        (
            "clear-sky-cliper on the plane, day persistence, pooled ±2, fit 56",
            "clear-sky-cliper",
            dict(persistence="day", fit_days=56),
        ),
        (
            "clear-sky-cliper on the plane, median level, pooled ±2, 35 days",
            "clear-sky-cliper",
            dict(shift=0.0, days=35),
        ),
        ("clear-sky-qr on the plane, pooled ±2, 35 days", "clear-sky-qr", dict(days=35)),
        ("clear-sky-qr (hgb) on the plane, pooled ±2", "clear-sky-qr", dict(method="hgb")),
        (
            "clear-sky-quantile on the plane, level +0.1, pooled ±2, 30 days",
            "clear-sky-quantile",
            dict(shift=0.1, days=30),
        ),
        (
            "clear-sky-quantile on the plane, level +0.1, pooled ±3, 35 days",
            "clear-sky-quantile",
            dict(shift=0.1, days=35, pool_slots=3),
        ),
    ):
        model = get_model(name, **{**on_plane, **params})
        rows.append((label, model, 1, [poa]))
    for shift in (0.0, 0.05, 0.15):
        model = get_model("clear-sky-quantile", shift=shift, days=35, **on_plane)
        label = f"clear-sky-quantile on the plane, level +{shift}, pooled ±2, 35 days"
        rows.append((label, model, 1, [poa]))
    combos = [
        ("hgb + clear-sky", "naive-day"),
        ("hgb", "hgb + clear-sky"),
        ("hgb", "recent-quantile, level +0.1"),
    ]
    scores: dict[str, dict[str, tuple[float, float, int, float]]] = {}
    windows = {"validation": min(n_days, 20), "test": n_days}
    last_day = LAST_PV_DAY
    for which, days in windows.items():
        offset = n_days if which == "validation" else 0
        runs = _runs(power, rows, combos, _day_ahead_window(last_day, days, offset, MST))
        scores[which] = {}
        for label, (fc, secs) in runs.items():
            j = fc.join(truth, on="event_start")
            y, yhat = j["actual"].to_numpy(), j["event_value"].to_numpy()
            scores[which][label] = (100 * mae(y, yhat) / peak, mae(y, yhat), len(y), secs)
    honest = [k for k in scores["validation"] if "oracle" not in k and k != "naive-day"]
    chosen = min(honest, key=lambda k: scores["validation"][k][0])
    lines = [
        "| model | MAE (% of peak), validation | MAE (% of peak), test | MAE (W), test | quarter hours | runtime (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, (m, a, n, secs) in scores["test"].items():
        mark = " (chosen on validation)" if label == chosen else ""
        lines.append(
            f"| {label}{mark} | {scores['validation'][label][0]:.2f} | {m:.2f} | {a:.0f} | {n} | "
            f"{secs:.1f} |"
        )
    best = scores["test"][chosen][0]
    aim = (
        f"PV: `{chosen}` (chosen on the validation window, no measured irradiance) MAE "
        f"{best:.2f} % of peak; aim ≤ 6.5 %: {'met' if best <= 6.5 else 'not met'}. The plane "
        f"fitted from the power known at the first validation viewpoint: tilt "
        f"{plane.tilt_deg:.0f}°, azimuth {plane.azimuth_deg:.0f}° (east of north)."
    )
    print("\n".join(lines), aim, sep="\n", flush=True)
    return "\n".join(lines), aim
