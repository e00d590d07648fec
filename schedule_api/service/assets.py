"""Assets: ingest (fetch and validate every playlist once, schedule_api/ingest.py), versions,
guide metadata, and bulk ingest jobs that run in the background and survive as rows."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from typing import Any

from common.errors import Conflict, Invalid, NotFound, VChannelError
from common.instants import format_date
from engine.model import AssetIndex
from engine.plan_format import AssetIndexModel
from schedule_api.ingest import Fetcher, ingest
from schedule_api.service.context import Context
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows
from schedule_api.store import channels as channel_rows
from schedule_api.store import events as event_rows
from schedule_api.store import jobs as job_rows
from schedule_api.store.rows import AssetRow, JobRow

log = logging.getLogger("vchannel.schedule")
INGEST_CONCURRENCY = 4
"""Assets a bulk ingest job fetches at once."""
META_FIELDS = ("url", "title", "description", "genre", "episode", "rating", "artwork_url", "tags")
"""What an asset version keeps from the request that made it, and a re-ingest copies."""


def default_asset_id(title: str, url: str) -> str:
    """An id made from the title and the URL: `news-at-six-3fa2c1`."""
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "asset"
    return f"{stem}-{hashlib.sha1(url.encode()).hexdigest()[:6]}"


def _row(index: AssetIndex, meta: dict[str, Any], now_us: int) -> AssetRow:
    renditions = [
        {
            "name": r.name,
            "bandwidth": r.bandwidth,
            "codecs": r.codecs,
            "resolution": f"{r.resolution[0]}x{r.resolution[1]}" if r.resolution else None,
            "segments": len(r.segments),
        }
        for r in index.renditions
    ] + [
        {
            "name": t.name,
            "type": t.type.value,
            "bandwidth": 0,
            "codecs": t.codecs,
            "resolution": None,
            "segments": len(t.segments),
            "language": t.language,
            "label": t.label,
            "default": t.default,
        }
        for t in index.tracks
    ]
    return AssetRow(
        id=index.id,
        version=index.version,
        url=index.url,
        title=meta["title"],
        description=meta.get("description", ""),
        genre=meta.get("genre", ""),
        episode=meta.get("episode", ""),
        rating=meta.get("rating", ""),
        artwork_url=meta.get("artwork_url"),
        container=index.container.value,
        duration_us=index.duration_us,
        max_segment_us=index.max_segment_us(),
        renditions=renditions,
        tags=sorted(set(meta.get("tags") or [])),
        ingested_us=now_us,
    )


async def ingest_version(
    ctx: Context, asset_id: str, version: int, meta: dict[str, Any]
) -> AssetRow:
    """Fetch, validate and store one asset version."""
    settings = ctx.settings
    fetcher = Fetcher(
        ctx.session,
        settings.allowed_sources,
        settings.ingest_timeout_seconds,
        settings.ingest_max_playlist_bytes,
    )
    try:
        index = await ingest(
            fetcher,
            asset_id,
            meta["url"],
            version,
            meta["title"],
            settings.ingest_timeout_seconds,
        )
    except VChannelError:
        ctx.metrics.ingests.labels("refused").inc()
        raise
    ctx.metrics.ingests.labels("ok").inc()
    return await add_version(ctx.store, index, meta, ctx.clock.now_us())


async def add_version(
    store: Store, index: AssetIndex, meta: dict[str, Any], now_us: int
) -> AssetRow:
    """Store an ingested asset version with its guide metadata."""
    row = _row(index, meta, now_us)
    text = AssetIndexModel.from_core(index).model_dump_json(exclude_none=True)
    async with store.begin() as connection:
        await asset_rows.insert(connection, row, text)
    return row


async def next_version(store: Store, asset_id: str) -> int:
    async with store.read() as connection:
        return (await asset_rows.latest_version(connection, asset_id) or 0) + 1


async def create(ctx: Context, asset_id: str, meta: dict[str, Any]) -> AssetRow:
    """Ingest a new asset as its version 1."""
    if await next_version(ctx.store, asset_id) > 1:
        raise Conflict(
            "id", f"asset {asset_id!r} exists; POST /assets/{asset_id}/reingest makes a new version"
        )
    return await ingest_version(ctx, asset_id, 1, meta)


async def reingest(ctx: Context, asset_id: str) -> AssetRow:
    """Fetch an asset again, as a new version with the latest version's metadata."""
    latest, _versions = await get(ctx.store, asset_id)
    meta = {name: getattr(latest, name) for name in META_FIELDS}
    return await ingest_version(ctx, asset_id, await next_version(ctx.store, asset_id), meta)


