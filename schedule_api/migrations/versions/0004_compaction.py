"""Plan compaction: where a channel's plan now starts (its original checkpoint stays for the
as-run log); each channel's time-shift limit.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("compact_event_id", sa.String(63), nullable=True))
        batch.add_column(sa.Column("compact_us", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("compact_msn", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("compact_dsn", sa.BigInteger, nullable=True))
        batch.add_column(
            sa.Column("max_shift_seconds", sa.Integer, nullable=False, server_default="86400")
        )


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("max_shift_seconds")
        batch.drop_column("compact_dsn")
        batch.drop_column("compact_msn")
        batch.drop_column("compact_us")
        batch.drop_column("compact_event_id")
