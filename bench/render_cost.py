"""Benchmark: CPU cost of the engine's render cache, in-process (no HTTP).

Prints microseconds per media playlist request when the window is unchanged (a cache hit) and
when it has slid by one segment (only the new segment is rendered), for the sample TS channel,
live and time-shifted by 6 hours.

    .venv/bin/python bench/render_cost.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import sys
import time

from common.instants import to_us
from engine.app import load_timelines
from engine.channels import Channels
from vchannel.samples import CHECKPOINT, PLANS_DIR


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    channels = Channels(load_timelines(PLANS_DIR))
    start = to_us(CHECKPOINT) + 86_400_000_000
    began = time.perf_counter()
    for number in range(calls):
        channels.media_playlist("sample-ts", "360p", start + number * 2_000_000)
    slide = (time.perf_counter() - began) / calls * 1e6
    later = start + calls * 2_000_000
    began = time.perf_counter()
    for _ in range(calls):
        channels.media_playlist("sample-ts", "360p", later)
    hit = (time.perf_counter() - began) / calls * 1e6
    shift = 6 * 3600 * 1_000_000
    began = time.perf_counter()
    for number in range(calls):
        channels.media_playlist("sample-ts", "360p", start + number * 2_000_000, shift)
    shifted_slide = (time.perf_counter() - began) / calls * 1e6
    began = time.perf_counter()
    for _ in range(calls):
        channels.media_playlist("sample-ts", "360p", later, shift)
    shifted_hit = (time.perf_counter() - began) / calls * 1e6
    print(f"window slid by one segment: {slide:6.1f} us per request")
    print(f"same window (cache hit):    {hit:6.1f} us per request")
    print(f"6 h time-shift, slid:       {shifted_slide:6.1f} us per request")
    print(f"6 h time-shift, cache hit:  {shifted_hit:6.1f} us per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
