"""Plan compaction on SQLite and PostgreSQL: plans sent to engines keep only the retained
history, and what they play does not change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.render import render_media_playlist
from engine.window import live_window
from schedule_api.app import create_app
from schedule_api.http.keys import CONTEXT
from schedule_api.service.jobs import COMPACTION_SLACK_US, maintain
from schedule_api.service.plans import compaction_candidates
from tests.schedule_api.conftest import advance, fixed_clock, ingest, make_settings, now_us

S = 1_000_000
HOUR = 3600 * S


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[TestClient]:
    """A service that keeps two hours of history in plans."""
    settings = make_settings(database_url, PLAN_RETENTION_HOURS=2)
    client = TestClient(TestServer(create_app(settings, clock=fixed_clock())))
    await client.start_server()
    yield client
    await client.close()


async def _looping_channel(
    api: TestClient, origin: str, hours: int, max_shift_seconds: int = 1800
) -> None:
    """A looping channel, run hour by hour with the scheduler job; the job compacts a plan
    only once it holds COMPACTION_SLACK_US more than the retention, so that comes first."""
    hours += COMPACTION_SLACK_US // HOUR
    await ingest(api, origin, "slate-ts", "slate")
    for asset in ("ts-alpha", "ts-bravo"):
        await ingest(api, origin, asset, asset)
    body = {"id": "news", "name": "N", "slate": "slate", "max_shift_seconds": max_shift_seconds}
    assert (await api.post("/channels", json=body)).ok
    rule = {"kind": "loop", "play": {"assets": ["ts-alpha", "ts-bravo"]}, "horizon_hours": 3}
    assert (await api.post("/channels/news/rules?limit=0", json=rule)).status == 201
    assert api.app is not None
    for _ in range(hours):
        advance(api, 3600)
        await maintain(api.app[CONTEXT])


async def _feed_plan(api: TestClient) -> dict[str, Any]:
    feed = await (await api.get("/plans")).json()
    return next(p for p in feed["plans"] if p["channel"]["id"] == "news")  # type: ignore[no-any-return]


async def test_a_compacted_plan_keeps_only_the_retained_history(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin, 6)
    plan = await _feed_plan(api)
    assert api.app is not None
    timeline = await api.app[CONTEXT].timelines.of("news")
    oldest = now_us(api) - 2 * HOUR - COMPACTION_SLACK_US - 60 * S
    assert oldest <= timeline.start_us <= now_us(api) - 2 * HOUR
    assert plan["checkpoint"]["media_sequence"] == timeline.first_media_sequence > 0


async def test_a_compacted_plan_plays_exactly_what_the_whole_plan_plays(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin, 5)
    assert api.app is not None
    timelines = api.app[CONTEXT].timelines
    compacted, whole = await timelines.of("news"), await timelines.of("news", full=True)
    assert compacted.start_us > whole.start_us
    for step in range(0, 3 * HOUR, 7 * 60 * S + 123_457):
        at = now_us(api) - 90 * 60 * S + step
        assert render_media_playlist(compacted, live_window(compacted, at), 0) == (
            render_media_playlist(whole, live_window(whole, at), 0)
        )


async def test_the_as_run_log_still_reads_history_before_the_compaction(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin, 5)
    assert api.app is not None
    whole = await api.app[CONTEXT].timelines.of("news", full=True)
    day = (await (await api.get("/channels/news/now")).json())["now"][:10]
    log = await (await api.get(f"/channels/news/as-run?date={day}")).json()
    assert log["items"][0]["start_ms"] * 1000 <= whole.start_us + 20 * S


async def _candidates(api: TestClient) -> list[str]:
    """The channels the compaction job would compile now (the fixture keeps two hours)."""
    assert api.app is not None
    store = api.app[CONTEXT].store
    return await compaction_candidates(
        store, now_us=now_us(api), retention_us=2 * HOUR, slack_us=COMPACTION_SLACK_US
    )


async def test_a_channel_without_history_past_the_retention_is_no_compaction_candidate(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin, 1)
    assert await _candidates(api) == []


async def test_a_channel_with_a_program_past_the_retention_is_a_compaction_candidate(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin, 0)
    advance(api, 3 * 3600)  # no compaction pass meanwhile: the plan holds 9 hours
    assert await _candidates(api) == ["news"]


async def test_a_compacted_channel_is_no_candidate_until_it_holds_the_slack_again(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin, 4)
    assert await _candidates(api) == []
    advance(api, COMPACTION_SLACK_US // S + 600)
    assert await _candidates(api) == ["news"]


async def test_a_channel_keeps_the_history_its_time_shift_limit_needs_beyond_the_retention(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin, 0, max_shift_seconds=12 * 3600)
    advance(api, 12 * 3600)  # past the 2 h retention and its slack, within the 12 h shift
    assert await _candidates(api) == []
    advance(api, COMPACTION_SLACK_US // S + 3600)
    assert await _candidates(api) == ["news"]
