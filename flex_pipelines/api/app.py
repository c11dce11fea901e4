"""The FastAPI app: FlexMeasures' v3 API over a belief store.

``create_app(store_url)`` opens the store (one per process; DuckDB allows one writer), creates
the API tables, starts the job worker and serves OpenAPI at ``/openapi.json`` with docs at
``/api/docs``. Every error a client can cause is a 4xx with ``{"status", "message"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flex_pipelines.api.errors import ApiError, forbidden
from flex_pipelines.api.jobs import JobManager
from flex_pipelines.api.runners import RUNNERS
from flex_pipelines.api.state import FLEXMEASURES_COMPAT_VERSION, ApiSettings, ApiState
from flex_pipelines.api.tables import ensure_api_tables
from flex_pipelines.api.writer import BeliefWriter
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.errors import FlexPipelinesError, NotFoundError
from flex_pipelines.service.access import AccessDenied

log = logging.getLogger(__name__)
_JSON = [(b"content-type", b"application/json")]


class GuardMiddleware:
    """Size limit, NUL-byte guard and the FlexMeasures-Version header, as plain ASGI."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"flexmeasures-version", FLEXMEASURES_COMPAT_VERSION.encode()))
                message = {**message, "headers": headers}
            await send(message)

        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            await _reject(
                send_with_version, 400, "INVALID_REQUEST", "the request holds a NUL character"
            )
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body
            except ValueError:
                await _reject(
                    send_with_version, 400, "INVALID_REQUEST", "Content-Length is not a number"
                )
                return
            if too_big:
                await _reject(
                    send_with_version,
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"request body of {int(declared)} bytes exceeds the limit of {self.max_body} bytes",
                )
                return
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    await _reject(
                        send_with_version,
                        413,
                        "PAYLOAD_TOO_LARGE",
                        f"request body exceeds the limit of {self.max_body} bytes",
                    )
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            if b"\\u0000" in body or b"\x00" in body:
                await _reject(
                    send_with_version,
                    400,
                    "INVALID_REQUEST",
                    "the request body holds a NUL character",
                )
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_version)
            return
        await self.app(scope, receive, send_with_version)


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"result": "Rejected", "status": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        if err.get("type") == "json_invalid":
            parts.append(f"malformed JSON: {err.get('ctx', {}).get('error', err.get('msg'))}")
        else:
            parts.append(f"{loc or 'body'}: {err.get('msg')}")
    return "; ".join(parts)


def create_app(
    store: BeliefStore | str,
    settings: ApiSettings | None = None,
    *,
    start_worker: bool = True,
) -> FastAPI:
    """The API app over a store (an open :class:`BeliefStore` or a store URL)."""
    from flex_pipelines.api import (
        routes_annotations,
        routes_asset_data,
        routes_assets,
        routes_audit,
        routes_forecast_report,
        routes_jobs,
        routes_meta,
        routes_misc,
        routes_sensors,
        routes_users,
    )
    from flex_pipelines.api.actor import AuditActorMiddleware
    from flex_pipelines.api.openapi_doc import document_statuses

    settings = settings or ApiSettings()
    if isinstance(store, str):
        from flex_pipelines.beliefs import open_store

        store = open_store(store)
    ensure_api_tables(store)
    state = ApiState(store, settings)
    state.jobs = JobManager(state, RUNNERS)
    state.writer = BeliefWriter(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_worker:
            state.jobs.start()  # type: ignore[union-attr]
        yield
        state.jobs.stop()  # type: ignore[union-attr]

    app = FastAPI(
        title="FlexPipelines API",
        version=FLEXMEASURES_COMPAT_VERSION,
        description=(
            "FlexMeasures' API v3 over the FlexPipelines belief store. Authenticate with "
            "POST /api/requestAuthToken and send the token in the Authorization header."
        ),
        docs_url="/api/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.api = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.http_status, headers=exc.headers)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(
            {"result": "Rejected", "status": "NOT_FOUND", "message": str(exc)}, status_code=404
        )

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> JSONResponse:
        err = forbidden(str(exc))
        return JSONResponse(err.body(), status_code=err.http_status)

    @app.exception_handler(FlexPipelinesError)
    async def _bad_input(request: Request, exc: FlexPipelinesError) -> JSONResponse:
        return JSONResponse(
            {"result": "Rejected", "status": "INVALID_REQUEST", "message": str(exc)},
            status_code=400,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {
                "result": "Rejected",
                "status": "UNPROCESSABLE_ENTITY",
                "message": _validation_message(exc),
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"result": "Rejected", "status": exc.status_code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {
                "result": "Rejected",
                "status": "SERVER_ERROR",
                "message": f"internal error ({type(exc).__name__})",
            },
            status_code=500,
        )

    # routes_misc first: its literal paths (/assets/public, /sensors/data) before /{id} ones
    for module in (
        routes_misc,
        routes_meta,
        routes_users,
        routes_audit,
        routes_annotations,
        routes_asset_data,
    ):
        app.include_router(module.router)
    for module in (routes_assets, routes_sensors, routes_jobs, routes_forecast_report):
        app.include_router(module.router)
    document_statuses(app)
    app.add_middleware(AuditActorMiddleware)
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
