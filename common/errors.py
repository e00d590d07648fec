"""One exception tree for both services, by kind of failure (as httpx keeps one hierarchy).

An error names the field it is about (a request field such as `events.3.start`, a plan
field such as `channel.window`, or None) and the reason. It carries no HTTP status: the
kinds are mapped to problem+json responses in one place, common/problem.py.
"""

from __future__ import annotations

from typing import Any


class VChannelError(Exception):
    """Base of every error either service raises on purpose."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason

    @property
    def detail(self) -> str:
        """The whole message, as a problem document's `detail`."""
        return str(self)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled whole (field, reason and any attribute of a kind): errors come back from
        the playlist parsing process like any other value."""
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(
    kind: type[VChannelError], args: tuple[Any, ...], state: dict[str, Any]
) -> VChannelError:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class Malformed(VChannelError):
    """A request parameter cannot be read at all (not a number, not a date, missing)."""


class Unauthorized(VChannelError):
    """The request lacks the credentials the operation needs."""


class NotFound(VChannelError):
    """What the request names does not exist."""


class Conflict(VChannelError):
    """The request clashes with the current state (an id taken, an overlap, the lock
    horizon, something still in use)."""


class Invalid(VChannelError):
    """The request reads well but asks for something that cannot be (a value out of its
    rules, an asset that cannot air on the channel)."""


class NotReady(VChannelError):
    """Not available yet; `until_us` is when it will be (microseconds since the epoch)."""

    def __init__(self, field: str | None, reason: str, until_us: int) -> None:
        super().__init__(field, reason)
        self.until_us = until_us
