"""Assets and sensors: list, get, create, patch, delete, with role and account checks."""

from __future__ import annotations

import json

A = "/api/v3_0/assets"
S = "/api/v3_0/sensors"


def test_list_and_get_assets_are_scoped(server):
    with server.client("bob") as c:
        mine = c.get(A).json()
        assert {a["name"] for a in mine} >= {"toy-building", "toy-battery", "toy-solar"}
        assert all(a["account_id"] == server.ids["account"] for a in mine)
        with_public = c.get(A, params={"include_public": "True"}).json()
        assert "NL transmission zone" in {a["name"] for a in with_public}
        battery = c.get(f"{A}/{server.ids['battery']}").json()
        assert battery["flex_model"]["soc-max"] == "450 kWh"
        assert json.loads(battery["attributes"]) == {}
        assert battery["generic_asset_type"]["name"] == "battery"
        tree = c.get(A, params={"root": server.ids["building"], "depth": 1}).json()
        assert {a["name"] for a in tree} == {"toy-building", "toy-battery", "toy-solar"}
        assert c.get(f"{A}/{server.ids['market']}").status_code == 200  # public: readable
        assert c.get(f"{A}/{server.ids['other_asset']}").status_code == 403
        assert c.get(f"{A}/424242").status_code == 404
        assert c.get(A, params={"account_id": server.ids["other_account"]}).status_code == 403
        types = c.get(f"{A}/types").json()
        assert {"battery", "solar", "building"} <= {t["name"] for t in types}
    with server.client("admin") as c:
        everything = c.get(A, params={"all_accessible": "true"}).json()
        assert "carol-site" in {a["name"] for a in everything}


def test_asset_lifecycle_and_roles(server):
    types = {t["name"]: t["id"] for t in server.client("bob").get(f"{A}/types").json()}
    new = {
        "name": "ev charger",
        "generic_asset_type_id": types["one-way_evse"],
        "latitude": 52.0,
        "longitude": 4.3,
        "parent_asset_id": server.ids["building"],
        "flex_model": json.dumps({"soc-max": "60 kWh"}),
    }
    with server.client("bob") as c:
        denied = c.post(A, json=new)
        assert denied.status_code == 403 and "account-admin" in denied.json()["message"]
    with server.client("carol") as c:
        foreign_parent = c.post(A, json=new)
        assert foreign_parent.status_code == 403
        assert (
            c.post(
                A, json={**new, "parent_asset_id": None, "account_id": server.ids["account"]}
            ).status_code
            == 403
        )
    with server.client("alice") as c:
        made = c.post(A, json=new)
        assert made.status_code == 201, made.text
        asset = made.json()
        assert asset["account_id"] == server.ids["account"] and asset["flex_model"] == {
            "soc-max": "60 kWh"
        }
        patched = c.patch(
            f"{A}/{asset['id']}",
            json={
                "name": "EV charger 1",
                "attributes": json.dumps({"brand": "x"}),
                "flex_context": {"site-power-capacity": "100 kW"},
            },
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["name"] == "EV charger 1"
        assert json.loads(patched.json()["attributes"]) == {"brand": "x"}
        assert c.patch(f"{A}/{asset['id']}", json={"account_id": 3}).status_code == 422
        assert c.patch(f"{A}/{asset['id']}", json={"timezone": "Mars/Olympus"}).status_code == 400
        assert c.patch(f"{A}/{asset['id']}", json={"latitude": 91}).status_code == 422
        assert c.patch(f"{A}/{server.ids['market']}", json={"name": "x"}).status_code == 403
        assert c.patch(f"{A}/{server.ids['other_asset']}", json={"name": "x"}).status_code == 403
        assert c.post(A, json={"name": "no type"}).status_code == 400
    with server.client("bob") as c:
        assert c.delete(f"{A}/{asset['id']}").status_code == 403
    with server.client("alice") as c:
        gone = c.delete(f"{A}/{asset['id']}")
        assert gone.status_code == 204
        assert c.get(f"{A}/{asset['id']}").status_code == 404


def test_public_assets_are_admin_only(server):
    with server.client("alice") as c:
        r = c.post(
            A, json={"name": "zone", "generic_asset_type": "transmission zone", "account_id": None}
        )
        assert r.status_code == 403 and "public" in r.json()["message"]
    with server.client("admin") as c:
        r = c.post(
            A, json={"name": "zone", "generic_asset_type": "transmission zone", "account_id": None}
        )
        assert r.status_code == 201 and r.json()["account_id"] is None
        assert c.delete(f"{A}/{r.json()['id']}").status_code == 204


def test_sensor_lifecycle_and_roles(server):
    with server.client("bob") as c:
        listed = c.get(S).json()
        assert server.ids["power_sensor"] in {s["id"] for s in listed}
        assert server.ids["other_sensor"] not in {s["id"] for s in listed}
        by_asset = c.get(S, params={"asset_id": server.ids["battery"]}).json()
        assert {s["name"] for s in by_asset} == {"discharging", "state of charge"}
        one = c.get(f"{S}/{server.ids['power_sensor']}").json()
        assert (
            one["event_resolution"] == "PT15M" and one["generic_asset_id"] == server.ids["battery"]
        )
        assert c.get(f"{S}/{server.ids['other_sensor']}").status_code == 403
        assert c.get(f"{S}/{server.ids['price_sensor']}").status_code == 200
        new = {
            "name": "temperature",
            "event_resolution": "PT1H",
            "unit": "°C",
            "generic_asset_id": server.ids["building"],
        }
        assert c.post(S, json=new).status_code == 403
    with server.client("alice") as c:
        made = c.post(S, json={**new, "attributes": json.dumps({"a": 1})})
        assert made.status_code == 201, made.text
        sid = made.json()["id"]
        assert made.json()["timezone"] == "Europe/Amsterdam"
        assert c.post(S, json={**new, "unit": "zorkmids"}).status_code == 400
        assert c.post(S, json={**new, "event_resolution": "soon"}).status_code == 400
        assert (
            c.post(S, json={**new, "generic_asset_id": server.ids["other_asset"]}).status_code
            == 403
        )
        assert c.post(S, json={**new, "generic_asset_id": 99999}).status_code == 404
        patched = c.patch(f"{S}/{sid}", json={"name": "indoor temperature", "attributes": {"b": 2}})
        assert patched.status_code == 200 and json.loads(patched.json()["attributes"]) == {"b": 2}
        assert c.patch(f"{S}/{sid}", json={"generic_asset_id": 1}).status_code == 422
        assert c.patch(f"{S}/{server.ids['price_sensor']}", json={"name": "x"}).status_code == 403
        assert c.delete(f"{S}/{server.ids['other_sensor']}").status_code == 403
        assert c.delete(f"{S}/{sid}").status_code == 204
        assert c.get(f"{S}/{sid}").status_code == 404
