"""API errors and their JSON shape (FlexMeasures' ``{"status": CODE, "message": ...}``)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered with a 4xx status and a message naming the problem."""

    def __init__(
        self,
        http_status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"result": "Rejected", "status": self.code, "message": self.message, **self.extra}


def unauthorized(
    message: str = "Authentication required: send a token in the Authorization header",
) -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "INVALID_SENDER", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def bad_request(message: str, code: str = "INVALID_REQUEST") -> ApiError:
    return ApiError(400, code, message)
