"""The plan feed that engines poll (GET /plans): pages of the plans changed after a
revision, each page built once however many engines ask for it at the same moment."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import ceil

from common.clock import Clock
from engine.changes import PlanChange, change_pieces, plan_pieces
from engine.feed_format import asset_index_batch_json, change_json, plan_feed_page
from engine.model import AssetKey, Plan
from engine.plan_format import PlanModel
from schedule_api.domain.horizon import (
    HORIZON_STEP_US,
    channel_horizon_us,
    feed_instant_us,
    held_horizon_us,
    is_feed_instant,
)
from schedule_api.service.plans import read_plans
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows
from schedule_api.store import channels as channel_rows
from schedule_api.store import plans as plan_rows
from schedule_api.store.plans import Reach

PLAN_PAGE_SIZE = 1000
"""Plans per page of the plan feed (an engine's cold start reads 10,000 channels in 10)."""
FEED_PAGE_BYTES = 262_144
"""A page of the plan feed is cut before the item (a plan, a change, or a piece of a long one:
PIECE_WEIGHT) that would take it past this size (a single larger item goes alone), so that
neither side holds much at once: an engine parses a page in one go (pydantic holds the
interpreter for the whole page), so the page size bounds how long that call keeps the engine's
event loop."""
PAGE_CHUNK = 50
"""Channels read at a time while a page is filled (a page holds a few long plans, or a few
hundred small changes)."""
PIECE_WEIGHT = 1000
"""A plan or change of more blocks and ad breaks than this is sent in pieces of about this
many (a few hundred kB): the first piece as the plan or change cut short, each next one as a
change that appends to it, so that no answer, however long the plan, is bigger than a page
or a piece."""
FEED_PAGE_CACHE = 64
"""Plan feed pages kept for the next engine asking (at most FEED_PAGE_BYTES each): engine
workers that start together read the same pages at about the same moment."""


CURSOR_MARK = "@"
"""Separates a channel id from an instant in a page cursor (channel ids never hold it)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page of an answer begins: after channel `channel_id`, or, when
    `resume_us` is set, within it, at its piece that starts then."""

    channel_id: str = ""
    resume_us: int | None = None

    def text(self) -> str:
        """The cursor as `next_after` and `after` write it: <id> or <id>@<resume_us>."""
        if self.resume_us is None:
            return self.channel_id
        return f"{self.channel_id}{CURSOR_MARK}{self.resume_us}"


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page of one answer: the changes in (since, until], channels from `after` on, for
    an engine that holds every block before held_us; `horizon_us` pins the answer's horizon
    (later pages of one answer), `channels` asks for these channels' whole plans."""

    since: int
    until: int | None
    after: Cursor
    limit: int
    held_us: int = 0
    horizon_us: int | None = None
    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanPage:
    """One page of the plan feed, before it is written as JSON."""

    revision: int
    horizon_us: int
    plans: list[Plan]
    changes: list[PlanChange]
    deleted: list[str]
    next_after: str | None
    """More changed channels follow this id (ask again with it as `after`), or None."""


def _change(plan: Plan, reach: Reach | None, held_us: int, horizon: int) -> PlanChange:
    """The plan as a change of the one held: the blocks from the earliest instant changed (or
    the held horizon, if earlier) to the horizon, and the plan's first program if it begins
    at the checkpoint (a compacted plan's does: an engine whose checkpoint is older starts
    its plan there)."""
    from_us = held_us if reach is None else min(reach.reach_us, held_us)
    first = plan.blocks[0] if plan.blocks else None
    at_checkpoint = first is not None and first.start_us == plan.checkpoint.time_us
    return PlanChange(
        channel_id=plan.channel.id,
        revision=plan.revision,
        checkpoint=plan.checkpoint,
        head=first if at_checkpoint and first is not None and first.event_id else None,
        from_us=from_us,
        blocks=tuple(b for b in plan.blocks if from_us <= b.start_us < horizon),
    )


def _cut(plan: Plan, horizon: int) -> Plan:
    return replace(plan, blocks=tuple(b for b in plan.blocks if b.start_us < horizon))


async def changed_plans(store: Store, query: PageQuery, instant: int) -> PlanPage:
    """The plans of the channels changed after revision `since` (up to `until`, default the
    latest), or whose horizon moved past the one held, by channel id after `after`, at most
    `limit`, each cut at its horizon at the feed's instant (domain/horizon.py): whole for an
    engine that does not hold them, as changes for one that does.

    The latest revision is read first: a write that commits meanwhile is either in the answer
    or after the revision returned, so the next poll gets it. Later pages of the same poll
    pass that revision as `until`; a channel changed since is read as it is now, which is only
    newer."""
    beyond = instant + HORIZON_STEP_US  # past every channel's horizon
    async with store.read() as connection:
        latest = await plan_rows.latest_revision(connection)
        if query.until is not None:
            latest = min(latest, query.until)
        after = query.after.channel_id
        if query.channels:
            listed = sorted(i for i in set(query.channels) if i > after)[: query.limit + 1]
        elif query.since == 0:
            listed = await plan_rows.every_id(
                connection, query.since, latest, after, query.limit + 1
            )
        elif instant > query.held_us or not is_feed_instant(query.held_us):
            listed = await plan_rows.changed_or_moved(
                connection,
                query.since,
                latest,
                after,
                query.limit + 1,
                beyond,
                query.held_us,
                instant,
            )
        elif latest > query.since:
            listed = await plan_rows.changed(
                connection, query.since, latest, after, query.limit + 1, beyond
            )
        else:
            return PlanPage(latest, instant, [], [], [], None)
        following = listed[query.limit - 1] if len(listed) > query.limit else None
        listed = listed[: query.limit]
        rows = await channel_rows.some(connection, listed)
        reaches = (
            {}
            if query.since == 0
            else await plan_rows.reaches(connection, query.since, latest, listed)
        )
        sent_whole = {
            i
            for i in listed
            if query.since == 0 or query.channels or (i in reaches and reaches[i].whole)
        }
        whole = [rows[i] for i in listed if i in rows and i in sent_whole]
        partial = [rows[i] for i in listed if i in rows and i not in sent_whole]
        plans = await read_plans(connection, whole, before_us=beyond)
        held = {row.id: held_horizon_us(query.held_us, row.horizon_offset_us) for row in partial}
        lowest = min(
            [*held.values(), *(reaches[row.id].reach_us for row in partial if row.id in reaches)],
            default=0,
        )
        changed = await read_plans(connection, partial, from_us=lowest, before_us=beyond)
    horizons = {i: channel_horizon_us(instant, row.horizon_offset_us) for i, row in rows.items()}
    plans = [_cut(plan, horizons[plan.channel.id]) for plan in plans]
    changes = [
        _change(
            plan, reaches.get(plan.channel.id), held[plan.channel.id], horizons[plan.channel.id]
        )
        for plan in changed
    ]
    deleted = [i for i in listed if i not in rows]
    return PlanPage(latest, instant, plans, changes, deleted, following)


async def resumed_plan(store: Store, query: PageQuery, instant: int) -> PlanPage:
    """The rest of the channel a page was cut within (query.after, with resume_us): its
    blocks from resume_us to its horizon as a change, as the channel is now (a plan changed
    meanwhile comes whole or as a change in the next poll, whose `since` is older)."""
    channel_id, resume_us = query.after.channel_id, query.after.resume_us
    assert resume_us is not None
    async with store.read() as connection:
        latest = await plan_rows.latest_revision(connection)
        if query.until is not None:
            latest = min(latest, query.until)
        rows = await channel_rows.some(connection, [channel_id])
        if channel_id not in rows:
            return PlanPage(latest, instant, [], [], [channel_id], None)
        horizon = channel_horizon_us(instant, rows[channel_id].horizon_offset_us)
        plans = await read_plans(
            connection, [rows[channel_id]], from_us=resume_us, before_us=horizon
        )
    return PlanPage(latest, instant, [], [_change(plans[0], None, resume_us, horizon)], [], None)


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a page as JSON: a plan, a change (or a piece of one) or a deleted id."""

    kind: str
    """"plan", "change" or "deleted" (the text is then the id)."""
    text: str
    cursor: Cursor
    """Where the page goes on after this item: the channel's next piece, or the next channel."""


def _items(channel_id: str, kind: str, first: str, rest: list[PlanChange]) -> list[Item]:
    """A channel's items: its first piece (`first`, as JSON), then the changes that append
    the others."""
    texts = [first, *(change_json(piece) for piece in rest)]
    kinds = [kind, *("change" for _ in rest)]
    cursors = [*(Cursor(channel_id, piece.from_us) for piece in rest), Cursor(channel_id)]
    return [Item(*item) for item in zip(kinds, texts, cursors, strict=True)]


def page_items(page: PlanPage, weight: int) -> list[Item]:
    """The items of a page by channel id, long plans and changes in pieces of about `weight`
    blocks and ad breaks (PIECE_WEIGHT), each channel's in order. CPU only: runs in a worker
    thread."""
    items = {i: [Item("deleted", i, Cursor(i))] for i in page.deleted}
    for plan in page.plans:
        cut, rest = plan_pieces(plan, weight)
        text = PlanModel.from_core(cut).model_dump_json()
        items[plan.channel.id] = _items(plan.channel.id, "plan", text, rest)
    for change in page.changes:
        first, *rest = change_pieces(change, weight)
        items[change.channel_id] = _items(change.channel_id, "change", change_json(first), rest)
    return [item for channel_id in sorted(items) for item in items[channel_id]]


@dataclass(slots=True)
class ItemSize:
    """The mean size of the feed items written lately, so that a page reads about as many
    channels as it will hold: a page of long plans (a channel of 3-minute items is 25 kB)
    holds ten, and reading PAGE_CHUNK of them for it would read five times what is sent. A
    hint only: a page holds the same items whatever it says."""

    mean_bytes: float = 0.0

    def channels_to_read(self, room: int) -> int:
        """Channels to read for `room` bytes of page: enough at the mean size, one more to
        see where the page ends, at most PAGE_CHUNK."""
        if not self.mean_bytes:
            return PAGE_CHUNK
        return max(1, min(PAGE_CHUNK, ceil(room / self.mean_bytes) + 1))


async def plan_page(
    store: Store,
    query: PageQuery,
    horizon: int,
    max_bytes: int | None = None,
    sizes: ItemSize | None = None,
) -> tuple[bytes, int]:
    """A page of the plan feed as JSON, and the revision it answers for: the rest of the
    channel the cursor is within, then the channels after it, read a chunk at a time (as
    many as `sizes` expects to fit, at most PAGE_CHUNK), until the page would pass max_bytes
    (FEED_PAGE_BYTES; a single larger item goes alone) or holds `limit` items. Reading in
    chunks keeps a page of a few long plans from reading a thousand; long plans and changes
    come in pieces (PIECE_WEIGHT), so that a page is cut within a channel as well."""
    budget = FEED_PAGE_BYTES if max_bytes is None else max_bytes
    sizes = ItemSize() if sizes is None else sizes
    kept: dict[str, list[str]] = {"plan": [], "change": [], "deleted": []}
    revision: int | None = None
    after, size, count = query.after, 0, 0
    while True:
        chunk = replace(
            query,
            after=after,
            limit=min(sizes.channels_to_read(budget - size), query.limit - count),
            until=query.until if revision is None else revision,
        )
        if after.resume_us is None:
            page = await changed_plans(store, chunk, horizon)
            following = None if page.next_after is None else Cursor(page.next_after)
        else:
            page = await resumed_plan(store, chunk, horizon)
            following = Cursor(after.channel_id)
        revision = page.revision if revision is None else revision
        for item in await asyncio.to_thread(page_items, page, PIECE_WEIGHT):
            if count and size + len(item.text) + 1 > budget:
                return _written(revision, horizon, kept, after), revision
            kept[item.kind].append(item.text)
            size, count, after = size + len(item.text) + 1, count + 1, item.cursor
            sizes.mean_bytes = size / count
        if following is None:
            return _written(revision, horizon, kept, None), revision
        after = following
        if count >= query.limit:
            return _written(revision, horizon, kept, after), revision


def _written(
    revision: int, horizon: int, kept: dict[str, list[str]], after: Cursor | None
) -> bytes:
    return plan_feed_page(
        revision,
        horizon // 1000,
        kept["plan"],
        kept["change"],
        kept["deleted"],
        None if after is None else after.text(),
    )


class FeedPages:
    """Pages of the plan feed, kept while no plan has changed (the latest revision and the
    horizon are part of the key) and built once: every engine replica and worker
    cold-starting reads the same pages at the same moment, and the requests that come while a
    page is built wait for it."""

    def __init__(self, store: Store, clock: Clock, lookahead_us: int) -> None:
        self.store = store
        self.clock = clock
        self.lookahead_us = lookahead_us
        self._pages: OrderedDict[tuple[PageQuery, int, int], bytes] = OrderedDict()
        self._builds: dict[tuple[PageQuery, int, int], asyncio.Future[tuple[bytes, int]]] = {}
        self._sizes = ItemSize()

    async def close(self) -> None:
        """Stop the page builds still running (their readers went away), so that no database
        connection outlives the service."""
        builds = list(self._builds.values())
        for build in builds:
            build.cancel()
        await asyncio.gather(*builds, return_exceptions=True)

    def horizon(self, query: PageQuery) -> int:
        """The answer's instant (its `horizon_ms`): pinned by the query, else the feed's,
        never behind the instant the engine holds."""
        if query.horizon_us is not None:
            return query.horizon_us
        instant = feed_instant_us(self.clock.now_us(), self.lookahead_us)
        return max(instant, query.held_us) if is_feed_instant(query.held_us) else instant

    async def page(self, query: PageQuery) -> bytes:
        async with self.store.read() as connection:
            latest = await plan_rows.latest_revision(connection)
        horizon = self.horizon(query)
        key = (query, latest, horizon)
        body = self._pages.get(key)
        if body is not None:
            return body
        build = self._builds.get(key)
        if build is None:
            build = self._builds[key] = asyncio.ensure_future(
                plan_page(self.store, query, horizon, sizes=self._sizes)
            )
            build.add_done_callback(lambda _: self._builds.pop(key, None))
        # shielded: a client that goes away does not cancel the build the others wait for
        built, revision = await asyncio.shield(build)
        if revision == min(latest, query.until if query.until is not None else latest):
            self._pages[key] = built  # not when a write came in between: that page is newer
            while len(self._pages) > FEED_PAGE_CACHE:
                self._pages.popitem(last=False)
        return built


async def asset_index_batch(store: Store, keys: Sequence[AssetKey]) -> tuple[bytes, bool]:
    """The AssetIndexBatch of these asset versions, and whether every one exists."""
    async with store.read() as connection:
        found = await asset_rows.index_texts(connection, keys)
    wanted = list(dict.fromkeys(keys))
    missing = [f"{key[0]}@{key[1]}" for key in wanted if key not in found]
    body = asset_index_batch_json([found[key] for key in wanted if key in found], missing)
    return body, not missing
