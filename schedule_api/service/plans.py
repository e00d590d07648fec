"""Plans and timelines: reading a channel's plan, its compiled timeline (as every engine
computes it, cached per plan revision), and compaction."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import NotFound
from common.instants import LATEST_US
from engine.compaction import compaction_point
from engine.model import Plan
from engine.timeline import Timeline, compile_timeline
from schedule_api.domain.plans import plan_of
from schedule_api.store import Store
from schedule_api.store import channels as channel_rows
from schedule_api.store import plans as plan_rows
from schedule_api.store.rows import ChannelRow

log = logging.getLogger("vchannel.schedule")
TIMELINE_CACHE_SIZE = 64
"""Compiled timelines kept (guide reads, rule starts)."""


async def read_plans(
    connection: AsyncConnection,
    channels: Sequence[ChannelRow],
    full: bool = False,
    *,
    from_us: int | None = None,
    before_us: int | None = None,
) -> list[Plan]:
    """The channels' plans as engines get them, in two queries whatever their number; the
    plans are built in a worker thread (a page of 1,000 long plans is millions of objects).
    With from_us, only the blocks from then on (and the compacted plan's first program);
    with before_us, only those starting before it (the feed's horizon)."""
    if not channels:
        return []
    ids = [channel.id for channel in channels]
    revisions = await plan_rows.revisions(connection, ids)
    events = await plan_rows.plan_events(connection, ids, full, from_us, before_us)

    def build() -> list[Plan]:
        return [
            plan_of(channel, events[channel.id], revisions.get(channel.id, 0), full)
            for channel in channels
        ]

    return await asyncio.to_thread(build)


class Timelines:
    """Compiled timelines of channels, each compiled once per plan revision."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[str, bool], Timeline] = OrderedDict()

    async def of(self, channel_id: str, full: bool = False) -> Timeline:
        """The channel's timeline; `full`: from its creation, ignoring compaction."""
        async with self.store.read() as connection:
            channel = await channel_rows.get(connection, channel_id)
            revision = (await plan_rows.revisions(connection, [channel_id])).get(channel_id, 0)
            cached = self._cache.get((channel_id, full))
            if cached is not None and cached.plan.revision == revision:
                self._cache.move_to_end((channel_id, full))
                return cached
            (plan,) = await read_plans(connection, [channel], full)
            assets = {key: await self.store.index(key, connection) for key in plan.asset_keys()}
        # a long plan takes a while to compile: not on the event loop
        timeline = await asyncio.to_thread(compile_timeline, plan, assets)
        self._cache[(channel_id, full)] = timeline
        if len(self._cache) > TIMELINE_CACHE_SIZE:
            self._cache.popitem(last=False)
        return timeline


async def compaction_candidates(
    store: Store, *, now_us: int, retention_us: int, slack_us: int = 0
) -> list[str]:
    """The channels whose plan may compact now (compact_plan decides): those with a program
    scheduled after their plan's start and at least retention_us ago. A program never begins
    to air before its scheduled start, and compact_plan keeps at least retention_us, so no
    channel that can compact is left out; one query, so a pass over 10,000 channels with
    nothing to compact costs milliseconds, not 10,000 plan compilations."""
    async with store.read() as connection:
        return await plan_rows.compaction_candidates(connection, now_us, retention_us, slack_us)


async def compact_plan(store: Store, channel_id: str, *, now_us: int, retention_us: int) -> bool:
    """Move the channel's plan start to the latest program that began at or before
    now - the history it keeps (store/plans.py keep_us; engine/compaction.py); True when it
    moved. Nothing the engines serve
    from then on changes, so this is a plan write like any other (a new revision)."""
    async with store.write() as connection:
        channel = await channel_rows.get(connection, channel_id)
        (plan,) = await read_plans(connection, [channel])
        assets = {key: await store.index(key, connection) for key in plan.asset_keys()}
        keep = plan_rows.keep_us(channel, retention_us)  # what time-shift may still serve
        timeline = await asyncio.to_thread(compile_timeline, plan, assets)
        point = compaction_point(timeline, now_us - keep)
        if point is None:
            return False
        await plan_rows.set_compaction(connection, channel_id, point)
        # no block changes: engines drop what lies before the new checkpoint
        await channel_rows.record_change(
            connection, channel_id, now_us, reach_us=LATEST_US, moved=True
        )
    return True


async def compact_plans(store: Store, *, now_us: int, retention_us: int, slack_us: int = 0) -> int:
    """Compact every channel that can and whose plan holds more than retention_us + slack_us
    of history (the scheduler job); how many moved."""
    moved = 0
    candidates = await compaction_candidates(
        store, now_us=now_us, retention_us=retention_us, slack_us=slack_us
    )
    for channel_id in candidates:
        try:
            if await compact_plan(store, channel_id, now_us=now_us, retention_us=retention_us):
                moved += 1
        except NotFound:
            continue  # deleted meanwhile
        except Exception:
            log.exception("compacting the plan of channel %s failed", channel_id)
    return moved
