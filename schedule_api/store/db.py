"""Tables (SQLAlchemy Core) and the database engine, one code path for SQLite and PostgreSQL.

Instants are integer microseconds since the epoch, as in the engine's core. Migrations live in
schedule_api/migrations (Alembic) and are applied when the service starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = sa.MetaData()

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("id", sa.String(63), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("target_duration", sa.Integer, nullable=False),
    sa.Column("window_ms", sa.Integer, nullable=False),
    sa.Column("slate_asset_id", sa.String(63), nullable=False),
    sa.Column("slate_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("artwork_url", sa.Text, nullable=True),
    sa.Column("profile", sa.JSON, nullable=False),
    sa.Column("group_title", sa.String(100), nullable=False, server_default=""),
    sa.Column("checkpoint_us", sa.BigInteger, nullable=False),
    sa.Column("compact_event_id", sa.String(63), nullable=True),
    sa.Column("compact_us", sa.BigInteger, nullable=True),
    sa.Column("compact_msn", sa.BigInteger, nullable=True),
    sa.Column("compact_dsn", sa.BigInteger, nullable=True),
    sa.Column("compact_subtitles", sa.JSON, nullable=True),
    sa.Column("max_shift_seconds", sa.Integer, nullable=False, server_default="86400"),
    sa.Column("ad_markers", sa.JSON, nullable=False, server_default="{}"),
    sa.Column("break_rule", sa.JSON, nullable=True),
    sa.Column("audio_tracks", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("subtitle_tracks", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("subtitle_target_duration", sa.Integer, nullable=False, server_default="6"),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
    # schedule_api/domain/horizon.py: where the channel's plan feed horizon falls in the hour
    sa.Column("horizon_offset_us", sa.BigInteger, nullable=False, server_default="0"),
)

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.String(63), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("genre", sa.String(100), nullable=False),
    sa.Column("episode", sa.String(100), nullable=False),
    sa.Column("rating", sa.String(50), nullable=False),
    sa.Column("artwork_url", sa.Text, nullable=True),
    sa.Column("container", sa.String(8), nullable=False),
    sa.Column("duration_us", sa.BigInteger, nullable=False),
    sa.Column("max_segment_us", sa.BigInteger, nullable=False),
    sa.Column("renditions", sa.JSON, nullable=False),
    sa.Column("index_json", sa.Text, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("ingested_us", sa.BigInteger, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(63), primary_key=True),
    sa.Column("channel_id", sa.String(63), sa.ForeignKey("channels.id", ondelete="CASCADE")),
    sa.Column("asset_id", sa.String(63), nullable=False),
    sa.Column("asset_version", sa.Integer, nullable=False),
    sa.Column("start_us", sa.BigInteger, nullable=False),
    sa.Column("duration_us", sa.BigInteger, nullable=False),
    sa.Column("first_segment", sa.Integer, nullable=False),
    sa.Column("end_segment", sa.Integer, nullable=False),
    sa.Column("clip_in_us", sa.BigInteger, nullable=True),
    sa.Column("clip_out_us", sa.BigInteger, nullable=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
    sa.Column("rule_id", sa.String(63), nullable=True),
    sa.Column("occurrence", sa.String(120), nullable=True),
    sa.Column("breaks", sa.JSON, nullable=False, server_default="[]"),
    sa.UniqueConstraint("rule_id", "occurrence", name="events_rule_occurrence"),
    sa.ForeignKeyConstraint(
        ["asset_id", "asset_version"], ["assets.id", "assets.version"], ondelete="RESTRICT"
    ),
)
"""Scheduled programs. start_us + duration_us is the nominal end (segment-exact clip length);
events of one channel never overlap nominally. A rule's events carry its id and an occurrence
key that is unique per rule, so materialising twice can never create an event twice; a
hand-made event has neither."""

rules = sa.Table(
    "rules",
    metadata,
    sa.Column("id", sa.String(63), primary_key=True),
    sa.Column("channel_id", sa.String(63), sa.ForeignKey("channels.id", ondelete="CASCADE")),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("start_us", sa.BigInteger, nullable=False),
    sa.Column("materialised_us", sa.BigInteger, nullable=True),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
)
"""Rules that fill a channel ahead of time. `state` is the rule's cursor (how far it has
materialised and how many items it has placed), written in the same transaction as the
events it made."""

changes = sa.Table(
    "changes",
    metadata,
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel_id", sa.String(63), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("reach_us", sa.BigInteger, nullable=True),
    sa.Column("moved", sa.Boolean, nullable=False, server_default=sa.false()),
)
"""One row per write that changed a channel's plan; a channel's plan revision is its latest
row. Writers are serialised, so revisions are committed in increasing order. `reach_us` is
the earliest start of a block the write added, removed or changed (NULL: the whole plan, as
when a channel is created or reconfigured); `moved`: the write moved the plan's checkpoint
(compaction) and changed no block."""

ingest_jobs = sa.Table(
    "ingest_jobs",
    metadata,
    sa.Column("id", sa.String(63), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
)

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def async_url(url: str) -> str:
    """sqlite:///x -> sqlite+aiosqlite:///x; postgresql://... -> postgresql+asyncpg://..."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")


def create_engine(url: str, sqlite_journal_mode: str = "WAL") -> AsyncEngine:
    """The async engine. SQLite gets its journal mode, foreign keys, a busy timeout and
    synchronous=FULL, so that a crash loses no committed write."""
    full = async_url(url)
    if full.startswith("sqlite"):
        path = Path(full.removeprefix("sqlite+aiosqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA journal_mode={sqlite_journal_mode}")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    return create_async_engine(full, pool_pre_ping=True)


def _upgrade(connection: sa.Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
