"""The engine's exception tree. The HTTP layer maps each to an RFC 9457 problem response."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    status = 500
    title = "Engine error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PlanError(EngineError):
    """A plan, channel or asset index is not valid. Names where, which field, and why."""

    status = 422
    title = "Invalid plan"

    def __init__(self, where: str, field: str, reason: str) -> None:
        super().__init__(f"{where}: {field}: {reason}")
        self.where = where
        self.field = field
        self.reason = reason


class BadRequest(EngineError):
    """A request parameter is malformed."""

    status = 400
    title = "Bad request"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(EngineError):
    """Unknown channel or rendition."""

    status = 404
    title = "Not found"


class NotOnAir(EngineError):
    """The channel's timeline does not yet hold a full window (before its checkpoint + window)."""

    status = 503
    title = "Channel not on air yet"

    def __init__(self, detail: str, until_us: int) -> None:
        super().__init__(detail)
        self.until_us = until_us
