"""``service.forecast_report.check_forecast_config``: a sensor's forecast config is checked when
it is stored (API create/change, CLI), on the new config's own regressors and values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from flex_pipelines.beliefs import open_store
from flex_pipelines.errors import FlexPipelinesError
from flex_pipelines.service.access import Caller
from flex_pipelines.service.forecast_report import check_forecast_config


@pytest.fixture
def world(tmp_path: Path):  # noqa: ANN201
    store = open_store(str(tmp_path / "db.duckdb"))
    a, b = store.add_account("A"), store.add_account("B")
    asset_a = store.add_asset("site A", "site", a.id)
    asset_b = store.add_asset("site B", "site", b.id)
    target = store.add_sensor("load", "kW", timedelta(hours=1), asset_id=asset_b.id)
    reg = store.add_sensor("temp", "°C", timedelta(hours=1), asset_id=asset_b.id)
    foreign = store.add_sensor("A's temp", "°C", timedelta(hours=1), asset_id=asset_a.id)
    caller = Caller(b.id, frozenset({"account-admin"}), "b admin")
    yield store, caller, target, reg, foreign
    store.close()


def test_a_change_is_checked_on_its_own_regressors_not_the_stored_ones(world) -> None:  # noqa: ANN001
    """Removing a deleted regressor from a config is accepted (the stored config's regressors
    used to be checked instead when the new one had none)."""
    store, caller, target, reg, _ = world
    attrs = {"forecast": {"model": "ridge", "regressors": [reg.id]}}
    check_forecast_config(caller, store, target.id, attrs)
    store.update_sensor(target.id, attributes=attrs)
    store.delete_sensor(reg.id)
    check_forecast_config(caller, store, target.id, {"forecast": {"model": "ridge"}})
    with pytest.raises(FlexPipelinesError, match=f"unknown sensor id {reg.id}"):
        check_forecast_config(caller, store, target.id, attrs)


def test_another_accounts_regressor_is_refused_naming_the_field(world) -> None:  # noqa: ANN001
    store, caller, target, _, foreign = world
    for sid in (None, target.id):
        with pytest.raises(FlexPipelinesError) as err:
            check_forecast_config(caller, store, sid, {"forecast": {"regressors": [foreign.id]}})
        assert "attributes.forecast.regressors[0]" in str(err.value)
        assert "A's temp" not in str(err.value)  # never another account's names


@pytest.mark.parametrize("regs", [{"a": 1}, "5", 5, [True], [1.5], ["x"]])
def test_regressors_that_are_not_a_list_of_ids_are_refused(world, regs) -> None:  # noqa: ANN001
    store, caller, _, _, _ = world
    with pytest.raises(FlexPipelinesError, match="regressors"):
        check_forecast_config(caller, store, None, {"forecast": {"regressors": regs}})
