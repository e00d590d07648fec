"""Each channel's plan feed horizon falls at its own offset before the hour, so that the
horizon moves for a few channels at a time (schedule_api/domain/horizon.py); existing
channels get the offset of their id.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from schedule_api.domain.horizon import horizon_offset_us

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(
            sa.Column("horizon_offset_us", sa.BigInteger, nullable=False, server_default="0")
        )
    bind = op.get_bind()
    ids = bind.execute(sa.text("SELECT id FROM channels")).scalars().all()
    if ids:
        bind.execute(
            sa.text("UPDATE channels SET horizon_offset_us = :offset WHERE id = :id"),
            [{"id": channel_id, "offset": horizon_offset_us(channel_id)} for channel_id in ids],
        )


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("horizon_offset_us")
