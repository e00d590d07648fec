"""The plan feed that engines poll (GET /plans): pages of the plans changed after a
revision, each page built once however many engines ask for it at the same moment."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from engine.feed_format import asset_index_batch_json, plan_feed_json
from engine.model import AssetKey, Plan
from schedule_api.service.plans import read_plans
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows
from schedule_api.store import channels as channel_rows
from schedule_api.store import plans as plan_rows

PLAN_PAGE_SIZE = 1000
"""Plans per page of the plan feed (an engine's cold start reads 10,000 channels in 10)."""
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


async def plan_page(store: Store, query: PageQuery) -> tuple[bytes, int]:
    """A page of the plan feed as JSON, and the revision it answers for."""
    page = await changed_plans(store, query)
    return plan_feed_json(page.revision, page.plans, page.deleted, page.next_after), page.revision


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
