"""Ad breaks and tracks: each channel's ad marker options, break rule, audio and subtitle
tracks, and its subtitle sequence numbers at the compaction point; each event's ad breaks.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("ad_markers", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("break_rule", sa.JSON, nullable=True))
        batch.add_column(sa.Column("audio_tracks", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("subtitle_tracks", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("subtitle_target_duration", sa.Integer, nullable=False, server_default="6")
        )
        batch.add_column(sa.Column("compact_subtitles", sa.JSON, nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("breaks", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("breaks")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("compact_subtitles")
        batch.drop_column("subtitle_target_duration")
        batch.drop_column("subtitle_tracks")
        batch.drop_column("audio_tracks")
        batch.drop_column("break_rule")
        batch.drop_column("ad_markers")
