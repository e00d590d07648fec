"""The schedule service's exception tree; one middleware maps it to problem+json (RFC 9457)."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered with a problem document; `field` names what was wrong, if anything."""

    status = 400
    title = "Bad request"

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class BadRequest(ApiError):
    status = 400
    title = "Bad request"


class Unauthorized(ApiError):
    status = 401
    title = "Unauthorized"


class NotFound(ApiError):
    status = 404
    title = "Not found"


class Conflict(ApiError):
    status = 409
    title = "Conflict"


class Unprocessable(ApiError):
    status = 422
    title = "Unprocessable content"
