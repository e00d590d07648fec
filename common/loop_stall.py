"""How long the event loop was kept from running: a probe that asks to wake every
PROBE_INTERVAL_S and measures how late it wakes. Both services export the worst stall (since
start) and a histogram of stalls, so that work that blocks the loop shows up in /metrics
instead of as unexplained latency."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram

PROBE_INTERVAL_S = 0.05
"""How often the probe asks to run."""
STALL_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LoopStalls:
    """The probe's figures, in a registry of the service's."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.worst_s = 0.0
        self.worst = Gauge(
            f"{prefix}_event_loop_worst_stall_seconds",
            "The longest the event loop was kept from running since the process started",
            registry=registry,
        )
        self.stalls = Histogram(
            f"{prefix}_event_loop_stall_seconds",
            "How late the event loop ran a probe that asked to run every 50 ms",
            buckets=STALL_BUCKETS_S,
            registry=registry,
        )

    def record(self, late_s: float) -> None:
        self.stalls.observe(late_s)
        if late_s > self.worst_s:
            self.worst_s = late_s
            self.worst.set(late_s)

    async def probe(self) -> None:
        """Run until cancelled."""
        while True:
            asked = time.monotonic()
            await asyncio.sleep(PROBE_INTERVAL_S)
            self.record(max(0.0, time.monotonic() - asked - PROBE_INTERVAL_S))


def watch_loop(stalls: LoopStalls) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context that runs the probe while the application runs."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(stalls.probe())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context
