"""Declarative automation, evaluated as the daemon's ``automation`` sensor does it
(``evaluate_automation_conditions`` against a real instance, tick after tick with its cursor):
the day-ahead cycle on a cron, and schedules and reports of the days ahead on upstream updates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    BackfillPolicy,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    asset,
    evaluate_automation_conditions,
    partition_loading_context,
)

from assets_defs.automation import day_ahead_cycle, days_ahead, on_upstream_update
from assets_defs.partitions import daily_partitions, daily_partitions_for
from flex_pipelines.beliefs import open_store
from flex_pipelines.definitions import defs
from flex_pipelines.pipeline.reoptimise import local_today
from flex_pipelines.settings import load_settings
from tests.dagster.conftest import DAY

#: the condition tester and the stand-in assets use beta parameters on purpose
pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")

TZ = "Europe/Amsterdam"
KEYS = {name: AssetKey(name) for name in ("forecasts", "schedules", "reports")}

#: 13:00:30 local (the day-ahead time, plus a tick's delay) on ordinary and DST-eve days
DAY_AHEAD_CLOCKS = {
    "summer": datetime(2024, 6, 12, 11, 0, 30, tzinfo=UTC),  # CEST
    "winter": datetime(2024, 1, 15, 12, 0, 30, tzinfo=UTC),  # CET
    "eve of the 23-hour day": datetime(2024, 3, 30, 12, 0, 30, tzinfo=UTC),  # CET
    "eve of the 25-hour day": datetime(2024, 10, 26, 11, 0, 30, tzinfo=UTC),  # CEST
    "on the 23-hour day": datetime(2024, 3, 31, 11, 0, 30, tzinfo=UTC),  # CEST
    "on the 25-hour day": datetime(2024, 10, 27, 12, 0, 30, tzinfo=UTC),  # CET
}


class Ticks:
    """The automation sensor's ticks against one instance, each continuing from the last."""

    def __init__(self, instance: DagsterInstance, definitions: Definitions = defs) -> None:
        self.instance, self.defs, self.cursor = instance, definitions, None

    def at(self, when: datetime) -> dict[str, list[str]]:
        result = evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, evaluation_time=when, cursor=self.cursor
        )
        self.cursor = result.cursor
        return {
            key.to_user_string(): sorted(result.get_requested_partitions(key))
            for key in self.defs.resolve_asset_graph().get_all_asset_keys()
            if result.get_requested_partitions(key)
        }


def _exists(key: str, at: datetime) -> bool:
    with partition_loading_context(effective_dt=at):
        return daily_partitions.has_partition_key(key)


@pytest.mark.parametrize("clock", list(DAY_AHEAD_CLOCKS), ids=list(DAY_AHEAD_CLOCKS))
def test_the_day_ahead_cycle_plans_tomorrow_at_the_day_ahead_time(instance, clock: str) -> None:
    at = DAY_AHEAD_CLOCKS[clock]
    tomorrow = (local_today(at, TZ) + timedelta(days=1)).isoformat()
    ticks = Ticks(instance)
    assert ticks.at(at - timedelta(minutes=2)) == {}  # the sensor's first tick: nothing yet
    assert ticks.at(at - timedelta(minutes=1)) == {}  # 12:59:30: before the cron

    requested = ticks.at(at)

    # forecasts on the cron, schedules and reports on their upstream: one request, one day
    assert requested == {"forecasts": [tomorrow], "schedules": [tomorrow], "reports": [tomorrow]}
    assert _exists(tomorrow, at)
    assert ticks.at(at + timedelta(seconds=30)) == {}  # handled: not again on the next tick
    local = at.astimezone(ZoneInfo(TZ))  # + timedelta: wall-clock arithmetic, over DST too
    assert ticks.at(local + timedelta(days=1, minutes=-1)) == {}  # the next day at 12:59:30
    next_day = (local_today(at, TZ) + timedelta(days=2)).isoformat()
    assert ticks.at(local + timedelta(days=1))["forecasts"] == [next_day]


def test_the_day_ahead_time_comes_from_the_settings() -> None:
    settings = load_settings({"FLEXPIPE_DAY_AHEAD_TIME": "13:45", "FLEXPIPE_TIMEZONE": "UTC"})
    assert "45 13 * * *, UTC" in day_ahead_cycle(settings).get_label()


def _materialize(instance: DagsterInstance, name: str, day: str) -> None:
    """A materialization reported outside a run (as a run of that asset alone would leave)."""
    instance.report_runless_asset_event(AssetMaterialization(name, partition=day))


#: 10:07 local on DAY (2015-03-10): DAY is today, DAY + 1 tomorrow
NOW = datetime(2015, 3, 10, 9, 7, tzinfo=UTC)


def test_reports_follow_a_schedule_of_a_day_ahead_but_not_of_today_or_the_past(instance) -> None:
    ticks = Ticks(instance)
    assert ticks.at(NOW) == {}
    tomorrow, today = (DAY + timedelta(days=1)).isoformat(), DAY.isoformat()

    _materialize(instance, "schedules", tomorrow)
    assert ticks.at(NOW + timedelta(seconds=30)) == {"reports": [tomorrow]}
    assert ticks.at(NOW + timedelta(seconds=60)) == {}  # requested once

    # today is re-planned by the sensor and the intraday cycle from now on, never whole
    _materialize(instance, "schedules", today)
    _materialize(instance, "schedules", "2015-03-01")  # a backfill of the past
    _materialize(instance, "forecasts", today)
    assert ticks.at(NOW + timedelta(seconds=90)) == {}

    # new forecasts of tomorrow (a manual run): schedules follow, then reports
    _materialize(instance, "forecasts", tomorrow)
    requested = ticks.at(NOW + timedelta(seconds=120))
    assert requested == {"schedules": [tomorrow], "reports": [tomorrow]}


