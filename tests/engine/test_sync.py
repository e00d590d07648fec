"""The engine following a real schedule service's plan feed (both in this process, real HTTP
on 127.0.0.1): new channels appear, edits arrive, deletions 404, and an unreachable or
garbage-answering schedule service changes nothing the engine serves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from common.instants import format_date
from engine.app import create_app
from engine.channels import Channels
from engine.settings import EngineSettings
from engine.sync import PlanSync, SyncError, SyncMetrics
from schedule_api.app import create_app as create_schedule_app
from tests.schedule_api.conftest import make_settings

S = 1_000_000


async def _eventually(check: Callable[[], Any], seconds: float = 5.0) -> None:
    """Wait until `await check()` is true (the engine syncs every 100 ms here)."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the engine did not catch up")


class Stack:
    def __init__(self, schedule: TestClient, engine: TestClient, origin: str) -> None:
        self.schedule, self.engine, self.origin = schedule, engine, origin

    async def channel(self, channel_id: str = "news") -> None:
        for asset in ("slate-ts", "ts-alpha"):
            if (await self.schedule.get(f"/assets/{asset}")).status == 404:
                body = {
                    "id": asset,
                    "title": asset,
                    "url": f"{self.origin}/media/{asset}/master.m3u8",
                }
                assert (await self.schedule.post("/assets", json=body)).status == 201
        body = {"id": channel_id, "name": "News", "slate": "slate-ts"}
        assert (await self.schedule.post("/channels", json=body)).status == 201

    async def status(self, path: str) -> int:
        return (await self.engine.get(path)).status


@pytest.fixture
async def stack(tmp_path: Path, origin: str) -> AsyncIterator[Stack]:
    schedule = TestClient(
        TestServer(create_schedule_app(make_settings(f"sqlite:///{tmp_path}/s.db")))
    )
    await schedule.start_server()
    settings = EngineSettings(
        channel_manager_url=str(schedule.make_url("")).rstrip("/"), sync_interval_ms=100
    )
    engine = TestClient(TestServer(create_app(settings)))
    await engine.start_server()
    yield Stack(schedule, engine, origin)
    await engine.close()
    await schedule.close()


async def _serves(stack: Stack, channel_id: str) -> bool:
    return await stack.status(f"/live/master.m3u8?channel={channel_id}") == 200


async def test_a_new_channel_is_served(stack: Stack) -> None:
    await stack.channel()
    await _eventually(lambda: _serves(stack, "news"))


async def test_a_deleted_channel_answers_404(stack: Stack) -> None:
    await stack.channel()
    await _eventually(lambda: _serves(stack, "news"))
    assert (await stack.schedule.delete("/channels/news")).status == 204

    async def gone() -> bool:
        return await stack.status("/live/master.m3u8?channel=news") == 404

    await _eventually(gone)


async def test_a_scheduled_event_reaches_the_engine(stack: Stack) -> None:
    await stack.channel()
    start = format_date(time.time_ns() // 1000 + 30 * S)
    body = {"asset": "ts-alpha", "start": start}
    response = await stack.schedule.post("/channels/news/events", json=body)
    assert response.status == 201

    async def has_event() -> bool:
        health = await (await stack.engine.get("/health")).json()
        feed = await (await stack.schedule.get("/plans")).json()
        return bool(health["sync"]["revision"] == feed["revision"])

    await _eventually(has_event)


async def test_health_waits_for_the_first_sync(origin: str) -> None:
    settings = EngineSettings(channel_manager_url="http://127.0.0.1:9", sync_interval_ms=100)
    engine = TestClient(TestServer(create_app(settings)))
    await engine.start_server()
    response = await engine.get("/health")
    await engine.close()
    assert response.status == 503


async def test_an_unreachable_schedule_service_changes_nothing(stack: Stack) -> None:
    await stack.channel()
    await _eventually(lambda: _serves(stack, "news"))
    await stack.schedule.close()
    await asyncio.sleep(0.5)
    health = await (await stack.engine.get("/health")).json()
    assert (await _serves(stack, "news"), health["status"], health["sync"]["last_error"][:11]) == (
        True,
        "ok",
        "unreachable",
    )


async def test_health_says_the_sync_is_failing_while_it_stays_200(stack: Stack) -> None:
    await stack.channel()
    await _eventually(lambda: _serves(stack, "news"))
    await stack.schedule.close()
    await asyncio.sleep(0.5)
    response = await stack.engine.get("/health")
    assert (response.status, (await response.json())["sync"]["state"]) == (200, "failing")


async def test_metrics_name_the_sync_state(stack: Stack) -> None:
    await stack.channel()
    await _eventually(lambda: _serves(stack, "news"))
    text = await (await stack.engine.get("/metrics")).text()
    assert 'vchannel_engine_sync_state{state="ok"} 1.0' in text


async def test_a_sync_lag_beyond_the_lock_margin_is_logged_as_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schedule = TestClient(
        TestServer(create_schedule_app(make_settings(f"sqlite:///{tmp_path}/s.db")))
    )
    await schedule.start_server()
    url = str(schedule.make_url("")).rstrip("/")
    settings = EngineSettings(channel_manager_url=url, sync_interval_ms=50, lock_margin_s=0.3)
    async with TestClient(TestServer(create_app(settings))) as engine:
        await _eventually(lambda: _healthy(engine))
        await asyncio.sleep(0.5)  # in sync: nothing logged
        await schedule.close()
        await asyncio.sleep(0.8)
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "lock margin" in r.message]
    assert len(errors) == 1