async def get(
    store: Store, asset_id: str, version: int | None = None
) -> tuple[AssetRow, list[int]]:
    """An asset version (the latest by default) and every version the asset has."""
    async with store.read() as connection:
        versions = await asset_rows.versions(connection, asset_id)
        wanted = version if version is not None else (versions[-1] if versions else None)
        if wanted is None or wanted not in versions:
            what = f"asset {asset_id!r}" + (f" version {version}" if version else "")
            raise NotFound("id", f"{what} does not exist")
        return await asset_rows.get(connection, asset_id, wanted), versions


async def index_text(store: Store, asset_id: str, version: int | None) -> tuple[int, str]:
    """(version, AssetIndexModel JSON) of an asset version (the latest by default)."""
    row, _versions = await get(store, asset_id, version)
    async with store.read() as connection:
        return row.version, await asset_rows.index_text(connection, asset_id, row.version)


async def search(
    store: Store, query: str, limit: int, offset: int
) -> tuple[list[tuple[AssetRow, list[int]]], int]:
    """Latest version of each asset whose id or title contains `query`, by id, with its
    versions, and how many match in all."""
    async with store.read() as connection:
        rows, total = await asset_rows.search(connection, query, limit, offset)
        found = [(row, await asset_rows.versions(connection, row.id)) for row in rows]
    return found, total


async def update(
    store: Store, asset_id: str, changes: dict[str, Any]
) -> tuple[AssetRow, list[int]]:
    """Change the guide metadata and tags of every version of an asset."""
    for name in ("description", "genre", "episode", "rating", "tags"):
        if name in changes and changes[name] is None:
            raise Invalid(name, "may not be null")
    if "tags" in changes:
        changes["tags"] = sorted(set(changes["tags"]))
    if changes:
        async with store.begin() as connection:
            await asset_rows.update(connection, asset_id, changes)
    return await get(store, asset_id)


async def delete(store: Store, asset_id: str) -> None:
    """Delete every version; refused while a channel uses it as slate or in an event."""
    async with store.write() as connection:
        users = await channel_rows.slate_users(connection, asset_id)
        if users:
            raise Conflict(
                "id", f"asset {asset_id!r} is the slate of channel(s) {', '.join(users)}"
            )
        scheduled = await event_rows.first_use(connection, asset_id)
        if scheduled is not None:
            raise Conflict(
                "id",
                f"asset {asset_id!r} is scheduled (channel {scheduled.channel_id!r}, event "
                f"{scheduled.id!r} at {format_date(scheduled.start_us)}); delete its "
                "events first",
            )
        await asset_rows.delete(connection, asset_id)
    store.forget_asset(asset_id)


# --- bulk ingest jobs ---------------------------------------------------------------------
async def start_job(ctx: Context, job_id: str, items: list[dict[str, Any]]) -> JobRow:
    """Store a bulk ingest job; run_job carries it out."""
    now = ctx.clock.now_us()
    job = JobRow(id=job_id, state="running", items=items, created_us=now, updated_us=now)
    async with ctx.store.begin() as connection:
        await job_rows.insert(connection, job)
    return job


async def run_job(ctx: Context, job_id: str, items: list[dict[str, Any]]) -> None:
    """Ingest every item, a few at a time, saving progress after each step."""
    gate = asyncio.Semaphore(INGEST_CONCURRENCY)
    saving = asyncio.Lock()

    async def save(state: str = "running") -> None:
        async with saving, ctx.store.begin() as connection:
            await job_rows.save(connection, job_id, state, items, ctx.clock.now_us())

    async def one(item: dict[str, Any]) -> None:
        async with gate:
            item["state"] = "running"
            await save()
            try:
                if await next_version(ctx.store, item["id"]) > 1:
                    raise Conflict("id", f"asset {item['id']!r} exists")
                asset = await ingest_version(ctx, item["id"], 1, item["meta"])
                item.update(state="done", version=asset.version)
            except VChannelError as error:
                item.update(state="failed", error=str(error))
            except Exception as error:  # one bad item must not stop the others
                log.exception("bulk ingest of %s failed", item["url"])
                item.update(state="failed", error=f"internal error: {error.__class__.__name__}")
            await save()

    await asyncio.gather(*(one(item) for item in items))
    await save("done")


async def job(store: Store, job_id: str) -> JobRow:
    async with store.read() as connection:
        return await job_rows.get(connection, job_id)


async def interrupt_jobs(store: Store, now_us: int) -> int:
    """Mark jobs that a previous process left running as interrupted (at start-up)."""
    async with store.begin() as connection:
        running = await job_rows.running(connection)
        for found in running:
            items = [
                {**item, "state": "interrupted"} if item["state"] in ("queued", "running") else item
                for item in found.items
            ]
            await job_rows.save(connection, found.id, "interrupted", items, now_us)
    return len(running)
