"""The engine's errors: kinds of the shared tree (common/errors.py), without HTTP status."""

from __future__ import annotations

from common.errors import Invalid, Malformed, NotFound, NotReady

__all__ = ["BadRequest", "NotFound", "NotOnAir", "PlanError"]


class PlanError(Invalid):
    """A plan, channel or asset index is not valid. Names where, which field, and why."""

    field: str

    def __init__(self, where: str, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.where = where
        self.args = (f"{where}: {field}: {reason}",)

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.reason}"


class BadRequest(Malformed):
    """A request parameter is malformed."""


class NotOnAir(NotReady):
    """The channel's timeline does not yet hold a full window (before its checkpoint + window)."""

    def __init__(self, detail: str, until_us: int) -> None:
        super().__init__(None, detail, until_us)
