"""A crash at any moment loses no committed write: SIGKILL the service while a client
schedules events in a loop, restart it, and find every event that got a 201."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import REPO, free_port, wait_for
from tests.schedule_api.conftest import MEDIA, start_service


def _start_service(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    return start_service(
        {"DATABASE_URL": database_url, "ALLOWED_SOURCES": "127.0.0.0/8"}, port, log
    )


def _start_origin(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "vchannel", "origin", "--port", str(port), "--root", str(MEDIA)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/slate-ts/master.m3u8")
    return process


def _slate(origin_port: int) -> dict[str, str]:
    """The slate asset, served by the sample media origin."""
    url = f"http://127.0.0.1:{origin_port}/slate-ts/master.m3u8"
    return {"id": "slate", "title": "Slate", "url": url}


async def _write_until_killed(base: str, process: subprocess.Popen[bytes]) -> list[str]:
    """Schedule events back to back; SIGKILL the service after 2 s; return the ids of the
    events that were answered 201."""
    acknowledged: list[str] = []
    loop = asyncio.get_running_loop()
    first_ms = (int(time.time()) + 120) * 1000
    async with aiohttp.ClientSession() as session:
        killer = loop.call_later(2.0, os.kill, process.pid, signal.SIGKILL)
        number = 0
        while True:
            body = {"asset": "slate", "start_ms": first_ms + number * 10_000}
            number += 1
            try:
                async with session.post(f"{base}/channels/c/events", json=body) as response:
                    if response.status != 201:
                        raise AssertionError(await response.text())
                    acknowledged.append((await response.json())["id"])
            except aiohttp.ClientError:
                break
        killer.cancel()
    return acknowledged


async def _crash_and_check(database_url: str, tmp_path: Path) -> None:
    port, origin_port, log = free_port(), free_port(), tmp_path / "service.log"
    base = f"http://127.0.0.1:{port}"
    service = await asyncio.to_thread(_start_service, database_url, port, log)
    origin = await asyncio.to_thread(_start_origin, origin_port)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/assets", json=_slate(origin_port)) as response:
                assert response.status == 201
            channel = {"id": "c", "name": "Crash", "slate": "slate"}
            async with session.post(f"{base}/channels", json=channel) as response:
                assert response.status == 201
        acknowledged = await _write_until_killed(base, service)
        assert await asyncio.to_thread(service.wait, 10) == -signal.SIGKILL
        assert len(acknowledged) > 10
        service = await asyncio.to_thread(_start_service, database_url, port, log)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base}/channels/c/events", params={"limit": "5000"}) as response,
        ):
            stored = {event["id"] for event in (await response.json())["items"]}
        assert set(acknowledged) <= stored
    finally:
        for process in (service, origin):
            process.kill()
            await asyncio.to_thread(process.wait, 10)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _left_after(pids: set[int], timeout_s: float) -> set[int]:
    """The processes among `pids` still running after timeout_s (or none, as soon as all
    have ended)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = {pid for pid in pids if Path(f"/proc/{pid}").exists()}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


async def test_the_parsing_process_ends_when_the_service_is_killed(tmp_path: Path) -> None:
    port, origin_port, log = free_port(), free_port(), tmp_path / "service.log"
    service = await asyncio.to_thread(_start_service, f"sqlite:///{tmp_path}/v.db", port, log)
    origin = await asyncio.to_thread(_start_origin, origin_port)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/assets", json=_slate(origin_port)) as response,
        ):
            assert response.status == 201  # parsed in the parsing process
        children = _children(service.pid)
        assert children
        service.kill()
        await asyncio.to_thread(service.wait, 10)
        assert not await asyncio.to_thread(_left_after, children, 10.0)
    finally:
        for process in (service, origin):
            process.kill()
            await asyncio.to_thread(process.wait, 10)


async def test_sqlite_keeps_every_acknowledged_write_through_sigkill(tmp_path: Path) -> None:
    await _crash_and_check(f"sqlite:///{tmp_path}/v.db", tmp_path)


async def test_postgresql_keeps_every_acknowledged_write_through_sigkill(
    tmp_path: Path, database_url_postgres: str
) -> None:
    await _crash_and_check(database_url_postgres, tmp_path)


pytestmark = pytest.mark.e2e
