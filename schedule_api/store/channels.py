"""SQL for channels and the plan change log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import Conflict, NotFound
from schedule_api.store import db
from schedule_api.store.rows import ChannelRow, typed, values


async def record_change(
    connection: AsyncConnection,
    channel_id: str,
    now_us: int,
    *,
    reach_us: int | None,
    moved: bool = False,
    deleted: bool = False,
) -> None:
    """Append a plan revision for the channel (every plan write does, in its transaction):
    reach_us is the earliest start of a block the write changed (None: the whole plan)."""
    await connection.execute(
        db.changes.insert().values(
            channel_id=channel_id, deleted=deleted, at_us=now_us, reach_us=reach_us, moved=moved
        )
    )


async def get(connection: AsyncConnection, channel_id: str) -> ChannelRow:
    row = (
        await connection.execute(db.channels.select().where(db.channels.c.id == channel_id))
    ).first()
    if row is None:
        raise NotFound("id", f"channel {channel_id!r} does not exist")
    return typed(ChannelRow, row)


async def every(connection: AsyncConnection) -> list[ChannelRow]:
    """Every channel, by id."""
    rows = await connection.execute(db.channels.select().order_by(db.channels.c.id))
    return [typed(ChannelRow, row) for row in rows]


async def some(connection: AsyncConnection, ids: Sequence[str]) -> dict[str, ChannelRow]:
    """The channels among `ids` that exist, by id."""
    rows = await connection.execute(db.channels.select().where(db.channels.c.id.in_(ids)))
    return {row.id: typed(ChannelRow, row) for row in rows}


async def insert(connection: AsyncConnection, channel: ChannelRow) -> None:
    try:
        await connection.execute(db.channels.insert().values(**values(channel)))
    except IntegrityError:
        raise Conflict("id", f"channel {channel.id!r} already exists") from None


async def change(connection: AsyncConnection, channel_id: str, columns: dict[str, Any]) -> None:
    """Write these columns of an existing channel (only these: a compaction that committed
    meanwhile keeps its columns)."""
    result = await connection.execute(
        db.channels.update().where(db.channels.c.id == channel_id).values(**columns)
    )
    if result.rowcount == 0:
        raise NotFound("id", f"channel {channel_id!r} does not exist")


async def delete(connection: AsyncConnection, channel_id: str) -> None:
    """Delete a channel and its events."""
    await connection.execute(db.events.delete().where(db.events.c.channel_id == channel_id))
    result = await connection.execute(db.channels.delete().where(db.channels.c.id == channel_id))
    if result.rowcount == 0:
        raise NotFound("id", f"channel {channel_id!r} does not exist")


async def slate_users(connection: AsyncConnection, asset_id: str) -> list[str]:
    """Ids of the channels whose slate is this asset."""
    rows = await connection.execute(
        sa.select(db.channels.c.id).where(db.channels.c.slate_asset_id == asset_id)
    )
    return [row.id for row in rows]
