"""Channels and asset versions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("target_duration", sa.Integer, nullable=False),
        sa.Column("window_ms", sa.Integer, nullable=False),
        sa.Column("slate_asset_id", sa.String(63), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("artwork_url", sa.Text, nullable=True),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("checkpoint_us", sa.BigInteger, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "assets",
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
        sa.Column("ingested_us", sa.BigInteger, nullable=False),
    )
    op.create_index("assets_title", "assets", ["title"])


def downgrade() -> None:
    op.drop_index("assets_title", "assets")
    op.drop_table("assets")
    op.drop_table("channels")
