"""The one place either service reads the wall clock. The cores receive `now` from here.

A clock can start at a chosen instant and/or run faster than real time; both exist for
simulations, soak tests and demos, never for production playback (segments would be listed
before a real player could fetch them in time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int:
        """Now, in microseconds since the Unix epoch."""
        ...


def _real_now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class SystemClock:
    """Wall-clock time, optionally shifted to start at `start_us` and sped up by `speed`.

    `reference_us` is the real instant that maps to `start_us`; processes forked from one
    parent share it and so agree on the simulated time.
    """

    start_us: int | None = None
    speed: float = 1.0
    reference_us: int = field(default_factory=_real_now_us)

    def now_us(self) -> int:
        real = _real_now_us()
        if self.start_us is None and self.speed == 1.0:
            return real
        start = self.reference_us if self.start_us is None else self.start_us
        return start + round((real - self.reference_us) * self.speed)


@dataclass(slots=True)
class ManualClock:
    """A clock that only moves when told to (tests and offline tools)."""

    instant_us: int

    def now_us(self) -> int:
        return self.instant_us

    def advance(self, duration_us: int) -> None:
        self.instant_us += duration_us
