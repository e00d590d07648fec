"""The plan feed that engines poll (GET /plans): pages of the plans changed after a
revision, each page built once however many engines ask for it at the same moment."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from engine.feed_format import asset_index_batch_json, plan_feed_page
from engine.model import AssetKey, Plan
from engine.plan_format import PlanModel
from schedule_api.service.plans import read_plans
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows
from schedule_api.store import channels as channel_rows
from schedule_api.store import plans as plan_rows

PLAN_PAGE_SIZE = 1000
"""Plans per page of the plan feed (an engine's cold start reads 10,000 channels in 10)."""
FEED_PAGE_BYTES = 4 * 1_048_576
"""A page of the plan feed is cut after the plan that would take it past this size (a single
larger plan goes alone), so that neither side holds hundreds of megabytes at once."""
FEED_PAGE_CACHE = 16
"""Plan feed pages kept for the next engine asking (a page of 1,000 plans is about 3 MB)."""


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page of one answer: the changes in (since, until], channels after `after`."""

    since: int
    until: int | None
    after: str
    limit: int


@dataclass(frozen=True, slots=True)
class PlanPage:
    """One page of the plan feed, before it is written as JSON."""

    revision: int
    plans: list[Plan]
    deleted: list[str]
    next_after: str | None
    """More changed channels follow this id (ask again with it as `after`), or None."""


async def changed_plans(store: Store, query: PageQuery) -> PlanPage:
    """The plans of the channels changed after revision `since` (up to `until`, default the
    latest), by channel id after `after`, at most `limit`.

    The latest revision is read first: a write that commits meanwhile is either in the answer
    or after the revision returned, so the next poll gets it. Later pages of the same poll
    pass that revision as `until`; a channel changed since is read as it is now, which is only
    newer."""
    async with store.read() as connection:
        latest = await plan_rows.latest_revision(connection)
        if query.until is not None:
            latest = min(latest, query.until)
        if latest <= query.since:
            return PlanPage(latest, [], [], None)
        changed = await plan_rows.changed(
            connection, query.since, latest, query.after, query.limit + 1
        )
        following = changed[query.limit - 1] if len(changed) > query.limit else None
        changed = changed[: query.limit]
        rows = await channel_rows.some(connection, changed)
        plans = await read_plans(connection, [rows[i] for i in changed if i in rows])
    return PlanPage(latest, plans, [i for i in changed if i not in rows], following)


def bounded_page(page: PlanPage, max_bytes: int) -> bytes:
    """The page as GET /plans answers it, cut after the last plan that keeps it within
    max_bytes (a single larger plan goes alone): the channels after the cut, deleted ones
    included, come on the next page (`next_after`). CPU only: runs in a worker thread."""
    texts = [PlanModel.from_core(plan).model_dump_json() for plan in page.plans]
    by_id = dict(zip((plan.channel.id for plan in page.plans), texts, strict=True))
    order = sorted([*by_id, *page.deleted])
    kept: list[str] = []
    size = 0
    for channel_id in order:
        size += len(by_id.get(channel_id, channel_id)) + 1
        if kept and size > max_bytes:
            return plan_feed_page(
                page.revision,
                [by_id[i] for i in kept if i in by_id],
                [i for i in kept if i not in by_id],
                kept[-1],
            )
        kept.append(channel_id)
    return plan_feed_page(page.revision, texts, page.deleted, page.next_after)


async def plan_page(store: Store, query: PageQuery) -> tuple[bytes, int]:
    """A page of the plan feed as JSON (at most FEED_PAGE_BYTES but for a single larger
    plan), and the revision it answers for."""
    page = await changed_plans(store, query)
    return await asyncio.to_thread(bounded_page, page, FEED_PAGE_BYTES), page.revision


class FeedPages:
    """Pages of the plan feed, kept while no plan has changed (the latest revision is part of
    the key) and built once: every engine replica and worker cold-starting reads the same
    pages at the same moment, and the requests that come while a page is built wait for it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pages: OrderedDict[tuple[PageQuery, int], bytes] = OrderedDict()
        self._builds: dict[tuple[PageQuery, int], asyncio.Future[tuple[bytes, int]]] = {}

    async def page(self, query: PageQuery) -> bytes:
        async with self.store.read() as connection:
            latest = await plan_rows.latest_revision(connection)
        key = (query, latest)
        body = self._pages.get(key)
        if body is not None:
            return body
        build = self._builds.get(key)
        if build is None:
            build = self._builds[key] = asyncio.ensure_future(plan_page(self.store, query))
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
