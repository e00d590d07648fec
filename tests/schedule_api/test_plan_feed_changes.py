"""The plan feed as changes (GET /plans with held_ms): engines that hold a channel get what
changed since their revision, up to a horizon that moves an hour at a time; whole plans only
for channels new to them. On both databases."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from common.instants import format_date, to_us
from engine.feed_format import PlanFeed
from schedule_api.domain.horizon import (
    HORIZON_STEP_US,
    channel_horizon_us,
    feed_instant_us,
    horizon_offset_us,
)
from schedule_api.http.keys import CONTEXT
from schedule_api.service.jobs import materialise_rules
from schedule_api.service.plans import compact_plan
from tests.schedule_api.conftest import advance, ingest, now_us

S = 1_000_000
HOUR = 3600 * S
LOOKAHEAD_US = 6 * HOUR
"""The service's default PLAN_LOOKAHEAD_HOURS."""


async def _looping_channel(api: TestClient, origin: str, channel_id: str = "news") -> None:
    """A channel looping a 20 s asset 12 hours ahead (beyond the horizon)."""
    if (await api.get("/assets/slate")).status == 404:
        await ingest(api, origin, "slate-ts", "slate")
        await ingest(api, origin, "ts-alpha", "ts-alpha")
    body = {"id": channel_id, "name": "News", "slate": "slate", "max_shift_seconds": 600}
    assert (await api.post("/channels", json=body)).status == 201
    rule = {"kind": "loop", "play": {"assets": ["ts-alpha"]}, "horizon_hours": 12}
    response = await api.post(f"/channels/{channel_id}/rules?limit=0", json=rule)
    assert response.status == 201, await response.text()


async def _feed(api: TestClient, **params: Any) -> PlanFeed:
    response = await api.get("/plans", params={k: str(v) for k, v in params.items()})
    assert response.status == 200, await response.text()
    return PlanFeed.model_validate_json(await response.read())


async def _event(api: TestClient, seconds: float) -> dict[str, Any]:
    start = format_date(now_us(api) + round(seconds * S))
    body = {"asset": "ts-alpha", "start": start, "replace": True}
    response = await api.post("/channels/news/events", json=body)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_whole_plans_stop_at_the_horizon(api: TestClient, origin: str) -> None:
    await _looping_channel(api, origin)
    feed = await _feed(api, since=0)
    (plan,) = feed.plans  # its first piece; the changes append the others
    blocks = [*plan.blocks, *(block for change in feed.changes for block in change.blocks)]
    starts = [to_us(block.start) for block in blocks]
    horizon = channel_horizon_us(feed.horizon_ms * 1000, horizon_offset_us("news"))
    assert feed.horizon_ms * 1000 == feed_instant_us(now_us(api), LOOKAHEAD_US)
    assert max(starts) < horizon <= max(starts) + 20 * S


async def test_an_edit_comes_as_a_change_from_where_it_reaches(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin)
    first = await _feed(api, since=0)
    event = await _event(api, 600)
    feed = await _feed(api, since=first.revision, held_ms=first.horizon_ms)
    change = feed.changes[0]  # the others append its later pieces
    ids = [block.event_id for piece in feed.changes for block in piece.blocks]
    reach = to_us(change.from_)  # the rule's program the new one shortened begins there
    assert (feed.plans, event["id"] in ids) == ([], True)
    assert now_us(api) + 580 * S <= reach == to_us(change.blocks[0].start) <= now_us(api) + 600 * S


async def test_a_rules_top_up_beyond_the_horizon_sends_nothing(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin)
    first = await _feed(api, since=0)
    advance(api, 60)  # the rule tops up a minute more, 12 hours ahead
    assert api.app is not None
    assert await materialise_rules(api.app[CONTEXT]) > 0
    feed = await _feed(api, since=first.revision, held_ms=first.horizon_ms)
    assert (feed.revision > first.revision, feed.plans, feed.changes) == (True, [], [])


def _horizons(instant_ms: int, channel_ids: list[str]) -> dict[str, int]:
    return {i: channel_horizon_us(instant_ms * 1000, horizon_offset_us(i)) for i in channel_ids}


