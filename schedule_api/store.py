"""Storage of channels and asset versions: SQLAlchemy Core, one code path for both databases.

Every write is one transaction; a unique-key violation becomes a 409 that says what collided.
`now_us` is passed in (microseconds since the epoch): the store never reads a clock.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine.model import AssetIndex, rounded_seconds
from engine.plan_format import AssetIndexModel, ProfileEntryModel
from engine.render import format_date
from schedule_api import db
from schedule_api.errors import Conflict, NotFound
from schedule_api.models import Asset, Channel, RenditionSummary


def _channel(row: sa.Row[Any]) -> Channel:
    return Channel(
        id=row.id,
        name=row.name,
        slate=row.slate_asset_id,
        target_duration=row.target_duration,
        window_seconds=row.window_ms / 1000,
        time_zone=row.time_zone,
        artwork_url=row.artwork_url,
        profile=[ProfileEntryModel.model_validate(p) for p in row.profile],
        playback_path=f"/live/master.m3u8?channel={row.id}",
        created=format_date(row.created_us),
        created_ms=row.created_us // 1000,
        updated=format_date(row.updated_us),
        updated_ms=row.updated_us // 1000,
    )


def _asset(row: sa.Row[Any], versions: list[int]) -> Asset:
    return Asset(
        id=row.id,
        version=row.version,
        versions=versions,
        url=row.url,
        title=row.title,
        description=row.description,
        genre=row.genre,
        episode=row.episode,
        rating=row.rating,
        artwork_url=row.artwork_url,
        container=row.container,
        duration_seconds=row.duration_us / 1e6,
        duration_ms=row.duration_us // 1000,
        max_segment_seconds=row.max_segment_us / 1e6,
        renditions=[RenditionSummary.model_validate(r) for r in row.renditions],
        ingested=format_date(row.ingested_us),
        ingested_ms=row.ingested_us // 1000,
    )


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    # --- channels ------------------------------------------------------------------------
    async def create_channel(self, values: dict[str, Any], now_us: int) -> Channel:
        row = {**values, "checkpoint_us": now_us // 1_000_000 * 1_000_000}
        row.update(created_us=now_us, updated_us=now_us)
        try:
            async with self.engine.begin() as connection:
                await connection.execute(db.channels.insert().values(**row))
        except IntegrityError:
            raise Conflict("id", f"channel {values['id']!r} already exists") from None
        return await self.channel(values["id"])

    async def channel(self, channel_id: str) -> Channel:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(db.channels.select().where(db.channels.c.id == channel_id))
            ).first()
        if row is None:
            raise NotFound("id", f"channel {channel_id!r} does not exist")
        return _channel(row)

    async def channels(self) -> list[Channel]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(db.channels.select().order_by(db.channels.c.id))).all()
        return [_channel(row) for row in rows]

    async def update_channel(
        self, channel_id: str, changes: dict[str, Any], now_us: int
    ) -> Channel:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                db.channels.update()
                .where(db.channels.c.id == channel_id)
                .values(**changes, updated_us=now_us)
            )
        if result.rowcount == 0:
            raise NotFound("id", f"channel {channel_id!r} does not exist")
        return await self.channel(channel_id)

    async def delete_channel(self, channel_id: str) -> None:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                db.channels.delete().where(db.channels.c.id == channel_id)
            )
        if result.rowcount == 0:
            raise NotFound("id", f"channel {channel_id!r} does not exist")

    # --- assets --------------------------------------------------------------------------
    async def next_asset_version(self, asset_id: str) -> int:
        async with self.engine.connect() as connection:
            latest = (
                await connection.execute(
                    sa.select(sa.func.max(db.assets.c.version)).where(db.assets.c.id == asset_id)
                )
            ).scalar()
        return int(latest or 0) + 1

    async def add_asset(self, index: AssetIndex, meta: dict[str, Any], now_us: int) -> Asset:
        row = {
            "id": index.id,
            "version": index.version,
            "url": index.url,
            "title": meta["title"],
            "description": meta.get("description", ""),
            "genre": meta.get("genre", ""),
            "episode": meta.get("episode", ""),
            "rating": meta.get("rating", ""),
            "artwork_url": meta.get("artwork_url"),
            "container": index.container.value,
            "duration_us": index.duration_us,
            "max_segment_us": index.max_segment_us(),
            "renditions": [
                {
                    "name": r.name,
                    "bandwidth": r.bandwidth,
                    "codecs": r.codecs,
                    "resolution": f"{r.resolution[0]}x{r.resolution[1]}" if r.resolution else None,
                    "segments": len(r.segments),
                }
                for r in index.renditions
            ],
            "index_json": AssetIndexModel.from_core(index).model_dump_json(exclude_none=True),
            "ingested_us": now_us,
        }
        try:
            async with self.engine.begin() as connection:
                await connection.execute(db.assets.insert().values(**row))
        except IntegrityError:
            raise Conflict(
                "id", f"asset {index.id!r} version {index.version} was ingested meanwhile"
            ) from None
        return await self.asset(index.id)

    async def _versions(self, connection: AsyncConnection, asset_id: str) -> list[int]:
        rows = await connection.execute(
            sa.select(db.assets.c.version)
            .where(db.assets.c.id == asset_id)
            .order_by(db.assets.c.version)
        )
        return [row.version for row in rows]

    async def asset(self, asset_id: str, version: int | None = None) -> Asset:
        async with self.engine.connect() as connection:
            versions = await self._versions(connection, asset_id)
            wanted = version if version is not None else (versions[-1] if versions else None)
            if wanted not in versions:
                what = f"asset {asset_id!r}" + (f" version {version}" if version else "")
                raise NotFound("id", f"{what} does not exist")
            row = (
                await connection.execute(
                    db.assets.select().where(
                        (db.assets.c.id == asset_id) & (db.assets.c.version == wanted)
                    )
                )
            ).one()
        return _asset(row, versions)

    async def asset_index(self, asset_id: str, version: int | None = None) -> tuple[int, str]:
        """(version, AssetIndexModel JSON) of an asset version (the latest by default)."""
        asset = await self.asset(asset_id, version)
        async with self.engine.connect() as connection:
            text = (
                await connection.execute(
                    sa.select(db.assets.c.index_json).where(
                        (db.assets.c.id == asset_id) & (db.assets.c.version == asset.version)
                    )
                )
            ).scalar_one()
        return asset.version, str(text)

    async def asset_core(self, asset_id: str) -> AssetIndex:
        _version, text = await self.asset_index(asset_id)
        return AssetIndexModel.model_validate(json.loads(text)).to_core()

    async def assets(self, query: str, limit: int, offset: int) -> tuple[list[Asset], int]:
        """Latest version of each asset whose id or title contains `query`, by id."""
        latest = (
            sa.select(db.assets.c.id, sa.func.max(db.assets.c.version).label("version"))
            .group_by(db.assets.c.id)
            .subquery()
        )
        joined = db.assets.join(
            latest, (db.assets.c.id == latest.c.id) & (db.assets.c.version == latest.c.version)
        )
        condition: sa.ColumnElement[bool] = sa.true()
        if query:
            pattern = f"%{query.lower()}%"
            condition = sa.or_(
                sa.func.lower(db.assets.c.title).like(pattern), db.assets.c.id.like(pattern)
            )
        async with self.engine.connect() as connection:
            total = (
                await connection.execute(
                    sa.select(sa.func.count()).select_from(joined).where(condition)
                )
            ).scalar_one()
            rows = (
                await connection.execute(
                    sa.select(db.assets)
                    .select_from(joined)
                    .where(condition)
                    .order_by(db.assets.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            items = [_asset(row, await self._versions(connection, row.id)) for row in rows]
        return items, int(total)

    async def delete_asset(self, asset_id: str) -> None:
        async with self.engine.begin() as connection:
            users = (
                await connection.execute(
                    sa.select(db.channels.c.id).where(db.channels.c.slate_asset_id == asset_id)
                )
            ).all()
            if users:
                raise Conflict(
                    "id",
                    f"asset {asset_id!r} is the slate of channel(s) "
                    f"{', '.join(r.id for r in users)}",
                )
            result = await connection.execute(db.assets.delete().where(db.assets.c.id == asset_id))
        if result.rowcount == 0:
            raise NotFound("id", f"asset {asset_id!r} does not exist")


def max_rounded_segment(asset: AssetIndex) -> int:
    return rounded_seconds(asset.max_segment_us())
