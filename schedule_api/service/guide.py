"""Guide metadata of the asset versions a guide lists."""

from __future__ import annotations

from engine.model import AssetKey
from schedule_api.domain.guide import ProgramInfo
from schedule_api.store import Store
from schedule_api.store import assets as asset_rows


async def program_info(store: Store, keys: set[AssetKey]) -> dict[AssetKey, ProgramInfo]:
    async with store.read() as connection:
        rows = await asset_rows.of_keys(connection, keys)
    return {
        (row.id, row.version): ProgramInfo(
            row.description, row.genre, row.episode, row.rating, row.artwork_url
        )
        for row in rows
    }
