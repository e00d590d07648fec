"""SQL for schedule events."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import Conflict, NotFound
from schedule_api.store import db
from schedule_api.store.rows import EventRow, typed, values

_e = db.events.c
_WITH_TITLES = (*db.events.c, db.assets.c.title.label("asset_title"))
_JOINED = db.events.join(
    db.assets,
    (_e.asset_id == db.assets.c.id) & (_e.asset_version == db.assets.c.version),
)


async def overlapping(
    connection: AsyncConnection, channel_id: str, start_us: int, end_us: int, limit: int
) -> list[EventRow]:
    """Events of a channel that overlap [start_us, end_us), by start, with asset titles."""
    rows = await connection.execute(
        sa.select(*_WITH_TITLES)
        .select_from(_JOINED)
        .where((_e.channel_id == channel_id) & (_e.start_us < end_us))
        .where(_e.start_us + _e.duration_us > start_us)
        .order_by(_e.start_us)
        .limit(limit)
    )
    return [typed(EventRow, row) for row in rows]


async def get(connection: AsyncConnection, channel_id: str, event_id: str) -> EventRow:
    """One event with its asset's title (NotFound names event_id)."""
    row = (
        await connection.execute(
            sa.select(*_WITH_TITLES)
            .select_from(_JOINED)
            .where((_e.channel_id == channel_id) & (_e.id == event_id))
        )
    ).first()
    if row is None:
        raise NotFound("event_id", f"channel {channel_id!r} has no event {event_id!r}")
    return typed(EventRow, row)


async def meeting(
    connection: AsyncConnection, channel_id: str, start_us: int, end_us: int, leave_out: str
) -> list[EventRow]:
    """Events of a channel that overlap [start_us, end_us), except the one `leave_out`."""
    rows = await connection.execute(
        db.events.select().where(
            (_e.channel_id == channel_id)
            & (_e.start_us < end_us)
            & (_e.start_us + _e.duration_us > start_us)
            & (_e.id != leave_out)
        )
    )
    return [typed(EventRow, row) for row in rows]


async def busy(
    connection: AsyncConnection, channel_id: str, from_us: int, until_us: int
) -> list[tuple[int, int]]:
    """(start, end) of the channel's events that a rule placing items from from_us to
    until_us can meet: those that overlap [from_us, until_us), and the first one after. A
    channel's events never overlap, so only the last one starting before from_us can reach
    into it. Three indexed queries: their cost does not grow with the channel's schedule."""
    here = _e.channel_id == channel_id
    columns = (_e.start_us, _e.duration_us)
    before = sa.select(*columns).where(here & (_e.start_us < from_us))
    within = sa.select(*columns).where(here & (_e.start_us >= from_us) & (_e.start_us < until_us))
    after = sa.select(*columns).where(here & (_e.start_us >= until_us))
    rows = [
        *(await connection.execute(before.order_by(_e.start_us.desc()).limit(1))),
        *(await connection.execute(within)),
        *(await connection.execute(after.order_by(_e.start_us).limit(1))),
    ]
    return [
        (row.start_us, row.start_us + row.duration_us)
        for row in rows
        if row.start_us + row.duration_us > from_us
    ]


async def insert_raw(connection: AsyncConnection, event: EventRow) -> None:
    """Insert an event; a taken id or rule occurrence raises IntegrityError."""
    await connection.execute(db.events.insert().values(**values(event, leave_out=("asset_title",))))


_COLUMNS = tuple(column.name for column in db.events.c)


def insert_parameters(event: EventRow) -> tuple[Any, ...]:
    """An event as the driver's parameters for insert_many, in column order (CPU only: a
    rule step prepares hundreds of them in a worker thread)."""
    return tuple(
        json.dumps(event.breaks) if name == "breaks" else getattr(event, name) for name in _COLUMNS
    )


async def insert_many(connection: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    """Insert events given as insert_parameters, in one driver-level statement (SQLAlchemy's
    own parameter processing of hundreds of rows would run on the event loop); a taken id or
    rule occurrence raises IntegrityError."""
    if rows:
        statement = db.events.insert().compile(dialect=connection.dialect, column_keys=_COLUMNS)
        await connection.exec_driver_sql(str(statement), rows)


async def insert(connection: AsyncConnection, event: EventRow) -> None:
    """Insert an event; a taken id is a Conflict."""
    try:
        await insert_raw(connection, event)
    except IntegrityError:
        raise Conflict("id", "an event with this id already exists") from None


async def save(connection: AsyncConnection, event: EventRow) -> None:
    """Write every column of an existing event."""
    await connection.execute(
        db.events.update()
        .where(_e.id == event.id)
        .values(**values(event, leave_out=("id", "channel_id", "created_us", "asset_title")))
    )


async def delete(connection: AsyncConnection, event_ids: list[str]) -> None:
    if event_ids:
        await connection.execute(db.events.delete().where(_e.id.in_(event_ids)))


async def delete_of_rule(connection: AsyncConnection, rule_id: str, from_us: int) -> int:
    """Delete a rule's events that start at or after from_us; how many went."""
    result = await connection.execute(
        db.events.delete().where((_e.rule_id == rule_id) & (_e.start_us >= from_us))
    )
    return int(result.rowcount)


async def first_use(connection: AsyncConnection, asset_id: str) -> EventRow | None:
    """The earliest event that plays any version of the asset."""
    row = (
        await connection.execute(
            db.events.select().where(_e.asset_id == asset_id).order_by(_e.start_us).limit(1)
        )
    ).first()
    return None if row is None else typed(EventRow, row)