def test_a_run_that_made_schedules_and_reports_requests_nothing_more(
    db_url: str, toy_site: dict, instance
) -> None:
    """What the re-optimisation sensor launches (``reoptimise_job``: schedules → reports)."""
    ticks = Ticks(instance)
    assert ticks.at(NOW) == {}
    tomorrow = (DAY + timedelta(days=1)).isoformat()
    result = defs.resolve_job_def("reoptimise_job").execute_in_process(
        partition_key=tomorrow,
        instance=instance,
        run_config={"resources": {"store": {"config": {"url": db_url}}}},
    )
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == {
        KEYS["schedules"],
        KEYS["reports"],
    }

    assert ticks.at(NOW + timedelta(seconds=30)) == {}


def _schedules_alone(db_url: str, instance: DagsterInstance, day: str) -> bool:
    """A run of ``schedules`` and its checks only (as from the UI, or the celery job)."""
    result = defs.resolve_job_def("reoptimise_job").execute_in_process(
        partition_key=day,
        instance=instance,
        run_config={"resources": {"store": {"config": {"url": db_url}}}},
        asset_selection=[KEYS["schedules"]],
        raise_on_error=False,
    )
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [KEYS["schedules"]]
    return result.success


def test_a_failed_blocking_check_of_the_day_holds_its_reports(
    db_url: str, toy_site: dict, instance
) -> None:
    ticks = Ticks(instance)
    assert ticks.at(NOW) == {}
    tomorrow = (DAY + timedelta(days=1)).isoformat()
    with open_store(db_url) as s:  # the 200 kW process breaks a 150 kVA site capacity
        building = s.get_asset(toy_site["building"]["id"])
        s.update_asset(
            building.id,
            flex_context={**building.flex_context, "site-power-capacity": "150 kVA"},
        )

    assert not _schedules_alone(db_url, instance, tomorrow)  # saved; its blocking check failed

    assert ticks.at(NOW + timedelta(seconds=30)) == {}  # no reports of a schedule out of bounds
    with open_store(db_url) as s:
        s.update_asset(building.id, flex_context=building.flex_context)  # 500 kVA again
    assert _schedules_alone(db_url, instance, tomorrow)
    assert ticks.at(NOW + timedelta(seconds=60)) == {"reports": [tomorrow]}


@pytest.mark.parametrize("horizon", [1, 2, 4])
@pytest.mark.parametrize(
    "clock", ["summer", "eve of the 23-hour day", "eve of the 25-hour day", "on the 25-hour day"]
)
def test_days_ahead_selects_exactly_those_days(horizon: int, clock: str) -> None:
    """The partition windows behind the conditions, for any planning horizon and on DST days
    (stand-in assets on the partitions of that horizon)."""
    at = DAY_AHEAD_CLOCKS[clock]
    settings = load_settings({"FLEXPIPE_PLANNING_HORIZON_DAYS": str(horizon)})
    today = local_today(at, TZ)

    def day(i: int) -> str:
        return (today + timedelta(days=i)).isoformat()

    windows = {
        "tomorrow": days_ahead(1, 1, horizon),
        "ahead": days_ahead(1, horizon, horizon),
        "window": days_ahead(0, horizon, horizon),
        "today": days_ahead(0, 0, horizon),
    }
    stand_ins = [
        asset(
            name=name,
            partitions_def=daily_partitions_for(settings),
            backfill_policy=BackfillPolicy.single_run(),
            automation_condition=condition,
        )(lambda: None)
        for name, condition in windows.items()
    ]
    result = evaluate_automation_conditions(
        defs=stand_ins, instance=DagsterInstance.ephemeral(), evaluation_time=at
    )
    got = {n: sorted(result.get_requested_partitions(AssetKey(n))) for n in windows}
    assert got == {
        "tomorrow": [day(1)],
        "ahead": [day(i) for i in range(1, horizon + 1)],
        "window": [day(i) for i in range(horizon + 1)],
        "today": [day(0)],
    }


def test_the_automation_sensor_evaluates_the_conditions(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor = defs.resolve_sensor_def("automation")
    graph = defs.resolve_asset_graph()
    assert sensor.asset_selection.resolve(graph) == set(KEYS.values())
    assert sensor.default_status == DefaultSensorStatus.RUNNING  # FLEXPIPE_AUTOMATION=on
    assert (
        AssetSelection.assets("inbox_beliefs")
        .resolve(graph)
        .isdisjoint(sensor.asset_selection.resolve(graph))
    )
    labels = {k.to_user_string(): graph.get(k).automation_condition for k in KEYS.values()}
    assert labels["forecasts"].get_label().startswith("day-ahead cycle (0 13 * * *")
    assert labels["schedules"] == labels["reports"] == on_upstream_update(load_settings({}))
