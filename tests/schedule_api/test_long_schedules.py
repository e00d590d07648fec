"""Real-world schedule shapes through real processes on 127.0.0.1: four channels whose loop
rules fill 720 hours with a 20 s asset (129,600 events each), one engine started before the
rules and one after. Both serve every channel within seconds, an edit made after a rules
top-up reaches both, and the schedule service answers /health in under 100 ms throughout."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from common.instants import format_date
from tests.e2e.conftest import REPO, free_port, wait_for
from tests.schedule_api.conftest import start_service

CHANNELS = ("c1", "c2", "c3", "c4")
RULE = {"kind": "loop", "play": {"assets": ["ts-alpha"]}, "horizon_hours": 720}


class HealthProbe:
    """Asks the schedule service's /health every 50 ms and keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url, self.worst_s, self.count = url, 0.0, 0

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            started = time.perf_counter()
            async with session.get(self.url) as response:
                assert response.status == 200
                await response.read()
            self.worst_s = max(self.worst_s, time.perf_counter() - started)
            self.count += 1
            await asyncio.sleep(0.05)


def _engine(schedule: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    environ = {**os.environ, "CHANNELMGRAPI": schedule, "HOST": "127.0.0.1", "PORT": str(port)}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "vchannel", "engine"],
            cwd=REPO,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_for(f"http://127.0.0.1:{port}/health", 60)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def schedule(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    environ = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "ALLOWED_SOURCES": "127.0.0.0/8",
        "RULES_INTERVAL_SECONDS": "3",  # the rules job tops up during the test
    }
    process = start_service(environ, port, tmp_path / "schedule.log")
    yield f"http://127.0.0.1:{port}"
    _stop(process)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as client:
        yield client


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
    async with session.post(url, json=body) as response:
        assert response.status == 201, await response.text()
        return await response.json()


async def _serves_all(session: aiohttp.ClientSession, engine: str, seconds: float) -> float:
    """Seconds until the engine serves every channel's live media playlist."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        statuses = []
        for channel in CHANNELS:
            async with session.get(f"{engine}/live/360p.m3u8?channel={channel}") as response:
                statuses.append(response.status)
        if statuses == [200] * len(CHANNELS):
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"{engine} does not serve every channel after {seconds} s: {statuses}")


async def _rule_runs(session: aiohttp.ClientSession, schedule: str) -> float:
    async with session.get(f"{schedule}/metrics") as response:
        text = await response.text()
    prefix = 'vchannel_schedule_rule_runs_total{result="ok"} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


async def _worst_stall(session: aiohttp.ClientSession, schedule: str) -> float:
    async with session.get(f"{schedule}/metrics") as response:
        text = await response.text()
    prefix = "vchannel_schedule_event_loop_worst_stall_seconds "
    return next(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


async def _top_up(session: aiohttp.ClientSession, schedule: str) -> None:
    """Wait for the scheduler job to run every rule once more."""
    runs = await _rule_runs(session, schedule)
    started = time.perf_counter()
    while await _rule_runs(session, schedule) < runs + 2 * len(CHANNELS):
        assert time.perf_counter() - started < 60, "the rules job did not run"
        await asyncio.sleep(0.2)


async def _revision(session: aiohttp.ClientSession, engine: str) -> int:
    async with session.get(f"{engine}/health") as response:
        return int((await response.json())["sync"]["revision"])


async def _reaches(session: aiohttp.ClientSession, engine: str, revision: int) -> float:
    started = time.perf_counter()
    while await _revision(session, engine) < revision:
        assert time.perf_counter() - started < 10, f"{engine} did not apply revision {revision}"
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def test_720_hour_loops_of_a_20_s_asset_sync_and_never_freeze_the_service(
    schedule: str, origin: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    probe = HealthProbe(f"{schedule}/health")
    probing = asyncio.ensure_future(probe.run(session))
    before = _engine(schedule, free_port_a := free_port(), tmp_path / "a.log")
    after = None
    try:
        for asset, asset_id in (("slate-ts", "slate"), ("ts-alpha", "ts-alpha")):
            body = {"id": asset_id, "title": asset, "url": f"{origin}/media/{asset}/master.m3u8"}
            await _post(session, f"{schedule}/assets", body)
        for channel in CHANNELS:
            body = {"id": channel, "name": channel, "slate": "slate"}
            await _post(session, f"{schedule}/channels", body)
        await asyncio.gather(
            *(_post(session, f"{schedule}/channels/{c}/rules?limit=0", RULE) for c in CHANNELS)
        )
        engine_a = f"http://127.0.0.1:{free_port_a}"
        await _serves_all(session, engine_a, 30)
        # started in a thread: waiting for it must not hold up the probe
        after = await asyncio.to_thread(
            _engine, schedule, free_port_b := free_port(), tmp_path / "b.log"
        )
        engine_b = f"http://127.0.0.1:{free_port_b}"
        await _serves_all(session, engine_b, 30)
        # a rules top-up by the scheduler job, then an edit a minute ahead
        await _top_up(session, schedule)
        start = format_date((time.time_ns() // 1000) + 60_000_000)
        await _post(
            session,
            f"{schedule}/channels/c2/events",
            {"asset": "ts-alpha", "start": start, "replace": True},
        )
        async with session.get(f"{schedule}/plans?since=0&limit=1") as response:
            revision = (await response.json())["revision"]
        for engine in (engine_a, engine_b):
            await _reaches(session, engine, revision)
        stall = await _worst_stall(session, schedule)
    finally:
        probing.cancel()
        _stop(before)
        if after is not None:
            _stop(after)
    assert probe.count > 20
    assert probe.worst_s < 0.1, f"/health took {probe.worst_s:.3f} s (stall {stall})"
