"""SQL for what plans are made of: the revision log, the events from each channel's plan
start, and the compaction point."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from common.instants import LATEST_US, US_PER_S
from engine.compaction import CompactionPoint
from schedule_api.domain.horizon import HORIZON_STEP_US, is_feed_instant
from schedule_api.store import db
from schedule_api.store.rows import ChannelRow, EventRow, typed

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


@dataclass(frozen=True, slots=True)
class Reach:
    """What the changes of one channel in a range of revisions touched."""

    whole: bool
    """Some change was to the whole plan (the channel was created or reconfigured)."""
    moved: bool
    """Some change moved the plan's checkpoint."""
    reach_us: int
    """The earliest block start changed (LATEST_US: none)."""


def _in_range(since: int, until: int) -> sa.ColumnElement[bool]:
    return (_c.revision > since) & (_c.revision <= until)


_whole = sa.func.count() > sa.func.count(_c.reach_us)
_moved = sa.func.max(sa.case((_c.moved, 1), else_=0)) > 0
_earliest = sa.func.min(_c.reach_us)


async def changed(
    connection: AsyncConnection, since: int, until: int, after: str, limit: int, before_us: int
) -> list[str]:
    """Ids of the channels changed in revisions (since, until] in a way that matters before
    before_us (the whole plan, the checkpoint, or a block starting before it), by id after
    `after`, at most `limit` of them."""
    rows = await connection.execute(
        sa.select(_c.channel_id)
        .where(_in_range(since, until) & (_c.channel_id > after))
        .group_by(_c.channel_id)
        .having(_whole | _moved | (_earliest < before_us))
        .order_by(_c.channel_id)
        .limit(limit)
    )
    return [row.channel_id for row in rows]


def _channel_horizon(instant_us: int) -> sa.ColumnElement[int]:
    """domain.horizon.channel_horizon_us in SQL, for every channel at once."""
    step = sa.literal(HORIZON_STEP_US, sa.BigInteger)
    offset = _ch.horizon_offset_us
    return ((offset + sa.literal(instant_us, sa.BigInteger)) // step + 1) * step - offset


async def changed_or_moved(
    connection: AsyncConnection,
    since: int,
    until: int,
    after: str,
    limit: int,
    before_us: int,
    held_us: int,
    instant_us: int,
) -> list[str]:
    """Ids of the channels `changed` lists, and of those whose feed horizon at instant_us is
    beyond the one held (domain.horizon.held_horizon_us of held_us), by id after `after`, at
    most `limit` of them."""
    held = (
        _channel_horizon(held_us)
        if is_feed_instant(held_us)
        else sa.literal(held_us, sa.BigInteger)
    )
    ids = sa.union(
        sa.select(_c.channel_id.label("id"))
        .where(_in_range(since, until) & (_c.channel_id > after))
        .group_by(_c.channel_id)
        .having(_whole | _moved | (_earliest < before_us)),
        sa.select(_ch.id.label("id")).where(
            (_ch.id > after) & (_channel_horizon(instant_us) > held)
        ),
    ).subquery()
    rows = await connection.execute(sa.select(ids.c.id).order_by(ids.c.id).limit(limit))
    return [row.id for row in rows]


async def every_id(
    connection: AsyncConnection, since: int, until: int, after: str, limit: int
) -> list[str]:
    """Ids of every channel, and of those deleted in revisions (since, until], by id after
    `after`, at most `limit` of them."""
    ids = sa.union(
        sa.select(_ch.id.label("id")).where(_ch.id > after),
        sa.select(_c.channel_id.label("id")).where(
            _in_range(since, until) & _c.deleted & (_c.channel_id > after)
        ),
    ).subquery()
    rows = await connection.execute(sa.select(ids.c.id).order_by(ids.c.id).limit(limit))
    return [row.id for row in rows]


async def reaches(
    connection: AsyncConnection, since: int, until: int, ids: Sequence[str]
) -> dict[str, Reach]:
    """What the changes in revisions (since, until] touched, for the channels among `ids`
    that have any."""
    rows = await connection.execute(
        sa.select(_c.channel_id, _whole, _moved, _earliest)
        .where(_in_range(since, until) & _c.channel_id.in_(ids))
        .group_by(_c.channel_id)
    )
    return {
        channel_id: Reach(bool(whole), bool(moved), LATEST_US if reach is None else int(reach))
        for channel_id, whole, moved, reach in rows
    }


async def plan_events(
    connection: AsyncConnection,
    ids: Sequence[str],
    full: bool,
    from_us: int | None = None,
    before_us: int | None = None,
) -> dict[str, list[EventRow]]:
    """The events of each channel by start, from its compaction event on (with `full`, from
    its creation): one query whatever the number of channels, the compaction event's start
    joined in. With from_us, only the events starting then or later, and the compaction
    event; with before_us, only those starting before it."""
    point = db.events.alias("point")
    # `breaks` as its JSON text: decoded with the rows in a worker thread, not on the loop
    columns = [c for c in db.events.c if c.name != "breaks"]
    query = (
        sa.select(*columns, sa.type_coerce(_e.breaks, sa.Text).label("breaks"))
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
    if from_us is not None:
        query = query.where((_e.start_us >= from_us) | (_e.id == _ch.compact_event_id))
    if before_us is not None:
        query = query.where(_e.start_us < before_us)
    rows = (await connection.execute(query)).all()

    def group() -> dict[str, list[EventRow]]:
        found: dict[str, list[EventRow]] = {channel_id: [] for channel_id in ids}
        for row in rows:
            event = typed(EventRow, row)  # type: ignore[arg-type]
            if isinstance(event.breaks, str):
                event = replace(event, breaks=json.loads(event.breaks))
            found[row.channel_id].append(event)
        return found

    # tens of thousands of rows for a page of long plans: not on the event loop
    return await asyncio.to_thread(group)


def keep_us(channel: ChannelRow, retention_us: int) -> int:
    """How much history a channel's plan keeps: its time-shift limit plus two windows (what
    time-shift may still serve), and at least retention_us."""
    return max(retention_us, channel.max_shift_seconds * US_PER_S + 2 * channel.window_ms * 1000)


def kept_history_us(retention_us: int) -> sa.ColumnElement[int]:
    """keep_us in SQL, for every channel in one query."""

    def big(value: int) -> sa.ColumnElement[int]:
        return sa.literal(value, sa.BigInteger)  # microseconds overflow PostgreSQL's integer

    own = _ch.max_shift_seconds * big(US_PER_S) + _ch.window_ms * big(2 * 1000)
    return sa.case((own > big(retention_us), own), else_=big(retention_us))


async def compaction_candidates(
    connection: AsyncConnection, now_us: int, retention_us: int, slack_us: int = 0
) -> list[str]:
    """The channels with a program scheduled after their plan's start and at least the
    history they keep ago (the only ones whose plan can compact), whose plan starts more
    than that history + slack_us ago."""
    point = db.events.alias("point")
    keep = kept_history_us(retention_us)
    start = sa.func.coalesce(point.c.start_us, _ch.checkpoint_us)
    query = (
        sa.select(_ch.id)
        .distinct()
        .select_from(
            db.channels.join(db.events, _e.channel_id == _ch.id).outerjoin(
                point, point.c.id == _ch.compact_event_id
            )
        )
        .where(_e.start_us <= sa.literal(now_us, sa.BigInteger) - keep)
        .where(_e.start_us > start)
        .where(start < sa.literal(now_us - slack_us, sa.BigInteger) - keep)
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
