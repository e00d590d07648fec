"""Benchmark: plans at real-world shape, followed by one engine (bench/scale.py --scenario
realistic runs it).

The schedule: 10,000 channels of 30-minute programs, each with 4 ad breaks (a 60 s break every
6 minutes), and 1,000 channels of 3-minute items, over 2,000 synthetic assets (1,500 of 30
minutes, 500 of 3 minutes; 3 renditions of 2 s segments). Every channel has a loop rule with a
48-hour horizon, and 26 hours of history: about 3 million events, with plans compacted as the
rules job leaves them (each channel keeps its 1-hour time-shift limit plus two windows, at
least PLAN_RETENTION_HOURS). The schedule service and
the engine run as real processes on 127.0.0.1 with a clock running SPEED (10) times faster, so
the rules job (RULES_INTERVAL_SECONDS=30) tops up every 5 minutes of schedule time and each
channel's horizon moves every 6 minutes of real time, a few channels at every poll (each at
its own offset in the hour). Printed, as JSON:

- snapshot: bytes and seconds of the whole feed (since=0), what a cold engine reads;
- ready_s: the engine's cold start until every worker serves every channel;
- engine rss/pss MB (all workers), schedule service rss MB;
- feed: for a follower polling every second for FOLLOW_S seconds (an engine's own loop), once
  it has caught up with what changed since the snapshot, the bytes of each answer: those
  after a rules top-up (with the horizons that moved meanwhile) and those where only
  horizons moved, each as a share of the snapshot;
- edit_s: an event written 2 minutes ahead until every engine worker reports its revision;
- wrk live p99 at 50 connections while the rules job runs and the horizon moves;
- the worst event-loop stall of the schedule service and of each engine worker.

    ./run bench-scale --scenario realistic [--database /tmp/realistic.db]

Building the database takes minutes; --database keeps it for the next run (its clock is
stored beside it, and the next run's schedule time goes on from where this one stopped).
Bounded: every wait has a limit and every process is stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common.clock import SystemClock
from common.instants import US_PER_S, format_date
from common.serving import serve
from engine.plan_format import ProfileEntryModel
from engine.profile import profile_of
from schedule_api.app import create_app
from schedule_api.domain.horizon import horizon_offset_us
from schedule_api.service import rules as service_rules
from schedule_api.service.assets import add_version
from schedule_api.service.plans import Timelines, compact_plans
from schedule_api.settings import ScheduleSettings
from schedule_api.store import Store
from schedule_api.store import channels as channel_rows
from schedule_api.store.db import create_engine, migrate
from schedule_api.store.rows import ChannelRow

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from engine_request_path import _free_port  # noqa: E402
from scale import _pss_mb, _rss_mb, _start, _stop, _wait_ready, _wrk, synthetic_asset  # noqa: E402

HOUR_US = 3600 * US_PER_S
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
"""A fraction of the full shape (BENCH_SCALE=0.05: a quick trial of the benchmark itself)."""
PROGRAM_CHANNELS, SHORT_CHANNELS = round(10_000 * SCALE), round(1_000 * SCALE)
PROGRAM_ASSETS, SHORT_ASSETS = 1_500, 500
PROGRAM_SEGMENTS, SHORT_SEGMENTS = 900, 90  # 30 minutes, 3 minutes of 2 s segments
HISTORY_US, HORIZON_HOURS = 26 * HOUR_US, 48
SPEED = 10.0
"""How much faster than real time the schedule runs. The rules job is due every 5 minutes of
schedule time (30 s here; a pass over 11,000 channels takes longer, so it runs back to back),
and the engines see the horizon moves of 10 hours in an hour. At 60 times the engine workers
spent a good part of their CPU on horizon moves alone: a load 60 times what the same channels
bring in real time."""
RULES_EVERY_S = round(300 / SPEED)
FOLLOW_S = 120
WRK_S = 45


def _channel(channel_id: str, profile: list[dict[str, Any]], now_us: int, ads: bool) -> ChannelRow:
    return ChannelRow(
        id=channel_id,
        name=channel_id,
        target_duration=2,
        window_ms=30_000,
        slate_asset_id="slate",
        slate_version=1,
        time_zone="UTC",
        artwork_url=None,
        profile=profile,
        group_title="",
        checkpoint_us=now_us // US_PER_S * US_PER_S,
        max_shift_seconds=3600,
        ad_markers={},
        break_rule={"duration_seconds": 60, "every_minutes": 6} if ads else None,
        audio_tracks=[],
        subtitle_tracks=[],
        subtitle_target_duration=6,
        created_us=now_us,
        updated_us=now_us,
        horizon_offset_us=horizon_offset_us(channel_id),
    )


async def build_database(url: str, now_us: int) -> None:
    """Channels and rules created 26 hours before now_us (filled 48 hours from then), then
    topped up at now_us: 26 hours of history and 48 hours ahead, as the rules job leaves it."""
    engine = create_engine(url)
    await migrate(engine)
    store = Store(engine)
    start = now_us - HISTORY_US
    slate = synthetic_asset("slate", 5)
    await add_version(store, slate, {"title": "Slate"}, start)
    for number in range(PROGRAM_ASSETS):
        asset = synthetic_asset(f"show-{number}", PROGRAM_SEGMENTS)
        await add_version(store, asset, {"title": f"Show {number}"}, start)
    for number in range(SHORT_ASSETS):
        asset = synthetic_asset(f"clip-{number}", SHORT_SEGMENTS)
        await add_version(store, asset, {"title": f"Clip {number}"}, start)
    profile = [ProfileEntryModel.from_core(e).model_dump() for e in profile_of(slate)]
    service_rules.MATERIALISE_STEP_US = 80 * HOUR_US  # one transaction per rule here
    timelines = Timelines(store)
    channels = [(f"ch-{n}", True, "show", PROGRAM_ASSETS, n) for n in range(PROGRAM_CHANNELS)]
    channels += [(f"mv-{n}", False, "clip", SHORT_ASSETS, n) for n in range(SHORT_CHANNELS)]
    for channel_id, ads, kind, count, number in channels:
        async with store.write() as connection:
            await channel_rows.insert(connection, _channel(channel_id, profile, start, ads))
            await channel_rows.record_change(connection, channel_id, start, reach_us=None)
        play = [f"{kind}-{(number * 7 + i) % count}" for i in range(4 if ads else 12)]
        spec = {"play": {"assets": play}, "horizon_hours": HORIZON_HOURS}
        request = service_rules.RuleRequest("loop", spec, None)
        rule_id = f"loop-{channel_id}"
        await service_rules.create(
            store, timelines, channel_id, rule_id, request, now_us=start, margin_us=0
        )
        await service_rules.materialise(store, channel_id, rule_id, now_us=start, margin_us=0)
    await service_rules.materialise_all(store, now_us=now_us, margin_us=0)
    await engine.dispose()


async def compact_database(url: str, now_us: int) -> int:
    """Compact every plan as the rules job would at now_us, without its slack (the steady
    state engines meet); how many moved."""
    engine = create_engine(url)
    retention_us = ScheduleSettings().plan_retention_hours * HOUR_US
    moved = await compact_plans(Store(engine), now_us=now_us, retention_us=retention_us)
    await engine.dispose()
    return moved


def serve_schedule(database: str, port: int, start_us: int, reference_us: int) -> None:
    """The schedule service on an accelerated clock (this file run as `serve ...`)."""
    settings = ScheduleSettings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "RULES_INTERVAL_SECONDS": str(RULES_EVERY_S),
        }
    )
    clock = SystemClock(start_us, SPEED, reference_us)
    app = create_app(settings, clock=clock, manage_memory=True)
    serve(app, settings.host, settings.port, settings.keepalive_timeout_s)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return bytes(response.read())


def _feed(api: str, query: str) -> tuple[list[dict[str, Any]], int]:
    """The first page of one feed answer (the others are read and dropped), and the bytes of
    all its pages."""
    pages: list[dict[str, Any]] = []
    size, after = 0, None
    first: dict[str, Any] | None = None
    while True:
        extra = ""
        if first is not None:
            extra = f"&until={first['revision']}&horizon_ms={first['horizon_ms']}&after={after}"
        body = _get(f"{api}/plans?{query}{extra}")
        size += len(body)
        page = json.loads(body)
        if first is None:
            pages.append(page)
            first = page
        after = page["next_after"]
        if after is None:
            return pages, size


def _metric(text: str, name: str) -> float:
    return max(
        (float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")),
        default=0.0,
    )


def _follow(api: str, revision: int, horizon_ms: int, snapshot: int) -> dict[str, Any]:
    """Poll like an engine for FOLLOW_S seconds; the bytes of each answer."""
    top_ups: list[int] = []
    moves: list[int] = []
    pages, _ = _feed(api, f"since={revision}&held_ms={horizon_ms}")  # catch up since the snapshot
    revision, horizon_ms = pages[0]["revision"], pages[0]["horizon_ms"]
    deadline = time.monotonic() + FOLLOW_S
    while time.monotonic() < deadline:
        pages, size = _feed(api, f"since={revision}&held_ms={horizon_ms}")
        if pages[0]["revision"] != revision:
            top_ups.append(size)
        elif pages[0]["horizon_ms"] != horizon_ms:
            moves.append(size)
        revision, horizon_ms = pages[0]["revision"], pages[0]["horizon_ms"]
        time.sleep(1)
    return {
        "top_up_polls": len(top_ups),
        "top_up_bytes_max": max(top_ups, default=0),
        "top_up_share_max_pct": round(100 * max(top_ups, default=0) / snapshot, 3),
        "horizon_moves": len(moves),
        "horizon_move_bytes_max": max(moves, default=0),
        "horizon_move_share_max_pct": round(100 * max(moves, default=0) / snapshot, 2),
    }


def _edit_s(api: str, engine: str, workers: int, now_us: int) -> float:
    """An event two minutes ahead until every engine worker has applied its revision."""
    body = json.dumps(
        {"asset": "show-1", "start": format_date(now_us + 120 * US_PER_S), "replace": True}
    ).encode()
    request = urllib.request.Request(
        f"{api}/channels/ch-5/events",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    started = time.monotonic()
    urllib.request.urlopen(request, timeout=30).close()
    revision = json.loads(_get(f"{api}/plans?since=0&limit=1"))["revision"]
    seen: set[int] = set()
    while len(seen) < workers:
        if time.monotonic() - started > 60:
            raise RuntimeError("the edit did not reach every engine worker in 60 s")
        health = json.loads(_get(f"{engine}/health"))
        if health["sync"]["revision"] >= revision:
            seen.add(health["worker"])
    return round(time.monotonic() - started, 2)


def _service_now_us(start_us: int, reference_us: int) -> int:
    return SystemClock(start_us, SPEED, reference_us).now_us()


def run(workers: int, reuse: Path | None, threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        database = reuse or work / "schedule.db"
        stamp = database.with_suffix(".start")
        started = time.monotonic()
        if not database.exists():
            start_us = time.time_ns() // 1000
            asyncio.run(build_database(f"sqlite:///{database}", start_us))
            stamp.write_text(str(start_us))
        start_us = int(stamp.read_text())
        compacted = database.with_suffix(".compacted")
        if not compacted.exists() or compacted.read_text() != str(start_us):
            # plans compacted as of the instant this run starts from, as engines meet them
            asyncio.run(compact_database(f"sqlite:///{database}", start_us))
            compacted.write_text(str(start_us))
        setup_s = round(time.monotonic() - started, 1)
        reference_us = time.time_ns() // 1000
        api_port, engine_port = _free_port(), _free_port()
        arguments = ["serve", str(database), str(api_port), str(start_us), str(reference_us)]
        api_process = subprocess.Popen(
            [sys.executable, __file__, *arguments], cwd=REPO, env={**os.environ}
        )
        engine_process = None
        api = f"http://127.0.0.1:{api_port}"
        try:
            for _ in range(600):
                try:
                    _get(f"{api}/health")
                    break
                except OSError:
                    time.sleep(0.1)
            began = time.monotonic()
            pages, snapshot = _feed(api, "since=0")
            snapshot_s = round(time.monotonic() - began, 1)
            clock_start = format_date(_service_now_us(start_us, reference_us))
            engine_process = _start(
                ["engine", "--host", "127.0.0.1", "--port", str(engine_port)],
                {
                    "CHANNELMGRAPI": api,
                    "WORKERS": str(workers),
                    "CLOCK_START": clock_start,
                    "CLOCK_SPEED": str(SPEED),
                },
            )
            engine = f"http://127.0.0.1:{engine_port}"
            channels = PROGRAM_CHANNELS + SHORT_CHANNELS
            ready_s = round(_wait_ready(engine, channels, workers, 600), 1)
            result: dict[str, Any] = {
                "scenario": "realistic",
                "channels": channels,
                "workers": workers,
                "setup_s": setup_s,
                "snapshot_bytes": snapshot,
                "snapshot_s": snapshot_s,
                "ready_s": ready_s,
                "engine_rss_mb": round(_rss_mb(engine_process.pid), 1),
                "engine_pss_mb": round(_pss_mb(engine_process.pid), 1),
            }
            revision, horizon = pages[0]["revision"], pages[0]["horizon_ms"]
            print(json.dumps(result), file=sys.stderr, flush=True)  # so far
            result["feed"] = _follow(api, revision, horizon, snapshot)
            now = _service_now_us(start_us, reference_us)
            result["edit_to_every_worker_s"] = _edit_s(api, engine, workers, now)
            live = [f"/live/360p.m3u8?channel=ch-{n}" for n in range(0, PROGRAM_CHANNELS, 7)]
            live += [f"/live/360p.m3u8?channel=mv-{n}" for n in range(SHORT_CHANNELS)]
            result["live_during_top_ups"] = _wrk(engine, live, WRK_S, work, threads)
            result["schedule_rss_mb"] = round(_rss_mb(api_process.pid), 1)
            stall = "vchannel_schedule_event_loop_worst_stall_seconds"
            result["schedule_worst_stall_s"] = _metric(_get(f"{api}/metrics").decode(), stall)
            name = "vchannel_engine_event_loop_worst_stall_seconds"
            # each answer comes from one worker: ask often enough to hear from every one
            answers = [_metric(_get(f"{engine}/metrics").decode(), name) for _ in range(50)]
            result["engine_worst_stall_s"] = max(answers)
        finally:
            if engine_process is not None:
                _stop(engine_process)
            api_process.send_signal(signal.SIGTERM)
            try:
                api_process.wait(30)
            except subprocess.TimeoutExpired:  # busy in a rules pass: it has done its part
                api_process.kill()
                api_process.wait()
            # the next run goes on from here: the rules have filled 48 hours past this instant,
            # so its rules job tops up from its first pass instead of finding nothing to do
            stamp.write_text(str(_service_now_us(start_us, reference_us)))
    return result


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    database, port, start, reference = sys.argv[2:6]
    serve_schedule(database, int(port), int(start), int(reference))
