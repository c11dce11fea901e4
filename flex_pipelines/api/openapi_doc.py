"""Every status an operation can answer, in the OpenAPI document.

Besides what a route declares, any operation may answer: 400 (a NUL character, a bad
Content-Length, bad input the library refuses), 413 (a body over the size limit), 422 (a body or
parameter that does not validate) — all from the guard middleware or the validation handler —
and, behind a token, 401 (no, unknown or expired token), 403 (another account's object), 404
(an unknown id) and 429 (the rate limits). Login answers 401 and 429 as well. Schema-driven
fuzzers (``tests/api/test_openapi_statuses.py``) therefore find no undocumented status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "result": {"type": "string"},
        "status": {"type": ["string", "integer"]},
        "message": {"type": "string"},
    },
}
ALWAYS = {
    400: "INVALID_REQUEST: bad input, named in the message",
    413: "PAYLOAD_TOO_LARGE: the request body exceeds the limit",
    422: "UNPROCESSABLE_ENTITY: a field or parameter does not validate",
}
BEHIND_TOKEN = {
    401: "UNAUTHORIZED: no token, or an unknown or expired one",
    403: "INVALID_SENDER: the user may not read or change this",
    404: "NOT_FOUND: an unknown id",
    429: "TOO_MANY_REQUESTS: rate limit; wait for Retry-After seconds",
}
LOGIN = {401: BEHIND_TOKEN[401], 429: BEHIND_TOKEN[429]}
#: operations answering a second success status (created or already there; accepted)
EXTRA_SUCCESS = {"201": ("200", "OK: it existed already"), "200": ("202", "ACCEPTED")}


def _add(responses: dict[str, Any], code: int, text: str) -> None:
    responses.setdefault(
        str(code),
        {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}},
    )


def document_statuses(app: FastAPI) -> None:
    """Make ``app.openapi()`` list every status of every operation (see the module doc)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None and app.openapi_schema.get("x-statuses-documented"):
            return app.openapi_schema
        spec = build()
        for path, ops in spec.get("paths", {}).items():
            for op in ops.values():
                responses = op.setdefault("responses", {})
                for code, text in ALWAYS.items():
                    _add(responses, code, text)
                secured = bool(op.get("security")) or any(
                    p.get("name") == "Authorization" for p in op.get("parameters", [])
                )
                for code, text in (BEHIND_TOKEN if secured else {}).items():
                    _add(responses, code, text)
                if path == "/api/requestAuthToken":
                    for code, text in LOGIN.items():
                        _add(responses, code, text)
                if "annotations" in path and "201" in responses:
                    code, text = EXTRA_SUCCESS["201"]
                    responses.setdefault(code, {"description": text})
                if path.endswith("/trigger") or "/forecasts/" in path:
                    responses.setdefault(
                        "202", {"description": "ACCEPTED (a job is queued or running)"}
                    )  # noqa: E501
        spec["x-statuses-documented"] = True
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
