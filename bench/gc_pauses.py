"""Benchmark: the cyclic garbage collector's pauses in an engine, Python's thresholds against
the engine's (common.memory.GC_THRESHOLDS), in-process.

Reads every plan and asset index of a schedule database (made by bench/scale.py --database)
and, in a fresh process for each setting, does what an engine does: compiles every plan (a
cold start), collects and freezes (common.memory.freeze_long_lived_objects), then asks for every
channel's media playlists through the render cache, live and then shifted by 6 hours (the
cache grows from 10,000 to 20,000 windows). gc callbacks time every collection; it prints,
per setting and phase, how many took 10 ms or more, the longest and their total.

    .venv/bin/python bench/gc_pauses.py --database /tmp/library.db

Bounded: one pass over the channels per phase, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import sys
import time
from pathlib import Path

from common.instants import LATEST_US
from common.memory import GC_THRESHOLDS, freeze_long_lived_objects
from engine.channels import Channels
from engine.model import US_PER_S, AssetIndex, AssetKey, Plan
from engine.timeline import compile_timeline
from schedule_api.service.feed import Cursor, PageQuery, changed_plans
from schedule_api.store import Store
from schedule_api.store.db import create_engine

SHIFT_US = 6 * 3600 * US_PER_S
PAUSE_MS = 10.0
SETTINGS = {"python": (700, 10, 10), "engine": GC_THRESHOLDS}


async def _load(database: Path) -> tuple[list[Plan], dict[AssetKey, AssetIndex]]:
    engine = create_engine(f"sqlite:///{database}")
    store = Store(engine)
    plans: list[Plan] = []
    try:
        after = Cursor()
        while True:  # every block: the plans as stored
            page = await changed_plans(store, PageQuery(0, None, after, 1000), LATEST_US)
            plans.extend(page.plans)
            if page.next_after is None:
                break
            after = Cursor(page.next_after)
        keys = set().union(*(plan.asset_keys() for plan in plans))
        assets = {key: await store.index(key) for key in keys}
    finally:
        await engine.dispose()
    return plans, assets


class Pauses:
    """Collections of PAUSE_MS or more, by phase."""

    def __init__(self) -> None:
        self.phase = ""
        self.by_phase: dict[str, list[float]] = {}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = (time.perf_counter() - self._started) * 1000
        if took >= PAUSE_MS:
            self.by_phase.setdefault(self.phase, []).append(took)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            phase: {"pauses": len(p), "max_ms": round(max(p), 1), "total_ms": round(sum(p))}
            for phase, p in self.by_phase.items()
        }


def measure(setting: str, database: Path) -> dict[str, object]:
    plans, assets = asyncio.run(_load(database))
    freeze_long_lived_objects()  # what was loaded: an engine receives it over HTTP instead
    gc.set_threshold(*SETTINGS[setting])
    pauses = Pauses()
    gc.callbacks.append(pauses)
    pauses.phase = "compile"
    started = time.perf_counter()
    channels = Channels({plan.channel.id: compile_timeline(plan, assets) for plan in plans})
    compiled_s = time.perf_counter() - started
    pauses.phase = "freeze"
    freeze_long_lived_objects()
    for phase, shift_us in (("live", 0), ("shifted", SHIFT_US)):
        pauses.phase = phase
        for channel_id in channels.ids():
            for variant in ("720p", "360p", "180p"):
                channels.media_playlist(channel_id, variant, time.time_ns() // 1000, shift_us)
    gc.callbacks.remove(pauses)
    return {
        "setting": setting,
        "thresholds": SETTINGS[setting],
        "channels": len(channels),
        "compile_s": round(compiled_s, 2),
        "cache_windows": len(channels.cache),
        f"collections_of_{PAUSE_MS:g}_ms_or_more": pauses.summary(),
    }


def _child(setting: str, database: Path, results: multiprocessing.Queue[object]) -> None:
    results.put(measure(setting, database))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", type=Path, required=True)
    args = parser.parse_args()
    if not args.database.is_file():
        print(f"{args.database} does not exist: make it with bench/scale.py --database")
        return 2
    context = multiprocessing.get_context("spawn")  # a fresh heap for each setting
    for setting in SETTINGS:
        results: multiprocessing.Queue[object] = context.Queue()
        child = context.Process(target=_child, args=(setting, args.database, results))
        child.start()
        print(json.dumps(results.get()), flush=True)
        child.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
