"""FlexMeasures 1.0.1's API v3: every method and path its route definitions register (53).

Source: the ``flexmeasures==1.0.1`` wheel, ``flexmeasures/api/v3_0/{accounts,assets,deprecated,
health,jobs,public,sensors,sources,users}.py``: each ``@route(path, methods=[...])`` of the
``FlaskView`` classes registered in ``flexmeasures/api/v3_0/__init__.py`` (``register_at``),
joined to the class's ``route_base`` under ``/api/v3_0`` (a route without ``methods`` is GET).
FlexMeasures' ``<id>`` / ``<uuid>`` are written ``{id}`` / ``{uuid}`` here.

``NOT_APPLICABLE`` are the routes answered 410 NOT_APPLICABLE with the reason (docs/api.md, "Not applicable
here"): FlexMeasures' web-UI chart spec and UI preferences.
"""

from __future__ import annotations

FLEXMEASURES_VERSION = "1.0.1"

ROUTES: list[tuple[str, str]] = [
    ("GET", "/api/v3_0/accounts"),
    ("POST", "/api/v3_0/accounts"),
    ("GET", "/api/v3_0/accounts/{id}"),
    ("PATCH", "/api/v3_0/accounts/{id}"),
    ("GET", "/api/v3_0/accounts/{id}/auditlog"),
    ("POST", "/api/v3_0/accounts/{id}/annotations"),
    ("GET", "/api/v3_0/assets/types"),
    ("GET", "/api/v3_0/assets"),
    ("GET", "/api/v3_0/assets/{id}/sensors"),
    ("GET", "/api/v3_0/assets/public"),
    ("POST", "/api/v3_0/assets"),
    ("GET", "/api/v3_0/assets/{id}"),
    ("PATCH", "/api/v3_0/assets/{id}"),
    ("DELETE", "/api/v3_0/assets/{id}"),
    ("GET", "/api/v3_0/assets/{id}/chart"),
    ("GET", "/api/v3_0/assets/{id}/chart_data"),
    ("GET", "/api/v3_0/assets/{id}/chart_annotations"),
    ("GET", "/api/v3_0/assets/{id}/auditlog"),
    ("GET", "/api/v3_0/assets/{id}/jobs"),
    ("POST", "/api/v3_0/assets/default_asset_view"),
    ("POST", "/api/v3_0/assets/keep_legends_below_graphs"),
    ("POST", "/api/v3_0/assets/{id}/schedules/trigger"),
    ("GET", "/api/v3_0/assets/{id}/kpis"),
    ("POST", "/api/v3_0/assets/{id}/annotations"),
    ("POST", "/api/v3_0/assets/{id}/copy"),
    ("GET", "/api/v3_0/sensors/data"),
    ("POST", "/api/v3_0/sensors/data"),
    ("GET", "/api/v3_0/health/ready"),
    ("GET", "/api/v3_0/jobs/{uuid}"),
    ("GET", "/api/v3_0"),
    ("GET", "/api/v3_0/sensors"),
    ("POST", "/api/v3_0/sensors/{id}/data/upload"),
    ("POST", "/api/v3_0/sensors/{id}/data"),
    ("GET", "/api/v3_0/sensors/{id}/data"),
    ("POST", "/api/v3_0/sensors/{id}/schedules/trigger"),
    ("GET", "/api/v3_0/sensors/{id}/schedules/{uuid}"),
    ("GET", "/api/v3_0/sensors/{id}"),
    ("POST", "/api/v3_0/sensors"),
    ("PATCH", "/api/v3_0/sensors/{id}"),
    ("DELETE", "/api/v3_0/sensors/{id}"),
    ("DELETE", "/api/v3_0/sensors/{id}/data"),
    ("GET", "/api/v3_0/sensors/{id}/stats"),
    ("GET", "/api/v3_0/sensors/{id}/status"),
    ("POST", "/api/v3_0/sensors/{id}/forecasts/trigger"),
    ("GET", "/api/v3_0/sensors/{id}/forecasts/{uuid}"),
    ("POST", "/api/v3_0/sensors/{id}/annotations"),
    ("GET", "/api/v3_0/sources"),
    ("GET", "/api/v3_0/users"),
    ("POST", "/api/v3_0/users"),
    ("GET", "/api/v3_0/users/{id}"),
    ("PATCH", "/api/v3_0/users/{id}"),
    ("PATCH", "/api/v3_0/users/{id}/password-reset"),
    ("GET", "/api/v3_0/users/{id}/auditlog"),
]

NOT_APPLICABLE: set[tuple[str, str]] = {
    ("GET", "/api/v3_0/assets/{id}/chart"),
    ("POST", "/api/v3_0/assets/default_asset_view"),
    ("POST", "/api/v3_0/assets/keep_legends_below_graphs"),
}
