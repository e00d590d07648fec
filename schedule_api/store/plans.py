"""SQL for what plans are made of: the revision log, the events from each channel's plan
start, and the compaction point."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.compaction import CompactionPoint
from schedule_api.store import db
from schedule_api.store.rows import EventRow, typed

_c, _e, _ch = db.changes.c, db.events.c, db.channels.c


async def latest_revision(connection: AsyncConnection) -> int:
    """The revision of the latest plan change (0: none yet)."""
    found = await connection.execute(sa.select(sa.func.max(_c.revision)))
    return int(found.scalar() or 0)


async def revisions(connection: AsyncConnection, ids: Sequence[str]) -> dict[str, int]:
    """The latest revision of each of these channels that has one."""
    rows = await connection.execute(
        sa.select(_c.channel_id, sa.func.max(_c.revision))
        .where(_c.channel_id.in_(ids))
        .group_by(_c.channel_id)
    )
    return {channel_id: int(revision) for channel_id, revision in rows}


async def changed(
    connection: AsyncConnection, since: int, until: int, after: str, limit: int
) -> list[str]:
    """Ids of the channels changed in revisions (since, until], by id after `after`, at most
    `limit` of them."""
    rows = await connection.execute(
        sa.select(_c.channel_id)
        .where((_c.revision > since) & (_c.revision <= until) & (_c.channel_id > after))
        .group_by(_c.channel_id)
        .order_by(_c.channel_id)
        .limit(limit)
    )
    return [row.channel_id for row in rows]


async def plan_events(
    connection: AsyncConnection, ids: Sequence[str], full: bool
) -> dict[str, list[EventRow]]:
    """The events of each channel by start, from its compaction event on (with `full`, from
    its creation): one query whatever the number of channels, the compaction event's start
    joined in."""
    point = db.events.alias("point")
    query = (
        sa.select(db.events)
        .select_from(
            db.events.join(db.channels, _ch.id == _e.channel_id).outerjoin(
                point, point.c.id == _ch.compact_event_id
            )
        )
        .where(_e.channel_id.in_(ids))
        .order_by(_e.channel_id, _e.start_us)
    )
    if not full:
        query = query.where(sa.or_(point.c.start_us.is_(None), _e.start_us >= point.c.start_us))
    found: dict[str, list[EventRow]] = {channel_id: [] for channel_id in ids}
    for row in await connection.execute(query):
        found[row.channel_id].append(typed(EventRow, row))
    return found


async def compaction_candidates(
    connection: AsyncConnection, now_us: int, retention_us: int
) -> list[str]:
    """The channels with a program scheduled after their plan's start and at least
    retention_us ago (the only ones whose plan can compact)."""
    point = db.events.alias("point")
    query = (
        sa.select(_ch.id)
        .distinct()
        .select_from(
            db.channels.join(db.events, _e.channel_id == _ch.id).outerjoin(
                point, point.c.id == _ch.compact_event_id
            )
        )
        .where(_e.start_us <= now_us - retention_us)
        .where(_e.start_us > sa.func.coalesce(point.c.start_us, _ch.checkpoint_us))
        .order_by(_ch.id)
    )
    return [row.id for row in await connection.execute(query)]


async def set_compaction(
    connection: AsyncConnection, channel_id: str, point: CompactionPoint
) -> None:
    """Move the channel's plan start to a compaction point."""
    await connection.execute(
        db.channels.update()
        .where(_ch.id == channel_id)
        .values(
            compact_event_id=point.event_id,
            compact_us=point.checkpoint.time_us,
            compact_msn=point.checkpoint.media_sequence,
            compact_dsn=point.checkpoint.discontinuity_sequence,
            compact_subtitles=dict(point.checkpoint.subtitle_sequences),
        )
    )
