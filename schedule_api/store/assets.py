"""SQL for asset versions (immutable indexes, editable guide metadata)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import Conflict, NotFound
from engine.model import AssetKey
from schedule_api.store import db
from schedule_api.store.rows import AssetRow, typed

_a = db.assets.c


def _latest() -> sa.Subquery:
    return sa.select(_a.id, sa.func.max(_a.version).label("version")).group_by(_a.id).subquery()


def _with_latest(latest: sa.Subquery) -> sa.Join:
    return db.assets.join(latest, (_a.id == latest.c.id) & (_a.version == latest.c.version))


async def latest_version(connection: AsyncConnection, asset_id: str) -> int | None:
    latest = (
        await connection.execute(sa.select(sa.func.max(_a.version)).where(_a.id == asset_id))
    ).scalar()
    return None if latest is None else int(latest)


async def versions(connection: AsyncConnection, asset_id: str) -> list[int]:
    rows = await connection.execute(
        sa.select(_a.version).where(_a.id == asset_id).order_by(_a.version)
    )
    return [row.version for row in rows]


async def get(connection: AsyncConnection, asset_id: str, version: int) -> AssetRow:
    row = (
        await connection.execute(
            db.assets.select().where((_a.id == asset_id) & (_a.version == version))
        )
    ).first()
    if row is None:
        raise NotFound("id", f"asset {asset_id!r} version {version} does not exist")
    return typed(AssetRow, row)


async def insert(connection: AsyncConnection, asset: AssetRow, index_json: str) -> None:
    try:
        await connection.execute(
            db.assets.insert().values(
                **{name: getattr(asset, name) for name in AssetRow.__dataclass_fields__},
                index_json=index_json,
            )
        )
    except IntegrityError:
        raise Conflict(
            "id", f"asset {asset.id!r} version {asset.version} was ingested meanwhile"
        ) from None


async def index_text(connection: AsyncConnection, asset_id: str, version: int) -> str:
    """The stored AssetIndexModel JSON of an asset version."""
    text = (
        await connection.execute(
            sa.select(_a.index_json).where((_a.id == asset_id) & (_a.version == version))
        )
    ).scalar_one()
    return str(text)


async def index_texts(connection: AsyncConnection, keys: Sequence[AssetKey]) -> dict[AssetKey, str]:
    """The stored index JSON of these asset versions (the ones that exist), in one query."""
    if not keys:
        return {}
    wanted = sa.tuple_(_a.id, _a.version).in_([tuple(key) for key in keys])
    rows = await connection.execute(sa.select(_a.id, _a.version, _a.index_json).where(wanted))
    return {(row.id, row.version): str(row.index_json) for row in rows}


async def search(
    connection: AsyncConnection, query: str, limit: int, offset: int
) -> tuple[list[AssetRow], int]:
    """The latest version of each asset whose id or title contains `query`, by id, and how
    many there are in all."""
    joined = _with_latest(_latest())
    condition: sa.ColumnElement[bool] = sa.true()
    if query:  # LIKE's wildcards in the query stand for themselves
        escaped = re.sub(r"([\\%_])", r"\\\1", query.lower())
        pattern = f"%{escaped}%"
        condition = sa.or_(
            sa.func.lower(_a.title).like(pattern, escape="\\"),
            _a.id.like(pattern, escape="\\"),
        )
    total = (
        await connection.execute(sa.select(sa.func.count()).select_from(joined).where(condition))
    ).scalar_one()
    rows = await connection.execute(
        sa.select(db.assets)
        .select_from(joined)
        .where(condition)
        .order_by(_a.id)
        .limit(limit)
        .offset(offset)
    )
    return [typed(AssetRow, row) for row in rows], int(total)


async def latest_with_tags(connection: AsyncConnection) -> list[tuple[str, int, list[str]]]:
    """(id, version, tags) of the latest version of every asset, by episode and id."""
    rows = await connection.execute(
        sa.select(_a.id, _a.version, _a.tags)
        .select_from(_with_latest(_latest()))
        .order_by(_a.episode, _a.id)
    )
    return [(row.id, row.version, list(row.tags)) for row in rows]


async def of_keys(connection: AsyncConnection, keys: set[AssetKey]) -> list[AssetRow]:
    """The rows of these asset versions."""
    if not keys:
        return []
    rows = await connection.execute(
        db.assets.select().where(_a.id.in_(sorted({key[0] for key in keys})))
    )
    return [typed(AssetRow, row) for row in rows if (row.id, row.version) in keys]


async def update(connection: AsyncConnection, asset_id: str, changes: dict[str, Any]) -> None:
    """Change metadata columns of every version of an asset."""
    result = await connection.execute(db.assets.update().where(_a.id == asset_id).values(**changes))
    if result.rowcount == 0:
        raise NotFound("id", f"asset {asset_id!r} does not exist")


async def delete(connection: AsyncConnection, asset_id: str) -> None:
    result = await connection.execute(db.assets.delete().where(_a.id == asset_id))
    if result.rowcount == 0:
        raise NotFound("id", f"asset {asset_id!r} does not exist")
