"""Memory policy of engine processes: when the cyclic garbage collector runs.

Engine processes hold millions of long-lived objects (timelines, asset indexes, the render
cache) that have no reference cycles. Left to Python's default thresholds, full collections
walk them all for hundreds of milliseconds; so engine processes collect fully only at their
own moments and freeze what survives (bench/gc_pauses.py measures both policies).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from aiohttp import web


def freeze_long_lived_objects() -> None:
    """Move every object alive now out of the cyclic garbage collector's sight.

    Timelines and asset indexes are millions of objects with 10,000 channels, and they live
    until a plan changes. Left in the collector's oldest generation, each full collection
    walks them all: pauses of half a second under load (seen in bench/scale.py). Frozen, they
    are still freed by reference counting when replaced (they hold no reference cycles); only
    cyclic garbage among objects alive at this moment would stay, so the collection first
    clears what is garbage already. The engine calls this after start-up, after each plan
    sync that changed something, and every FULL_COLLECTION_INTERVAL_S.
    """
    gc.collect()
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
            freeze_long_lived_objects()

    task = asyncio.create_task(collect())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
