"""Instants as integer microseconds since the Unix epoch, and their text forms.

Both services keep time as integers (exact, no float drift) and print it in one form:
RFC 3339 / ISO 8601 with milliseconds and a zone (`2026-11-23T18:00:02.000Z`), the form
RFC 8216 4.3.2.6 asks for in EXT-X-PROGRAM-DATE-TIME.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

US_PER_S = 1_000_000
"""Microseconds per second."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = [
    "EPOCH",
    "LATEST_US",
    "RANGE_TEXT",
    "US_PER_S",
    "UTC",
    "format_date",
    "from_us",
    "in_range",
    "to_us",
]


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact, no float)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def from_us(instant_us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime (exact, no float)."""
    return EPOCH + timedelta(microseconds=instant_us)


@functools.lru_cache(maxsize=65_536)
def format_date(instant_us: int) -> str:
    """ISO 8601 with milliseconds and a zone (RFC 8216 4.3.2.6): 2026-11-23T18:00:02.000Z.

    Remembered for the latest instants: every variant of a channel lists the same dates."""
    m = EPOCH + timedelta(microseconds=instant_us)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


LATEST_US = (datetime(2286, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
"""Instants the services take and list lie in [0, LATEST_US): from the Unix epoch to the end
of 2285 (Unix milliseconds stay below 10^13, and every instant prints as RFC 3339)."""
RANGE_TEXT = "between 1970-01-01T00:00:00Z and 2285-12-31T23:59:59Z"


def in_range(instant_us: int) -> bool:
    """Whether an instant is one the services take (0 <= instant < LATEST_US)."""
    return 0 <= instant_us < LATEST_US
