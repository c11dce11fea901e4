"""The risk-aware (scenario) problem of the scheduler: one device schedule for several price and
load paths, expected cost + risk-aversion × CVaR, in the same description as the deterministic
problem (real HiGHS and pyomo solves)."""

from __future__ import annotations

import numpy as np
import pytest

from flex_pipelines.scheduling.build_highs import formulate
from flex_pipelines.scheduling.grid import SchedulingError
from flex_pipelines.scheduling.problem import Scenarios, SchedulingProblem
from flex_pipelines.scheduling.storage import parse_problem_json, solve

T = 48  # half-hourly day
DT = 0.5


def _problem(
    price: np.ndarray,
    *,
    load: np.ndarray | None = None,
    feed_in: float | None = None,
    extra_fc: dict | None = None,
    charge_sooner: bool = False,
) -> SchedulingProblem:
    fc = {"consumption-price": "1 EUR/MWh"} | (extra_fc or {})
    if feed_in is not None:
        fc["production-price"] = f"{feed_in} EUR/MWh"
    p = parse_problem_json(
        {
            "start": "2026-03-02T00:00+01:00",
            "duration": "P1D",
            "resolution": "PT30M",
            "flex-model": [
                {
                    "name": "battery",
                    "soc-at-start": "1 MWh",
                    "soc-min": "0 MWh",
                    "soc-max": "2 MWh",
                    "power-capacity": "1 MW",
                    "roundtrip-efficiency": "90%",
                    "prefer-charging-sooner": charge_sooner,
                }
            ],
            "flex-context": fc,
        }
    )
    p.site.consumption_price = np.asarray(price, dtype=float)
    p.site.production_price = (
        p.site.consumption_price.copy() if feed_in is None else np.full(T, float(feed_in))
    )
    if load is not None:
        p.site.inflexible_mw = np.asarray(load, dtype=float)
    return p


def _day_price(rng: np.random.Generator | None = None) -> np.ndarray:
    h = np.arange(T) * DT
    base = 60 + 35 * np.sin((h - 8) / 24 * 2 * np.pi) + 15 * np.sin(h / 24 * 6 * np.pi)
    return base if rng is None else base + rng.normal(0, 3, T)


def _with(
    p: SchedulingProblem,
    cp: np.ndarray,
    pp: np.ndarray | None = None,
    load: np.ndarray | None = None,
    lam: float = 0.0,
    alpha: float = 0.9,
    weights: np.ndarray | None = None,
) -> SchedulingProblem:
    S = cp.shape[0]
    p.scenarios = Scenarios(
        cp,
        cp.copy() if pp is None else pp,
        np.tile(p.site.inflexible_mw, (S, 1)) if load is None else load,
        np.full(S, 1.0 / S) if weights is None else weights,
        lam,
        alpha,
    )
    return p


def _scenario_cost(power: np.ndarray, cp: np.ndarray, pp: np.ndarray, load: np.ndarray) -> float:
    """A scenario's grid bill written out here (not the scheduler's compute_costs)."""
    net = power + load
    return float(DT * np.sum(cp * np.maximum(net, 0) - pp * np.maximum(-net, 0)))


def _cvar_by_sorting(costs: np.ndarray, weights: np.ndarray, alpha: float) -> float:
    """The mean of the worst 1 − α probability mass (fractional scenario at the boundary)."""
    order = np.argsort(-costs)
    left, total = 1.0 - alpha, 0.0
    for k in order:
        take = min(weights[k], left)
        total += take * costs[k]
        left -= take
        if left <= 1e-15:
            break
    return total / (1.0 - alpha)


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_equal_scenarios_give_the_deterministic_schedule_and_objective(
    n: int, backend: str
) -> None:
    price = _day_price(np.random.default_rng(0))
    det = solve(_problem(price, feed_in=20.0, charge_sooner=True), method="milp")
    lam = 0.7
    p = _problem(price, feed_in=20.0, charge_sooner=True)
    res = solve(_with(p, np.tile(price, (n, 1)), np.full((n, T), 20.0), lam=lam), backend=backend)
    np.testing.assert_allclose(res.devices[0].power_mw, det.devices[0].power_mw, atol=1e-7)
    assert res.objective == pytest.approx((1 + lam) * det.objective, rel=1e-9, abs=1e-7)
    assert res.risk.expected_cost == pytest.approx(det.costs["total"], abs=1e-7)
    assert res.risk.cvar == pytest.approx(det.costs["total"], abs=1e-7)
    assert res.costs["total"] == pytest.approx(det.costs["total"], abs=1e-7)
    assert res.risk.scenarios == n
    if backend == "highs":
        assert res.method in ("lp", "milp")


