"""Each request gets its own audit-log actor slot (see :mod:`flex_pipelines.beliefs.audit`).

Plain ASGI, so the slot is set in the request's own context: the authentication dependency and
the handler run on worker threads with copies of that context, which share the slot object, so
the user that authentication puts in it is the actor of the store changes the handler makes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from flex_pipelines.beliefs.audit import close_request_slot, open_request_slot


class AuditActorMiddleware:
    """Open an empty actor slot per HTTP request (filled in by ``current_principal``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _slot, token = open_request_slot()
        try:
            await self.app(scope, receive, send)
        finally:
            close_request_slot(token)
