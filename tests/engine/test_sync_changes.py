"""Engines following the plan feed as changes (real schedule service, real HTTP on 127.0.0.1,
a manual clock): whatever sequence of answers brought an engine to a revision, it holds the
plans an engine starting then receives whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from common.instants import format_date
from engine import sync
from engine.channels import Channels
from engine.sync import PlanSync, SyncMetrics
from schedule_api.app import create_app
from schedule_api.http.keys import CONTEXT, FEED
from schedule_api.service import feed
from schedule_api.service.jobs import maintain
from schedule_api.service.plans import compact_plan
from tests.schedule_api.conftest import advance, fixed_clock, ingest, make_settings, now_us

S = 1_000_000
HOUR = 3600 * S
CHANNELS = ("one", "two", "three")


@pytest.fixture
async def api(tmp_path: Path, origin: str) -> AsyncIterator[TestClient]:
    settings = make_settings(f"sqlite:///{tmp_path}/s.db", PLAN_RETENTION_HOURS=2)
    client = TestClient(TestServer(create_app(settings, clock=fixed_clock())))
    await client.start_server()
    await ingest(client, origin, "slate-ts", "slate")
    await ingest(client, origin, "ts-alpha", "ts-alpha")
    await ingest(client, origin, "ts-bravo", "ts-bravo")
    for channel_id in CHANNELS:
        body = {"id": channel_id, "name": "N", "slate": "slate", "max_shift_seconds": 600}
        assert (await client.post("/channels", json=body)).status == 201
        rule = {"kind": "loop", "play": {"assets": ["ts-alpha", "ts-bravo"]}, "horizon_hours": 9}
        assert (await client.post(f"/channels/{channel_id}/rules?limit=0", json=rule)).ok
    yield client
    await client.close()


def _engine(api: TestClient) -> PlanSync:
    return PlanSync(
        str(api.make_url("")).rstrip("/"),
        Channels({}, 1_048_576),
        lambda: now_us(api),
        SyncMetrics(CollectorRegistry()),
    )


async def _event(api: TestClient, channel_id: str, seconds: int, asset: str) -> None:
    body = {"asset": asset, "start": format_date(now_us(api) + seconds * S), "replace": True}
    response = await api.post(f"/channels/{channel_id}/events", json=body)
    assert response.status == 201, await response.text()


def _same(a: PlanSync, b: PlanSync) -> None:
    assert (a.revision, a.horizon_ms) == (b.revision, b.horizon_ms)
    assert sorted(a.timelines) == sorted(b.timelines)
    for channel_id, timeline in a.timelines.items():
        other = b.timelines[channel_id]
        # a plan's own revision is that of the last change sent, and a write beyond the
        # engine's horizon is not sent (it renders nothing): it may lag the whole plan's
        assert replace(timeline.plan, revision=0) == replace(other.plan, revision=0)
        assert timeline.groups == other.groups
        assert timeline.breaks == other.breaks


async def test_an_engine_following_changes_holds_what_a_new_engine_gets(api: TestClient) -> None:
    follower = _engine(api)
    assert api.app is not None
    async with aiohttp.ClientSession() as session:
        await follower.poll(session)
        for step in range(8):
            await _event(api, CHANNELS[step % 3], 120 + 300 * step, "ts-bravo")
            advance(api, 1800)  # each channel's horizon moves every other step
            await maintain(api.app[CONTEXT])  # rules top up
            if step == 5:
                store = api.app[CONTEXT].store
                assert await compact_plan(store, "two", now_us=now_us(api), retention_us=HOUR)
            if step == 6:
                assert (await api.delete("/channels/three")).status == 204
            await follower.poll(session)
        newcomer = _engine(api)
        await newcomer.poll(session)
    _same(follower, newcomer)


async def test_a_change_to_a_channel_not_held_brings_its_whole_plan(api: TestClient) -> None:
    engine = _engine(api)
    async with aiohttp.ClientSession() as session:
        await engine.poll(session)
        engine.timelines.pop("one")  # as if its plan had not compiled
        await _event(api, "one", 120, "ts-bravo")
        await engine.poll(session)
        newcomer = _engine(api)
        await newcomer.poll(session)
    _same(engine, newcomer)


def _small_answers(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers far smaller than one channel's plan (about 1,100 blocks, 200 kB): pieces of 40
    blocks, pages of 16 kB, and an engine that refuses any answer over 32 kB."""
    assert api.app is not None
    api.app[FEED]._pages.clear()
    monkeypatch.setattr(feed, "PIECE_WEIGHT", 40)
    monkeypatch.setattr(feed, "FEED_PAGE_BYTES", 16_384)
    monkeypatch.setattr(sync, "MAX_FEED_BYTES", 32_768)


async def test_plans_larger_than_any_answer_come_in_pieces(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _engine(api)
    engine = _engine(api)
    async with aiohttp.ClientSession() as session:
        await reference.poll(session)
        _small_answers(api, monkeypatch)
        await engine.poll(session)
    assert engine.last_error is None
    _same(engine, reference)


async def test_a_whole_plan_asked_for_comes_in_pieces(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(api)
    async with aiohttp.ClientSession() as session:
        await engine.poll(session)
        engine.timelines.pop("one")  # as if its plan had not compiled
        await _event(api, "one", 120, "ts-bravo")
        _small_answers(api, monkeypatch)
        await engine.poll(session)
        monkeypatch.undo()
        reference = _engine(api)
        await reference.poll(session)
    _same(engine, reference)
