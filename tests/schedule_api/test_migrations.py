"""Data migrations on a database written by an earlier release (SQLite)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from schedule_api.domain.horizon import horizon_offset_us
from schedule_api.store import db
from schedule_api.store.db import create_engine, migrate


def _upgrade_to(connection: sa.Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_existing_channels_get_the_horizon_offset_of_their_id(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0006")
            for channel_id in ("news", "sport"):
                await connection.execute(
                    sa.text(
                        "INSERT INTO channels (id, name, target_duration, window_ms, "
                        "slate_asset_id, time_zone, profile, checkpoint_us, created_us, "
                        "updated_us) VALUES (:id, 'N', 2, 30000, 'slate', 'UTC', '[]', 0, 0, 0)"
                    ),
                    {"id": channel_id},
                )
        await migrate(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.select(db.channels.c.id, db.channels.c.horizon_offset_us)
            )
            found = dict(rows.all())
    finally:
        await engine.dispose()
    assert found == {i: horizon_offset_us(i) for i in ("news", "sport")}
