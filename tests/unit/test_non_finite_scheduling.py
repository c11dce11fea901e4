"""Non-finite numbers never reach the solver (issue 14): every door into a flex-model or
flex-context field refuses ``inf``/``-inf``/overflowing values, naming field, value and time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from flex_pipelines.scheduling.fields import RawSeries, UnitContext, field_series
from flex_pipelines.scheduling.grid import SchedulingError, make_grid
from flex_pipelines.scheduling.storage import solve_problem_json
from flex_pipelines.units import UnitError, parse_quantity

START = "2026-01-01T00:00:00+01:00"


def _problem(fm: dict | None = None, fc: dict | None = None) -> dict:
    battery = {"soc-at-start": "1 MWh", "soc-max": "2 MWh", "power-capacity": "1 MW"}
    return {
        "start": START,
        "duration": "P1D",
        "resolution": "PT1H",
        "flex-model": [{**battery, **(fm or {})}],
        "flex-context": fc if fc is not None else {"consumption-price": "50 EUR/MWh"},
    }


def _inline(values: list, unit: str = "EUR/MWh") -> dict:
    return {"start": START, "resolution": "PT1H", "unit": unit, "values": values}


@pytest.mark.parametrize(
    ("fm", "fc", "fragments"),
    [
        (
            None,
            {"consumption-price": _inline([1.0, float("inf")] + [1.0] * 22)},
            ["consumption-price", "inf EUR/MWh", "2026-01-01T01:00+01:00", "not a finite number"],
        ),
        (
            None,
            {"consumption-price": _inline([1.0] * 5 + [float("-inf")] + [1.0] * 18)},
            ["consumption-price", "-inf EUR/MWh", "2026-01-01T05:00+01:00"],
        ),
        (
            None,
            {"consumption-price": _inline(["Infinity"] + [1.0] * 23)},
            ["consumption-price", "inf EUR/MWh", "2026-01-01T00:00+01:00"],
        ),
        ({"soc-max": "1e309 MWh"}, None, ["soc-max", "1e309 MWh", "not a finite number"]),
        ({"power-capacity": "1e308 GW"}, None, ["power-capacity", "not a finite number in MW"]),
        (
            None,
            {"consumption-price": _inline([1e308] * 24, "EUR/kWh")},
            ["consumption-price", "1e+308 EUR/kWh", "finite number in EUR/MWh"],
        ),
        (
            None,
            {"consumption-price": [{"start": START, "duration": "PT2H", "value": "1e309 EUR/MWh"}]},
            ["consumption-price", "1e309 EUR/MWh", "not a finite number"],
        ),
    ],
)
def test_non_finite_fields_are_refused_before_solving(fm, fc, fragments) -> None:
    with pytest.raises(SchedulingError) as err:
        solve_problem_json(_problem(fm, fc))
    for fragment in fragments:
        assert fragment in str(err.value)


def test_a_stored_infinite_price_is_refused_with_its_time() -> None:
    """Data read through a sensor reference (a store holding ``inf`` from before the door was
    closed) is refused too, naming the event."""
    grid = make_grid(START, "PT1H", duration="P1D")
    t0 = datetime.fromisoformat(START)

    def resolver(sensor_id, start, end, source_types=None) -> RawSeries:
        values = np.full(24, 30.0)
        values[7] = np.inf
        return RawSeries(t0, timedelta(hours=1), "EUR/MWh", values)

    ctx = UnitContext(resolver=resolver)
    with pytest.raises(
        SchedulingError, match=r"consumption-price 'inf EUR/MWh' at 2026-01-01T07:00"
    ):
        field_series("consumption-price", {"sensor": 3}, grid, "CUR/MWh", ctx)


def test_parse_quantity_refuses_an_overflowing_magnitude() -> None:
    with pytest.raises(UnitError, match="not a finite number"):
        parse_quantity("1e309 kW")


def test_schedule_solve_refuses_infinity_in_its_json(tmp_path: Path) -> None:
    from flex_pipelines.cli.main import app

    path = tmp_path / "problem.json"
    text = json.dumps(_problem(fc={"consumption-price": _inline([float("inf")] * 24)}))
    assert "Infinity" in text  # what a JSON encoder writes for inf
    path.write_text(text)
    res = CliRunner().invoke(app, ["schedule", "solve", str(path), "--format", "json"])
    assert res.exit_code == 2, res.output
    assert "consumption-price 'inf EUR/MWh' at 2026-01-01T00:00+01:00" in res.output
    assert "optimal" not in res.output
