"""/plans and /asset-indexes: the plan feed engines follow (engine/feed_format.py)."""

from __future__ import annotations

import re

from aiohttp import web

from common.errors import Malformed
from common.instants import LATEST_US
from engine.feed_format import AssetIndexBatch, PlanFeed
from engine.model import AssetKey
from schedule_api.http.keys import CONTEXT, FEED
from schedule_api.http.openapi import Operation, Query
from schedule_api.http.params import SLUG, optional_int, query_int
from schedule_api.routes.assets import IMMUTABLE
from schedule_api.service.feed import (
    CURSOR_MARK,
    PLAN_PAGE_SIZE,
    Cursor,
    PageQuery,
    asset_index_batch,
)

MAX_WHOLE_PLANS = 100
"""Channels one GET /plans?channel=... may ask for whole."""
MAX_INDEX_KEYS = 100
"""Asset versions one GET /asset-indexes may ask for (the URL stays under 8 kB)."""


CURSOR = rf"({SLUG})(?:{CURSOR_MARK}([0-9]{{1,16}}))?"
"""A page cursor (`next_after`): a channel id, or one and the instant (Unix µs) of its next
piece."""


def _cursor(request: web.Request) -> Cursor:
    if "after" not in request.query:
        return Cursor()
    after = request.query["after"]
    matched = re.fullmatch(CURSOR, after)
    if matched is None:
        raise Malformed("after", f"{after[:80]!r} is not a `next_after` (<channel id>[@<µs>])")
    resume = matched.group(2)
    return Cursor(matched.group(1), None if resume is None else int(resume))


async def get_plans(request: web.Request) -> web.Response:
    channels = request.query.getall("channel", [])
    for channel in channels:
        if not re.fullmatch(SLUG, channel):
            raise Malformed("channel", f"{channel[:80]!r} is not a channel id")
    if len(channels) > MAX_WHOLE_PLANS:
        raise Malformed("channel", f"give at most {MAX_WHOLE_PLANS} (got {len(channels)})")
    horizon_ms = optional_int(request, "horizon_ms", 0, LATEST_US // 1000)
    query = PageQuery(
        since=query_int(request, "since", 0, 0, 10**12),
        until=optional_int(request, "until", 0, 10**12),
        after=_cursor(request),
        limit=query_int(request, "limit", PLAN_PAGE_SIZE, 1, PLAN_PAGE_SIZE),
        held_us=query_int(request, "held_ms", 0, 0, LATEST_US // 1000) * 1000,
        horizon_us=None if horizon_ms is None else horizon_ms * 1000,
        channels=tuple(channels),
    )
    page = await request.app[FEED].page(query)
    return web.Response(
        body=page, content_type="application/json", headers={"Cache-Control": "no-cache"}
    )


async def get_asset_indexes(request: web.Request) -> web.Response:
    keys: list[AssetKey] = []
    for raw in request.query.getall("key", []):
        matched = re.fullmatch(rf"({SLUG})@([1-9][0-9]{{0,5}})", raw)
        if matched is None:
            raise Malformed("key", f"{raw[:80]!r} is not <asset id>@<version>")
        keys.append((matched.group(1), int(matched.group(2))))
    if not 1 <= len(keys) <= MAX_INDEX_KEYS:
        raise Malformed("key", f"give between 1 and {MAX_INDEX_KEYS} (got {len(keys)})")
    batch, complete = await asset_index_batch(request.app[CONTEXT].store, keys)
    # Asset versions never change; the list of keys is the whole cache key.
    return web.Response(
        body=batch,
        content_type="application/json",
        headers={"Cache-Control": IMMUTABLE if complete else "no-cache"},
    )


OPERATIONS = (
    Operation(
        "GET",
        "/plans",
        get_plans,
        "Plan feed for engines: channels whose plan changed after a revision, as whole "
        "plans or as changes of the plans held, up to a horizon that moves with time",
        200,
        PlanFeed,
        errors=(400,),
        query=(
            Query(
                "since",
                {"type": "integer", "minimum": 0, "maximum": 10**12},
                "the revision of the previous answer (default 0: every plan)",
            ),
            Query(
                "until",
                {"type": "integer", "minimum": 0, "maximum": 10**12},
                "for the next page of one answer: the revision its first page returned",
            ),
            Query(
                "after",
                {"type": "string", "pattern": f"^{CURSOR}$"},
                "for the next page: the `next_after` of the previous page (a channel id, or "
                "one and the instant its next piece starts, when a long plan is sent in "
                "pieces)",
            ),
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000},
                "plans per page (default and most: 1000)",
            ),
            Query(
                "held_ms",
                {"type": "integer", "minimum": 0, "maximum": LATEST_US // 1000},
                "the `horizon_ms` of the previous answer: the engine holds every block before "
                "each channel's horizon at that instant (an hour mark: before it, for every "
                "channel; default 0: none)",
            ),
            Query(
                "horizon_ms",
                {"type": "integer", "minimum": 0, "maximum": LATEST_US // 1000},
                "for the next page of one answer (or whole plans asked by `channel`): the "
                "`horizon_ms` (the feed's instant) its first page returned",
            ),
            Query(
                "channel",
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
                    "maxItems": 100,
                },
                "the whole plans of these channels (channel=a&channel=b), for an engine that "
                "cannot apply a change; deleted ones are listed as deleted",
            ),
        ),
        tag="plans",
    ),
    Operation(
        "GET",
        "/asset-indexes",
        get_asset_indexes,
        "Many immutable asset indexes in one request (an engine's cold start)",
        200,
        AssetIndexBatch,
        errors=(400,),
        query=(
            Query(
                "key",
                {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "pattern": "^[a-z0-9][a-z0-9_-]{0,62}@[1-9][0-9]{0,5}$",
                    },
                    "minItems": 1,
                    "maxItems": 100,
                },
                "asset versions as <asset id>@<version>, repeated (key=a@1&key=b@2), 1 to 100",
            ),
        ),
        tag="plans",
    ),
)
