"""Plan changes say how far back they reach: each change's earliest changed block start
(NULL: the whole plan) and whether it moved the plan's checkpoint, so that the plan feed can
send engines changes instead of whole plans.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.add_column(sa.Column("reach_us", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("moved", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("moved")
        batch.drop_column("reach_us")