async def _healthy(engine: TestClient) -> bool:
    return (await engine.get("/health")).status == 200


async def _garbage_server(body: bytes) -> TestServer:
    async def plans(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/plans", plans)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b'{"revision": 1, "plans": [{"channel": 3}], "deleted": []}',
        b'{"revision": -1, "plans": [], "deleted": []}',
        b'{"revision": 1000000000000000000000000000000, "plans": [], "deleted": []}',
    ],
)
async def test_a_garbage_feed_is_counted_and_survived(body: bytes) -> None:
    server = await _garbage_server(body)
    settings = EngineSettings(
        channel_manager_url=str(server.make_url("")).rstrip("/"), sync_interval_ms=50
    )
    engine = TestClient(TestServer(create_app(settings)))
    await engine.start_server()
    await asyncio.sleep(0.3)
    metrics = await (await engine.get("/metrics")).text()
    await engine.close()
    await server.close()
    assert 'vchannel_engine_sync_polls_total{result="garbage"}' in metrics


async def _served_metric(stack: Stack, route: str) -> float:
    """How many requests the schedule service answered on a route (its own metrics)."""
    text = await (await stack.schedule.get("/metrics")).text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("vchannel_schedule_requests_total{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_a_cold_start_follows_every_page_of_the_feed(stack: Stack) -> None:
    for number in range(5):
        await stack.channel(f"ch-{number}")
    sync = PlanSync(
        str(stack.schedule.make_url("")).rstrip("/"),
        Channels(),
        lambda: time.time_ns() // 1000,
        SyncMetrics(CollectorRegistry()),
        page_size=2,
    )
    async with aiohttp.ClientSession() as session:
        await sync.poll(session)
    assert sync.channels.ids() == [f"ch-{number}" for number in range(5)]


async def _caught_up(stack: Stack) -> bool:
    """The fixture's own engine has the latest plans (so it fetches nothing more)."""
    latest = (await (await stack.schedule.get("/plans", params={"since": "0"})).json())["revision"]
    health = await (await stack.engine.get("/health")).json()
    return bool(health.get("sync", {}).get("revision") == latest)


async def test_a_cold_start_fetches_asset_indexes_in_one_request(stack: Stack) -> None:
    for number in range(3):
        await stack.channel(f"ch-{number}")
    await _eventually(lambda: _caught_up(stack))
    before = await _served_metric(stack, "/asset-indexes")
    sync = PlanSync(
        str(stack.schedule.make_url("")).rstrip("/"),
        Channels(),
        lambda: time.time_ns() // 1000,
        SyncMetrics(CollectorRegistry()),
    )
    async with aiohttp.ClientSession() as session:
        await sync.poll(session)
    assert (sorted(sync.assets), await _served_metric(stack, "/asset-indexes") - before) == (
        [("slate-ts", 1)],
        1.0,
    )


async def test_a_garbage_later_page_changes_nothing(stack: Stack) -> None:
    """The first page is compiled while the second is fetched; the second is garbage, so
    nothing of the first is swapped in either."""
    for number in range(3):
        await stack.channel(f"ch-{number}")
    first = await (await stack.schedule.get("/plans", params={"since": "0", "limit": "2"})).read()

    async def plans(request: web.Request) -> web.Response:
        body = b"<html>" if "after" in request.query else first
        return web.Response(body=body, content_type="application/json")

    async def indexes(request: web.Request) -> web.Response:
        answer = await stack.schedule.get("/asset-indexes", params=list(request.query.items()))
        return web.Response(body=await answer.read(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/plans", plans)
    app.router.add_get("/asset-indexes", indexes)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sync = PlanSync(
        str(server.make_url("")).rstrip("/"),
        Channels(),
        lambda: time.time_ns() // 1000,
        SyncMetrics(CollectorRegistry()),
        page_size=2,
    )
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(SyncError, match="garbage"):
                await sync.poll(session)
    finally:
        await server.close()
    assert (sync.channels.ids(), sync.revision, sync.timelines) == ([], 0, {})


async def test_a_feed_going_back_in_revisions_changes_nothing() -> None:
    server = await _garbage_server(b'{"revision": 3, "horizon_ms": 0, "plans": [], "deleted": []}')
    sync = PlanSync(
        str(server.make_url("")).rstrip("/"),
        Channels({}, 1_048_576),
        lambda: 0,
        SyncMetrics(CollectorRegistry()),
        revision=5,
    )
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(SyncError, match="behind"):
                await sync.poll(session)
    finally:
        await server.close()
    assert sync.revision == 5


async def test_the_engine_sends_its_key_to_a_service_whose_reads_need_one(
    tmp_path: Path, origin: str
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/s.db", API_KEY="k", API_KEY_READS="1")
    async with TestClient(TestServer(create_schedule_app(settings))) as schedule:
        url = str(schedule.make_url("")).rstrip("/")
        keyed = EngineSettings(
            channel_manager_url=url, sync_interval_ms=50, channel_manager_key="k"
        )
        keyless = EngineSettings(channel_manager_url=url, sync_interval_ms=50)
        async with (
            TestClient(TestServer(create_app(keyed))) as engine,
            TestClient(TestServer(create_app(keyless))) as stranger,
        ):
            await asyncio.sleep(0.5)
            statuses = [(await e.get("/health")).status for e in (engine, stranger)]
    assert statuses == [200, 503]
