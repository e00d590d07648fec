"""Storage: SQL only (SQLAlchemy Core, one code path for SQLite and PostgreSQL), returning the
typed rows of schedule_api/store/rows.py. The modules beside this one hold the queries, one
per table; each takes the connection it runs on, so that the service layer decides what one
transaction holds. The store never reads a clock: instants are passed in.

Plan writes are serialised (`Store.write`: an in-process lock, plus a transaction-scoped
advisory lock on PostgreSQL so that several service processes agree) and append a row to
`changes`, so plan revisions are committed in increasing order and a poller that asks for
changes after revision R never misses one.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.errors import NotFound
from engine.model import AssetIndex, AssetKey, describe
from engine.plan_format import AssetIndexModel
from schedule_api.store import db

ADVISORY_LOCK = 7_301_001
"""PostgreSQL advisory lock key that serialises plan writes across service processes."""
INDEX_CACHE_SIZE = 256
"""Parsed asset indexes kept (they are immutable)."""


class Store:
    """The database, its write serialisation and the cache of parsed asset indexes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock = asyncio.Lock()
        self._indexes: OrderedDict[AssetKey, AssetIndex] = OrderedDict()

    def read(self) -> AsyncConnection:
        """A connection for reads (`async with store.read() as connection`)."""
        return self.engine.connect()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, serialised with every other plan write."""
        async with self._write_lock, self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK}
                )
            yield connection

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A transaction for writes that change no plan (assets, ingest jobs)."""
        return self.engine.begin()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def index(self, key: AssetKey, connection: AsyncConnection | None = None) -> AssetIndex:
        """The parsed index of one asset version (NotFound names it); cached, as an asset
        version never changes."""
        cached = self._indexes.get(key)
        if cached is not None:
            self._indexes.move_to_end(key)
            return cached
        query = sa.select(db.assets.c.index_json).where(
            (db.assets.c.id == key[0]) & (db.assets.c.version == key[1])
        )
        if connection is None:
            async with self.engine.connect() as own:
                text = (await own.execute(query)).scalar()
        else:
            text = (await connection.execute(query)).scalar()
        if text is None:
            raise NotFound("asset", f"{describe(key)} does not exist")
        index = AssetIndexModel.model_validate(json.loads(text)).to_core()
        self._indexes[key] = index
        if len(self._indexes) > INDEX_CACHE_SIZE:
            self._indexes.popitem(last=False)
        return index

    def forget_asset(self, asset_id: str) -> None:
        """Drop the cached indexes of a deleted asset."""
        for key in [k for k in self._indexes if k[0] == asset_id]:
            del self._indexes[key]