async def test_an_hour_later_every_channel_gets_its_next_hour(api: TestClient, origin: str) -> None:
    for channel_id in ("one", "two"):
        await _looping_channel(api, origin, channel_id)
    first = await _feed(api, since=0)
    advance(api, HORIZON_STEP_US // S)
    feed = await _feed(api, since=first.revision, held_ms=first.horizon_ms)
    held = _horizons(first.horizon_ms, ["one", "two"])
    assert feed.horizon_ms * 1000 == first.horizon_ms * 1000 + HORIZON_STEP_US
    assert [c.channel for c in feed.changes] == ["one", "two"]
    for change in feed.changes:
        starts = [to_us(block.start) for block in change.blocks]
        assert to_us(change.from_) == held[change.channel] <= min(starts)
        assert max(starts) < held[change.channel] + HORIZON_STEP_US


async def test_the_horizon_moves_for_a_few_channels_at_a_time(api: TestClient, origin: str) -> None:
    ids = [f"ch{n}" for n in range(12)]
    for channel_id in ids:
        await _looping_channel(api, origin, channel_id)
    first = await _feed(api, since=0)
    advance(api, 20 * 60)
    feed = await _feed(api, since=first.revision, held_ms=first.horizon_ms)
    before, after = _horizons(first.horizon_ms, ids), _horizons(feed.horizon_ms, ids)
    moved = [i for i in ids if after[i] != before[i]]
    assert 0 < len(moved) < len(ids)
    assert sorted({c.channel for c in feed.changes}) == moved
    assert {c.channel: to_us(c.from_) for c in feed.changes if c.blocks} == {
        i: before[i] for i in moved
    }


async def test_an_engine_that_followed_an_hour_aligned_feed_gets_what_it_lacks(
    api: TestClient, origin: str
) -> None:
    """An engine of a release with one horizon for every channel passes that hour mark as
    held_ms: it holds every channel's blocks before it, and gets those after it up to each
    channel's horizon."""
    ids = [f"ch{n}" for n in range(12)]
    for channel_id in ids:
        await _looping_channel(api, origin, channel_id)
    advance(api, 1800)  # half past: half the channels' horizons are beyond the hour mark
    first = await _feed(api, since=0)
    hour_mark = (first.horizon_ms * 1000 // HORIZON_STEP_US + 1) * HORIZON_STEP_US
    feed = await _feed(api, since=first.revision, held_ms=hour_mark // 1000)
    horizons = _horizons(feed.horizon_ms, ids)
    lacking = [i for i in ids if horizons[i] > hour_mark]
    assert 0 < len(lacking) < len(ids)
    assert {c.channel: to_us(c.from_) for c in feed.changes if c.blocks} == {
        i: hour_mark for i in lacking
    }


async def test_a_compaction_comes_as_a_new_checkpoint_with_its_program(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin)
    advance(api, 3 * 3600)
    first = await _feed(api, since=0)
    assert api.app is not None
    store = api.app[CONTEXT].store
    assert await compact_plan(store, "news", now_us=now_us(api), retention_us=HOUR)
    feed = await _feed(
        api, since=first.revision, held_ms=first.horizon_ms, horizon_ms=first.horizon_ms
    )
    (change,) = feed.changes
    assert change.head is not None
    assert (change.blocks, change.head.start) == ([], change.checkpoint.time)
    assert to_us(change.checkpoint.time) > to_us(first.plans[0].checkpoint.time)


async def test_whole_plans_come_by_channel_and_unknown_ones_as_deleted(
    api: TestClient, origin: str
) -> None:
    await _looping_channel(api, origin)
    feed = await _feed(api, channel="news", horizon_ms=1_800_010_800_000)
    other = await api.get("/plans?channel=news&channel=gone")
    listed = PlanFeed.model_validate_json(await other.read())
    assert [p.channel.id for p in feed.plans] == ["news"]
    assert (feed.horizon_ms, listed.deleted) == (1_800_010_800_000, ["gone"])
