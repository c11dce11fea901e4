"""The store records every change to accounts, users, assets and sensors (flex-model,
flex-context, attributes included) with who made it, on both backends; annotations are stored
once per entity, period, content and type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flex_pipelines.beliefs.audit import AuditActor, acting_as


def test_every_change_is_recorded_with_its_actor(store) -> None:  # noqa: ANN001
    acc = store.add_account("A")
    with acting_as(AuditActor(7, "alice@a.example")):
        user = store.add_user(acc.id, "bob@a.example", "hash", ["account-admin"])
        site = store.add_asset("site", "building", acc.id)
        bat = store.add_asset("bat", "battery", acc.id, site.id)
        power = store.add_sensor("power", "kW", timedelta(minutes=15), asset_id=bat.id)
        store.update_asset(bat.id, flex_model={"sensor": power.id, "soc-max": "10 kWh"})
        store.update_asset(site.id, flex_context={"site-power-capacity": "1 MW"})
        store.update_sensor(power.id, attributes={"forecast": {"model": "ridge"}})
        store.update_user(user.id, active=False, password_hash="new secret hash")
        store.update_account(acc.id, name="A2")
    store.delete_asset(site.id)  # no actor: the local admin

    log = store.audit_log(account_id=acc.id, limit=50)
    events = [e.event for e in reversed(log)]
    assert events[0] == f"Created account 'A' (id {acc.id})"
    assert any(
        e.startswith(f"Updated asset 'bat' (id {bat.id}): flex_model changed") for e in events
    )  # noqa: E501
    assert any("flex_context changed" in e for e in events)
    assert any(e.startswith(f"Updated sensor 'power' (id {power.id})") for e in events)
    assert events[-3:] == [
        f"Deleted sensor 'power' (id {power.id}) of asset {bat.id}",
        f"Deleted asset 'bat' (id {bat.id})",
        f"Deleted asset 'site' (id {site.id})",
    ]
    by_alice = [e for e in log if e.active_user_id == 7]
    assert len(by_alice) == 9 and {e.active_user_name for e in by_alice} == {"alice@a.example"}
    assert log[0].active_user_name == "local admin" and log[0].active_user_id is None
    # the flex-model change is recorded whole (old and new), the password hash never
    fm = next(e for e in log if "flex_model" in e.details)
    assert fm.details["flex_model"] == {"old": {}, "new": {"sensor": power.id, "soc-max": "10 kWh"}}
    pw = store.audit_log(user_id=user.id)[0]
    assert pw.details["password_hash"] == {"changed": True}
    assert "new secret hash" not in str(pw.details) + pw.event
    assert pw.details["active"] == {"old": True, "new": False}
    # filters: per asset (sensor changes appear on their asset), per sensor, paging
    assert {e.affected_sensor_id for e in store.audit_log(asset_id=bat.id)} == {None, power.id}
    assert len(store.audit_log(sensor_id=power.id)) == 3
    assert store.audit_log(account_id=acc.id, limit=2, offset=1) == log[1:3]
    # a renamed account is found by its new name; its first name stays taken
    assert store.get_account("A2").id == acc.id and store.list_accounts()[0].name == "A2"
    with pytest.raises(Exception, match="already taken"):
        store.add_account("A")
    # a change that changes nothing records nothing
    n = len(store.audit_log(limit=1000))
    store.update_account(acc.id, name="A2")
    store.update_user(user.id, active=False)
    assert len(store.audit_log(limit=1000)) == n


def test_delete_account_takes_users_assets_and_annotations(store) -> None:  # noqa: ANN001
    acc = store.add_account("Gone")
    keep = store.add_account("Kept")
    store.add_user(acc.id, "x@gone.example")
    asset = store.add_asset("a", "building", acc.id)
    store.add_sensor("s", "kW", timedelta(hours=1), asset_id=asset.id)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store.add_annotation("closed", t0, t0 + timedelta(days=1), account_id=acc.id)
    assert store.delete_account(acc.id) == {"users": 1, "assets": 1}
    assert [a.id for a in store.list_accounts()] == [keep.id]
    assert store.list_users() == [] and store.list_assets() == [] and store.list_sensors() == []
    assert store.list_annotations(account_id=acc.id) == []
    assert store.audit_log(account_id=acc.id)[0].event.startswith("Deleted account 'Gone'")


def test_annotations(store) -> None:  # noqa: ANN001
    acc = store.add_account("A")
    asset = store.add_asset("a", "building", acc.id)
    sensor = store.add_sensor("s", "kW", timedelta(hours=1), asset_id=asset.id)
    t0 = datetime(2026, 12, 25, tzinfo=UTC)
    a1, new1 = store.add_annotation(
        "Christmas", t0, t0 + timedelta(days=1), type="holiday", account_id=acc.id
    )  # noqa: E501
    again, new2 = store.add_annotation(
        "Christmas", t0, t0 + timedelta(days=1), type="holiday", account_id=acc.id
    )  # noqa: E501
    assert new1 and not new2 and again == a1
    outage, _ = store.add_annotation(
        "outage",
        t0 + timedelta(hours=3),
        t0 + timedelta(hours=5),
        type="alert",
        sensor_id=sensor.id,
    )  # noqa: E501
    assert store.list_annotations(sensor_ids=[sensor.id]) == [outage]
    both = store.list_annotations(account_id=acc.id, sensor_ids=[sensor.id])
    assert [a.id for a in both] == [a1.id, outage.id]
    assert store.list_annotations(
        account_id=acc.id, sensor_ids=[sensor.id], start=t0 + timedelta(hours=6)
    ) == [a1]  # noqa: E501
    assert store.list_annotations(account_id=acc.id, types=["alert"]) == []
    with pytest.raises(Exception, match="exactly one"):
        store.add_annotation("x", t0, t0 + timedelta(hours=1), account_id=acc.id, asset_id=asset.id)  # noqa: E501
    with pytest.raises(Exception, match="not after"):
        store.add_annotation("x", t0, t0, asset_id=asset.id)
    with pytest.raises(Exception, match="type 'party'"):
        store.add_annotation("x", t0, t0 + timedelta(hours=1), type="party", asset_id=asset.id)
    store.delete_sensor(sensor.id)  # annotations of a deleted sensor go with it
    assert store.list_annotations(sensor_ids=[sensor.id]) == []
    store.delete_annotation(a1.id)
    assert store.list_annotations(account_id=acc.id) == []
