"""Benchmark: where an engine's cold start goes, per page of the plan feed, in one process.

Reads one page of plans from a schedule database (made by bench/scale.py --database), and
times each step an engine's first sync takes: the store reading the plans, the service
writing them as JSON (schedule_api.service.feed.page_items), the engine parsing them
(engine.feed_format.PlanFeed), and compiling them against their asset indexes.

    .venv/bin/python bench/cold_start.py --database /tmp/library.db [--channels 1000]

Bounded: one page, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from engine.feed_format import PlanFeed, plan_feed_page
from engine.timeline import compile_timeline
from schedule_api.service.feed import PageQuery, changed_plans, page_items
from schedule_api.store import Store
from schedule_api.store.db import create_engine


async def measure(database: Path, channels: int) -> dict[str, float]:
    engine = create_engine(f"sqlite:///{database}")
    store = Store(engine)
    try:
        started = time.perf_counter()
        horizon = 2**62  # every block: the plans as stored
        page = await changed_plans(store, PageQuery(0, None, "", channels), horizon)
        read = time.perf_counter()
        texts = [text for _, kind, text in page_items(page) if kind == "plan"]
        body = plan_feed_page(page.revision, horizon // 1000, texts, [], [], None)
        written = time.perf_counter()
        plans = [model.to_core() for model in PlanFeed.model_validate_json(body).plans]
        parsed = time.perf_counter()  # as the engine's plan sync parses it
        keys = set().union(*(plan.asset_keys() for plan in plans))
        assets = {key: await store.index(key) for key in keys}
        compiling = time.perf_counter()
        for plan in plans:
            compile_timeline(plan, assets)
        compiled = time.perf_counter()
    finally:
        await engine.dispose()
    return {
        "channels": len(plans),
        "programs_per_channel": sum(len(p.blocks) for p in plans) / max(len(plans), 1),
        "store_read_s": read - started,
        "json_write_s": written - read,
        "engine_parse_s": parsed - written,
        "compile_s": compiled - compiling,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--channels", type=int, default=1000)
    args = parser.parse_args()
    if not args.database.is_file():
        print(f"{args.database} does not exist: make it with bench/scale.py --database")
        return 2
    figures = asyncio.run(measure(args.database, args.channels))
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
