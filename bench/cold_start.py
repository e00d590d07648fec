"""Benchmark: where an engine's cold start goes, per page of the plan feed, in one process.

Reads one page of plans from a schedule database (made by bench/scale.py --database), and
times each step an engine's first sync takes: the store reading the plans, the service
writing them as JSON (schedule_api.service.feed.page_items), the engine parsing them
(engine.feed_format.PlanFeed), and compiling them against their asset indexes; and the
memory the compiled timelines hold (allocated while compiling them again, by tracemalloc), with
layouts shared (engine/layout.py) and, as the baseline, with every group given its own, each
in a fresh process.

    .venv/bin/python bench/cold_start.py --database /tmp/library.db [--channels 1000]
    .venv/bin/python bench/cold_start.py --database /tmp/realistic.db --channels 11000 \
        --lookahead-hours 6

Bounded: one page, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from common.instants import LATEST_US, US_PER_S
from engine import layout
from engine.feed_format import PlanFeed, plan_feed_page
from engine.timeline import compile_timeline
from schedule_api.domain.horizon import feed_instant_us
from schedule_api.service.feed import Cursor, PageQuery, changed_plans, page_items
from schedule_api.store import Store
from schedule_api.store.db import create_engine


class _Unshared(dict[Any, Any]):
    """The baseline: a layout memo that keeps nothing (every group lays out its own)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


async def measure(database: Path, channels: int, lookahead_h: int | None) -> dict[str, float]:
    engine = create_engine(f"sqlite:///{database}")
    store = Store(engine)
    try:
        started = time.perf_counter()
        horizon = 2**62  # the feed's instant: every block, the plans as stored
        if lookahead_h is not None:  # what an engine following the feed holds
            stamp = database.with_suffix(".start")  # bench/realistic.py's clock
            now_us = int(stamp.read_text()) if stamp.exists() else time.time_ns() // 1000
            horizon = feed_instant_us(now_us, lookahead_h * 3600 * US_PER_S)
        page = await changed_plans(store, PageQuery(0, None, Cursor(), channels), horizon)
        read = time.perf_counter()
        whole = page_items(page, LATEST_US)  # no plan in pieces
        texts = [item.text for item in whole if item.kind == "plan"]
        body = plan_feed_page(page.revision, horizon // 1000, texts, [], [], None)
        written = time.perf_counter()
        plans = [model.to_core() for model in PlanFeed.model_validate_json(body).plans]
        parsed = time.perf_counter()  # as the engine's plan sync parses it
        keys = set().union(*(plan.asset_keys() for plan in plans))
        assets = {key: await store.index(key) for key in keys}
        compiling = time.perf_counter()
        timelines = [compile_timeline(plan, assets) for plan in plans]
        compiled = time.perf_counter()
        groups = sum(len(t.groups) for t in timelines)
        del timelines  # and the layouts only they used: the second pass counts them too
        tracemalloc.start()
        held = [compile_timeline(plan, assets) for plan in plans]
        timelines_mb = tracemalloc.get_traced_memory()[0] / 1_048_576
        tracemalloc.stop()
        del held
    finally:
        await engine.dispose()
    return {
        "channels": len(plans),
        "programs_per_channel": sum(len(p.blocks) for p in plans) / max(len(plans), 1),
        "store_read_s": read - started,
        "json_write_s": written - read,
        "engine_parse_s": parsed - written,
        "compile_s": compiled - compiling,
        "timelines_mb": timelines_mb,
        "groups": groups,
    }


def _child(arguments: tuple[Path, int, int | None, bool], results: Any) -> None:
    database, channels, lookahead_h, shared = arguments
    if not shared:
        layout._LAYOUTS = _Unshared()  # type: ignore[assignment]
    figures = asyncio.run(measure(database, channels, lookahead_h))
    results.put({"layouts": "shared" if shared else "unshared (baseline)", **figures})


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--lookahead-hours", type=int, default=None)
    args = parser.parse_args()
    if not args.database.is_file():
        print(f"{args.database} does not exist: make it with bench/scale.py --database")
        return 2
    context = multiprocessing.get_context("spawn")  # a fresh heap for each setting
    for shared in (True, False):
        results: Any = context.Queue()
        setting = (args.database, args.channels, args.lookahead_hours, shared)
        child = context.Process(target=_child, args=(setting, results))
        child.start()
        figures = results.get()
        child.join()
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
