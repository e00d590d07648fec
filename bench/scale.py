"""Benchmark: how many channels one engine carries, fed by a real schedule service.

Builds a schedule database (SQLite) with synthetic assets (2-hour, 3-rendition HLS VOD indexes
of 2 s segments; no media is fetched, players are not involved) and channels that each play
a day of 2-hour programs that began 8 hours ago. Then starts the schedule service and an
engine following its plan feed, both real processes on 127.0.0.1, and prints:

- ready: seconds from the engine's start until /health reports every channel;
- rss_mb: the engine's resident memory then (its processes summed, so pages the forked
  workers share are counted in each), and pss_mb (shared pages counted once);
- req/s, p50 and p99 latency of media playlist requests from wrk (50 connections, spread
  over every channel and variant; two wrk threads), live and shifted by 6 hours.

Scenarios (--scenario):
  own-assets   100 channels, each with its own asset (the asset index dominates memory)
  library      10,000 channels over a library of 500 assets
  realistic    10,000 channels of 30-minute programs with ad breaks and 1,000 of 3-minute
               items, rules 48 hours ahead, the feed followed as changes (bench/realistic.py)

    ./run bench-scale [--scenario library] [--workers 2] [--seconds 10]

Bounded: wrk runs --seconds per measurement; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.model import (
    US_PER_S,
    AssetIndex,
    Container,
    NumberedNames,
    Rendition,
    SegmentTable,
)
from engine.plan_format import ProfileEntryModel
from engine.profile import profile_of
from schedule_api.domain.horizon import horizon_offset_us
from schedule_api.service.assets import add_version
from schedule_api.service.scheduling import EventSpec, EventWrite, write_events
from schedule_api.store import Store
from schedule_api.store import channels as channel_rows
from schedule_api.store.db import create_engine, migrate
from schedule_api.store.rows import ChannelRow

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from engine_request_path import _free_port, wrk_figures  # noqa: E402

SEGMENT_US = 2 * US_PER_S
PROGRAM_SEGMENTS = 3600  # 2 hours
HISTORY_US = 8 * 3600 * US_PER_S
PROGRAMS_PER_CHANNEL = 16  # 32 hours: from 8 hours ago to a day ahead
LADDER = (
    ("720p", 2_500_000, (1280, 720)),
    ("360p", 800_000, (640, 360)),
    ("180p", 250_000, (320, 180)),
)
WRK_LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


@dataclass(frozen=True)
class Scenario:
    channels: int
    assets: int


SCENARIOS = {"own-assets": Scenario(100, 100), "library": Scenario(10_000, 500)}


def synthetic_asset(asset_id: str, segments: int) -> AssetIndex:
    """An HLS VOD index like an ingested one: numbered TS segments, 3 renditions."""
    base = f"https://vod.example.com/{asset_id}/"

    def table(name: str) -> SegmentTable:
        return SegmentTable(
            uri_prefix=f"{base}{name}/",
            names=NumberedNames("seg_", ".ts", 0, 5, segments),
            durations_us=array("q", [SEGMENT_US] * segments),
        )

    return AssetIndex(
        id=asset_id,
        version=1,
        url=f"{base}master.m3u8",
        container=Container.TS,
        independent_segments=True,
        renditions=tuple(
            Rendition(name, bandwidth, table(name), "avc1.4d401f,mp4a.40.2", size)
            for name, bandwidth, size in LADDER
        ),
        title=asset_id,
    )


async def _add_channel(
    store: Store, channel_id: str, number: int, profile: list[dict[str, Any]], now_us: int
) -> None:
    """A channel with a 12 s window (below the API's 30 s minimum: a smaller playlist)."""
    row = ChannelRow(
        id=channel_id,
        name=f"Channel {number}",
        target_duration=2,
        window_ms=12_000,
        slate_asset_id="slate",
        slate_version=1,
        time_zone="UTC",
        artwork_url=None,
        profile=profile,
        group_title="",
        checkpoint_us=now_us // US_PER_S * US_PER_S,
        max_shift_seconds=86_400,
        ad_markers={},
        break_rule=None,
        audio_tracks=[],
        subtitle_tracks=[],
        subtitle_target_duration=6,
        created_us=now_us,
        updated_us=now_us,
        horizon_offset_us=horizon_offset_us(channel_id),
    )
    async with store.write() as connection:
        await channel_rows.insert(connection, row)
        await channel_rows.record_change(connection, channel_id, now_us, reach_us=None)


async def build_database(url: str, scenario: Scenario, now_us: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    store = Store(engine)
    slate = synthetic_asset("slate", 5)
    await add_version(store, slate, {"title": "Slate"}, now_us)
    for number in range(scenario.assets):
        asset = synthetic_asset(f"show-{number}", PROGRAM_SEGMENTS)
        await add_version(store, asset, {"title": f"Show {number}"}, now_us)
    profile = [ProfileEntryModel.from_core(e).model_dump() for e in profile_of(slate)]
    start = now_us - HISTORY_US
    for number in range(scenario.channels):
        channel_id = f"ch-{number}"
        await _add_channel(store, channel_id, number, profile, start)
        specs = [
            EventSpec(
                id=f"{channel_id}-{program}",
                asset_id=f"show-{(number + program) % scenario.assets}",
                version=1,
                start_us=start + 10 * US_PER_S + program * PROGRAM_SEGMENTS * SEGMENT_US,
                clip_in_us=None,
                clip_out_us=None,
                title=None,
            )
            for program in range(PROGRAMS_PER_CHANNEL)
        ]
        await write_events(store, EventWrite(channel_id, specs, False, start, 0))
    await engine.dispose()


def _memory_mb(pid: int, field: str) -> float:
    """A memory figure of a process and its children (the engine's workers), in MB: VmRSS
    from /proc/PID/status, or Pss from /proc/PID/smaps_rollup (pages shared by the forked
    workers counted once in all, split between them)."""
    total_kb = 0
    source = "status" if field == "VmRSS:" else "smaps_rollup"
    for candidate in [pid, *_children(pid)]:
        try:
            text = Path(f"/proc/{candidate}/{source}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(field):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _rss_mb(pid: int) -> float:
    """Resident memory of the engine, all processes summed (shared pages in each)."""
    return _memory_mb(pid, "VmRSS:")


def _pss_mb(pid: int) -> float:
    """Proportional memory of the engine: what its processes use together."""
    return _memory_mb(pid, "Pss:")


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def _wait_ready(base: str, channels: int, workers: int, timeout_s: float) -> float:
    """Seconds until every worker process reports all channels (/health names its worker)."""
    started = time.monotonic()
    ready: set[int] = set()
    while time.monotonic() - started < timeout_s:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                health = json.load(response)
        except OSError:  # 503 until a worker's first sync, or not listening yet
            time.sleep(0.05)
            continue
        if health.get("channels") == channels:
            ready.add(health["worker"])
            if len(ready) == workers:
                return time.monotonic() - started
    raise RuntimeError(f"{workers} workers did not report {channels} channels in {timeout_s} s")


def _wrk(base: str, paths: list[str], seconds: int, work: Path, threads: int) -> dict[str, float]:
    listing = work / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = work / "spread.lua"
    script.write_text(WRK_LUA % {"paths": listing})
    result = subprocess.run(
        ["wrk", f"-t{threads}", "-c50", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    return wrk_figures(result)


def _start(arguments: list[str], environ: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vchannel", *arguments],
        cwd=REPO,
        env={**os.environ, **environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run(
    name: str,
    workers: int,
    seconds: int,
    shift: bool,
    reuse: Path | None = None,
    threads: int = 2,
) -> dict[str, object]:
    scenario = SCENARIOS[name]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        database = reuse or work / "schedule.db"
        url = f"sqlite:///{database}"
        started = time.monotonic()
        if not database.exists():
            asyncio.run(build_database(url, scenario, time.time_ns() // 1000))
        setup_s = time.monotonic() - started
        api_port, engine_port = _free_port(), _free_port()
        api = _start(
            ["schedule-api", "--host", "127.0.0.1", "--port", str(api_port), "--database-url", url],
            {"RULES_INTERVAL_SECONDS": "86400"},
        )
        engine = None
        try:
            api_base = f"http://127.0.0.1:{api_port}"
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{api_base}/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            engine = _start(
                ["engine", "--host", "127.0.0.1", "--port", str(engine_port)],
                {"CHANNELMGRAPI": api_base, "WORKERS": str(workers)},
            )
            base = f"http://127.0.0.1:{engine_port}"
            ready_s = _wait_ready(base, scenario.channels, workers, 300)
            rss_mb, pss_mb = _rss_mb(engine.pid), _pss_mb(engine.pid)
            variants = [name for name, _, _ in LADDER]
            live = [
                f"/live/{v}.m3u8?channel=ch-{c}" for c in range(scenario.channels) for v in variants
            ]
            result: dict[str, object] = {
                "scenario": name,
                "channels": scenario.channels,
                "assets": scenario.assets,
                "workers": workers,
                "wrk_threads": threads,
                "setup_s": round(setup_s, 1),
                "ready_s": round(ready_s, 2),
                "rss_mb_ready": round(rss_mb, 1),
                "pss_mb_ready": round(pss_mb, 1),
                "live": _wrk(base, live, seconds, work, threads),
            }
            if shift:
                shifted = [f"/live/shift/21600/{path.removeprefix('/live/')}" for path in live]
                result["shift_6h"] = _wrk(base, shifted, seconds, work, threads)
            result["rss_mb_after_load"] = round(_rss_mb(engine.pid), 1)
            result["pss_mb_after_load"] = round(_pss_mb(engine.pid), 1)
        finally:
            if engine is not None:
                _stop(engine)
            _stop(api)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--scenario",
        choices=[*sorted(SCENARIOS), "realistic"],
        nargs="+",
        default=sorted(SCENARIOS),
    )
    parser.add_argument("--workers", type=int, default=2, help="engine worker processes")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--no-shift", action="store_true", help="skip the 6-hour shift run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (it shares the box)")
    parser.add_argument(
        "--database",
        type=Path,
        help="keep the schedule database in this SQLite file and reuse it when it exists "
        "(one scenario; its programs began 8 hours before it was made and last 32 hours)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (./run setup installs it)", file=sys.stderr)
        return 2
    for name in args.scenario:
        if name == "realistic":
            import realistic

            print(json.dumps(realistic.run(args.workers, args.database, args.threads)), flush=True)
            continue
        result = run(
            name, args.workers, args.seconds, not args.no_shift, args.database, args.threads
        )
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
