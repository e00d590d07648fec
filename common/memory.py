"""Memory policy of service processes: when the cyclic garbage collector runs.

Engine processes hold millions of long-lived objects (timelines, asset indexes, the render
cache) that have no reference cycles; the schedule service holds compiled timelines of long
schedules and churns through hundreds of thousands of event rows while rules fill. Left to
Python's default thresholds, full collections walk them all for hundreds of milliseconds
(150 ms in the schedule service while four 720-hour rules fill: the event-loop stall that
tests/schedule_api/test_long_schedules.py measures); so both services collect fully only at
their own moments and freeze what survives (bench/gc_pauses.py measures both policies).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from aiohttp import web


def freeze_long_lived_objects(full: bool = False) -> None:
    """Move every object alive now out of the cyclic garbage collector's sight.

    Timelines and asset indexes are millions of objects with 10,000 channels, and they live
    until a plan changes. Left in the collector's oldest generation, each full collection
    walks them all: pauses of half a second under load (seen in bench/scale.py). Frozen, they
    are still freed by reference counting when replaced (they hold no reference cycles). The
    young generations are collected first, so short-lived cyclic garbage is not frozen; a
    full collection (`full`) walks every object not frozen yet, which after a cold start is
    all of them (over 600 ms with 11,000 channels, bench/realistic.py), so it runs only
    every FULL_COLLECTION_INTERVAL_S, when little has accumulated since the last freeze. The
    engine calls this after start-up, after each plan sync that changed something, and
    (with `full`) every FULL_COLLECTION_INTERVAL_S.
    """
    gc.collect(1 if not full else 2)
    gc.freeze()


GC_THRESHOLDS = (700, 10, 1_000_000)
"""The cyclic garbage collector's thresholds in engine processes: Python's young generations
(700, 10), and no automatic full collections (Python's third threshold is 10).

The render cache holds about twenty tracked objects per window (the window, its slots, the
renderings) for seconds, and a cold start compiles millions of timeline objects. While either
grows, Python collects its oldest generation each time that generation has grown by a
quarter, walking all of it: with 10,000 channels, 8 collections of up to about 220 ms while
compiling and pauses of up to about 80 ms when a time-shift across every channel doubles the
cache (bench/gc_pauses.py; longer under HTTP load, where they put bench/scale.py's shifted
p99 at 137-198 ms). Nothing the engine keeps has reference cycles; young collections still
free short-lived cyclic garbage, and freeze_long_lived_objects makes the full collection at
the engine's own moments."""
FULL_COLLECTION_INTERVAL_S = 600
"""How often an engine process collects fully (and freezes what survives) when no plan
change made it do so: the safety net for cyclic garbage that outlived the young collections."""


def tune_garbage_collector() -> None:
    """Set GC_THRESHOLDS (for engine processes; not for tests that share one interpreter)."""
    gc.set_threshold(*GC_THRESHOLDS)


async def collect_periodically(app: web.Application) -> AsyncIterator[None]:
    async def collect() -> None:
        while True:
            await asyncio.sleep(FULL_COLLECTION_INTERVAL_S)
            freeze_long_lived_objects(full=True)

    task = asyncio.create_task(collect())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