def test_risk_neutral_with_symmetric_prices_is_the_deterministic_optimum_on_the_mean() -> None:
    """One price for both directions: the expected cost is linear in the price, so the
    risk-neutral optimum over paths mean ± d is the optimum on the mean path."""
    rng = np.random.default_rng(1)
    mean = _day_price(rng)
    d = rng.normal(0, 25, (5, T)) * np.linspace(0.2, 1.5, T)
    cp = np.concatenate([mean + d, mean - d])
    det = solve(_problem(mean))
    assert det.method == "dp"  # the deterministic path is unchanged: DP where it applies
    res = solve(_with(_problem(mean), cp))
    assert res.objective == pytest.approx(det.objective, rel=1e-9)
    assert res.risk.expected_cost == pytest.approx(det.costs["total"], rel=1e-9)
    # the scenario schedule, costed on the mean path, is as good as the deterministic one
    on_mean = _scenario_cost(res.devices[0].power_mw, mean, mean, np.zeros(T))
    assert on_mean == pytest.approx(det.costs["total"], rel=1e-9)


def _uncertain_evening(seed: int = 2, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Morning cheap and certain; evening prices either low or spiking (right-skewed)."""
    rng = np.random.default_rng(seed)
    mean = _day_price()
    cp = np.tile(mean, (n, 1))
    evening = np.arange(T) * DT >= 16
    spike = rng.random(n) < 0.2
    shift = np.where(spike, 220.0, -35.0)[:, None] * rng.uniform(0.6, 1.4, (n, 1))
    cp[:, evening] += shift
    return mean, cp


def test_highs_and_pyomo_agree_on_the_risk_averse_objective() -> None:
    mean, cp = _uncertain_evening(n=12)
    pp = np.minimum(cp, 30.0)  # a feed-in price below the consumption price
    load = np.tile(0.4 + 0.2 * np.sin(np.arange(T) / T * 2 * np.pi), (12, 1))
    runs = {}
    for backend in ("highs", "pyomo"):
        p = _problem(mean, feed_in=30.0, load=load[0])
        runs[backend] = solve(_with(p, cp, pp, load, lam=2.0, alpha=0.75), backend=backend)
    assert runs["highs"].objective == pytest.approx(runs["pyomo"].objective, rel=1e-7)
    assert runs["highs"].risk.cvar == pytest.approx(runs["pyomo"].risk.cvar, rel=1e-6)


@pytest.mark.parametrize("alpha", [0.5, 0.8, 0.95])
def test_the_cvar_term_equals_a_brute_force_evaluation_of_the_schedule(alpha: float) -> None:
    mean, cp = _uncertain_evening(seed=4, n=20)
    pp = np.minimum(cp, 25.0)
    rng = np.random.default_rng(5)
    load = np.clip(0.5 + rng.normal(0, 0.3, (20, T)), -0.5, None)  # PV makes it negative
    w = rng.uniform(0.5, 1.5, 20)
    w /= w.sum()
    p = _problem(mean, feed_in=25.0, load=load.mean(axis=0))
    res = solve(_with(p, cp, pp, load, lam=1.5, alpha=alpha, weights=w))
    power = res.devices[0].power_mw
    costs = np.array([_scenario_cost(power, cp[k], pp[k], load[k]) for k in range(20)])
    np.testing.assert_allclose(res.risk.scenario_costs, costs, rtol=1e-9, atol=1e-7)
    brute = _cvar_by_sorting(costs, w, alpha)
    assert res.risk.model_cvar == pytest.approx(brute, rel=1e-7, abs=1e-6)
    assert res.risk.cvar == pytest.approx(brute, rel=1e-9, abs=1e-7)
    assert res.risk.expected_cost == pytest.approx(float(w @ costs), rel=1e-9)
    assert res.objective == pytest.approx(res.risk.expected_cost + 1.5 * brute, rel=1e-7)


def test_risk_aversion_lowers_the_tail_cost_and_pays_for_it_in_expectation() -> None:
    mean, cp = _uncertain_evening()
    neutral = solve(_with(_problem(mean), cp, lam=0.0, alpha=0.9))
    averse = solve(_with(_problem(mean), cp, lam=5.0, alpha=0.9))
    assert averse.risk.cvar < neutral.risk.cvar - 1.0  # EUR: a real hedge, not rounding
    assert averse.risk.worst_cost <= neutral.risk.worst_cost + 1e-9
    assert averse.risk.expected_cost >= neutral.risk.expected_cost - 1e-9
    # a different schedule, not the same one costed differently
    soc_a, soc_n = averse.devices[0].soc_mwh, neutral.devices[0].soc_mwh
    assert np.abs(soc_a - soc_n).max() > 0.1


def test_the_scenario_problem_is_one_description_with_declared_blocks() -> None:
    mean, cp = _uncertain_evening(n=3)
    p = _with(_problem(mean, feed_in=20.0), cp, np.full((3, T), 20.0), lam=1.0)
    m, lay = formulate(p)
    kinds = {b.kind for b in m.row_blocks}
    assert {"stock balance", "site balance", "cvar"} <= kinds
    assert [b.name for b in m.blocks_of_kind("site balance")] == [
        f"site balance[scenario {k}]" for k in (1, 2, 3)
    ]  # one grid connection per scenario
    (cvar_rows,) = m.blocks_of_kind("cvar")
    assert cvar_rows.count == 3 and cvar_rows.field == "risk-aversion"
    assert {c.kind for c in m.col_blocks} >= {"cvar threshold", "cvar excess", "import", "export"}
    assert lay.scenarios is not None and lay.scenarios.weights.size == 3
    with pytest.raises(SchedulingError, match="method 'dp' does not apply.*scenarios"):
        solve(p, method="dp")
    # one price for both directions: no import/export columns, as in the deterministic build;
    # risk-neutral, the description is the deterministic one's size
    lin = _with(_problem(mean), cp)
    m_lin, _ = formulate(lin)
    m_det, _ = formulate(_problem(mean))
    assert (m_lin.n_cols, m_lin.n_rows) == (m_det.n_cols, m_det.n_rows)
    expected = cp.mean(axis=0)
    np.testing.assert_allclose(m_lin.arrays()["cost"][: 2 * T], np.r_[expected, -expected] * DT)


def test_without_scenarios_the_description_is_unchanged() -> None:
    """The deterministic build does not see the scenario code: same blocks, same matrix."""
    mean = _day_price()
    a, _ = formulate(_problem(mean, feed_in=20.0))
    p = _with(_problem(mean, feed_in=20.0), np.tile(mean, (2, 1)))
    p.scenarios = None
    b, _ = formulate(p)
    assert [r.name for r in a.row_blocks] == [r.name for r in b.row_blocks]
    assert (a.to_csc() != b.to_csc()).nnz == 0
    for key, arr in a.arrays().items():
        np.testing.assert_array_equal(arr, b.arrays()[key])


def test_uncertain_load_against_a_peak_price_is_hedged() -> None:
    """A peak price on the highest import: with an uncertain evening load the risk-averse
    schedule keeps more energy back to shave the peaks of the bad scenarios."""
    rng = np.random.default_rng(8)
    n = 16
    flat = np.full(T, 50.0)
    load = np.tile(np.full(T, 0.5), (n, 1))
    evening = np.arange(T) * DT >= 17
    load[:, evening] += rng.choice([0.0, 1.2], size=(n, 1), p=[0.75, 0.25])
    fc = {"site-peak-consumption": "0.5 MW", "site-peak-consumption-price": "200 EUR/MW"}
    neutral = solve(
        _with(_problem(flat, load=load.mean(axis=0), extra_fc=fc), np.tile(flat, (n, 1)), load=load)
    )
    averse = solve(
        _with(
            _problem(flat, load=load.mean(axis=0), extra_fc=fc),
            np.tile(flat, (n, 1)),
            load=load,
            lam=3.0,
        )
    )
    assert averse.risk.cvar <= neutral.risk.cvar + 1e-9
    assert averse.risk.expected_cost >= neutral.risk.expected_cost - 1e-9
    assert any(k.startswith("site peak consumption") for k in averse.costs)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"risk-aversion": -0.5}, r"'risk-aversion' = -0\.5: must be 0"),
        ({"risk-aversion": "high"}, r"'risk-aversion' = 'high': expected a number"),
        ({"risk-aversion": True}, r"'risk-aversion' = True: expected a number"),
        ({"risk-aversion": float("inf")}, r"'risk-aversion' = inf: must be finite"),
        ({"cvar-alpha": 0}, r"'cvar-alpha' = 0: must be between 0 and 1"),
        ({"cvar-alpha": 1.0}, r"'cvar-alpha' = 1\.0: must be between 0 and 1"),
        ({"scenarios": 0}, r"'scenarios' = 0: must be between 1 and 1000"),
        ({"scenarios": 2.5}, r"'scenarios' = 2\.5: expected a whole number"),
        ({"scenarios": 5000}, r"'scenarios' = 5000: must be between 1 and 1000"),
        ({"scenario-seed": -1}, r"'scenario-seed' = -1: must be between 0"),
        (
            {"commodities": [{"commodity": "gas", "risk-aversion": 1}]},
            r"commodities entry 'gas': field 'risk-aversion' belongs at the top level",
        ),
    ],
)
def test_bad_risk_fields_are_refused_naming_field_and_value(fields: dict, message: str) -> None:
    from flex_pipelines.scheduling.flex_context import parse_risk

    with pytest.raises(SchedulingError, match=message):
        parse_risk({"consumption-price": "50 EUR/MWh", **fields})


def test_risk_fields_parse_with_defaults_and_a_stateless_problem_refuses_them() -> None:
    from flex_pipelines.scheduling.flex_context import RiskSettings, parse_risk

    assert parse_risk({"consumption-price": "50 EUR/MWh"}) is None
    assert parse_risk({"scenarios": 50}) == RiskSettings(0.0, 0.9, 50, 0)
    assert parse_risk({"risk-aversion": 2, "cvar-alpha": 0.95, "scenario-seed": 4}) == (
        RiskSettings(2.0, 0.95, 20, 4)
    )
    with pytest.raises(SchedulingError, match="unknown field 'risk-averse'"):
        _problem(_day_price(), extra_fc={"risk-averse": 1})
    with pytest.raises(SchedulingError, match="stateless problem has none"):
        _problem(_day_price(), extra_fc={"risk-aversion": 1})


def test_a_hard_limit_no_schedule_can_keep_in_one_scenario_is_named() -> None:
    """One schedule serves every scenario, so a hard site limit must hold in each: a scenario
    whose load the battery cannot offset makes the problem infeasible, and the error names the
    field, the scenario and the time."""
    from flex_pipelines.scheduling.diagnostics import InfeasibleError

    p = _problem(_day_price(), load=np.full(T, 0.5), extra_fc={"site-power-capacity": "1.2 MW"})
    load = np.tile(np.full(T, 0.5), (3, 1))
    load[2, 30] = 3.0  # 15:00: 1.8 MW above the limit, the battery gives at most 1 MW
    with pytest.raises(
        InfeasibleError,
        match=r"site-power-capacity in scenario 3 \(a hard limit holds in every scenario\) "
        r"cannot hold at 2026-03-02T15:00\+01:00",
    ):
        solve(_with(p, np.tile(_day_price(), (3, 1)), load=load))
    load[2, 30] = 2.0  # within reach: the battery discharges at 15:00 in every scenario
    res = solve(_with(p, np.tile(_day_price(), (3, 1)), load=load))
    assert res.devices[0].power_mw[30] <= 1.2 - 2.0 + 1e-9


def test_inconsistent_scenarios_are_refused() -> None:
    cp = np.tile(_day_price(), (3, 1))
    with pytest.raises(SchedulingError, match="3 scenarios need 3 weights"):
        Scenarios(cp, cp, np.zeros((3, T)), np.array([0.5, 0.5]))
    with pytest.raises(SchedulingError, match=r"\(scenarios × steps\) arrays"):
        Scenarios(cp, cp[:2], np.zeros((3, T)), np.full(3, 1 / 3))
    with pytest.raises(SchedulingError, match="cvar-alpha 1.0 in"):
        Scenarios(cp, cp, np.zeros((3, T)), np.full(3, 1 / 3), 1.0, 1.0)
