"""Rules that fill the schedule, the event -> rule link, asset tags, channel groups.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(
            sa.Column("group_title", sa.String(100), nullable=False, server_default="")
        )
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("tags", sa.JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("rule_id", sa.String(63), nullable=True))
        batch.add_column(sa.Column("occurrence", sa.String(120), nullable=True))
        batch.create_unique_constraint("events_rule_occurrence", ["rule_id", "occurrence"])
    op.create_table(
        "rules",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column(
            "channel_id",
            sa.String(63),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("materialised_us", sa.BigInteger, nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("rules_channel", "rules", ["channel_id"])


def downgrade() -> None:
    op.drop_index("rules_channel", "rules")
    op.drop_table("rules")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("events_rule_occurrence", type_="unique")
        batch.drop_column("occurrence")
        batch.drop_column("rule_id")
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("tags")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("group_title")
