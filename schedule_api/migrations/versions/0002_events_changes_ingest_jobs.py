"""Schedule events, the change log behind the plan feed, bulk ingest jobs, pinned slates.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("slate_version", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "events",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column(
            "channel_id",
            sa.String(63),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
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
        sa.ForeignKeyConstraint(
            ["asset_id", "asset_version"],
            ["assets.id", "assets.version"],
            ondelete="RESTRICT",
        ),
    )
    op.create_index("events_channel_start", "events", ["channel_id", "start_us"])
    op.create_index("events_asset", "events", ["asset_id", "asset_version"])
    op.create_table(
        "changes",
        sa.Column("revision", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.String(63), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("changes_channel", "changes", ["channel_id", "revision"])
    op.create_table(
        "ingest_jobs",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ingest_jobs")
    op.drop_index("changes_channel", "changes")
    op.drop_table("changes")
    op.drop_index("events_asset", "events")
    op.drop_index("events_channel_start", "events")
    op.drop_table("events")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("slate_version")
