"""SQL for rules."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import Conflict, NotFound
from schedule_api.store import db
from schedule_api.store.rows import RuleRow, typed, values

_r = db.rules.c


async def get(connection: AsyncConnection, channel_id: str, rule_id: str) -> RuleRow:
    row = (
        await connection.execute(
            db.rules.select().where((_r.channel_id == channel_id) & (_r.id == rule_id))
        )
    ).first()
    if row is None:
        raise NotFound("rule_id", f"channel {channel_id!r} has no rule {rule_id!r}")
    return typed(RuleRow, row)


async def of_channel(connection: AsyncConnection, channel_id: str) -> list[RuleRow]:
    rows = await connection.execute(
        db.rules.select().where(_r.channel_id == channel_id).order_by(_r.created_us, _r.id)
    )
    return [typed(RuleRow, row) for row in rows]


async def insert(connection: AsyncConnection, rule: RuleRow) -> None:
    try:
        await connection.execute(db.rules.insert().values(**values(rule)))
    except IntegrityError:
        raise Conflict("id", f"rule {rule.id!r} already exists") from None


async def advance(
    connection: AsyncConnection, rule_id: str, state: dict[str, Any], now_us: int
) -> None:
    """Store how far a rule has materialised."""
    await connection.execute(
        db.rules.update()
        .where(_r.id == rule_id)
        .values(state=state, materialised_us=now_us, updated_us=now_us)
    )


async def delete(connection: AsyncConnection, rule_id: str) -> None:
    await connection.execute(db.rules.delete().where(_r.id == rule_id))


async def all_ids(connection: AsyncConnection) -> list[tuple[str, str]]:
    """(channel id, rule id) of every rule, in the order they materialise."""
    rows = await connection.execute(
        sa.select(_r.channel_id, _r.id).order_by(_r.channel_id, _r.created_us, _r.id)
    )
    return [(row.channel_id, row.id) for row in rows]
