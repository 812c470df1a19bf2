"""label canaries and pins, version lifecycle marks, asset consumers, the prompt version of a run

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aifactory.store.schema

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("asset_labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pins", sa.Text(), nullable=True))
    with op.batch_alter_table("label_moves", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="move"))
        batch_op.add_column(sa.Column("percent", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("pins", sa.Text(), nullable=True))
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prompt", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("prompt_version", sa.Integer(), nullable=True))
    op.create_table(
        "label_canaries",
        sa.Column("asset_id", sa.String(40), sa.ForeignKey("assets.id"), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("ramp", sa.Text(), nullable=False),
        sa.Column("pins", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(40), nullable=False),
        sa.Column("started_at", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "label"),
    )
    op.create_table(
        "version_states",
        sa.Column("asset_id", sa.String(40), sa.ForeignKey("assets.id"), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sunset", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(40), nullable=False),
        sa.Column("at", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "version_number"),
    )
    op.create_table(
        "asset_consumers",
        sa.Column("asset_id", sa.String(40), sa.ForeignKey("assets.id"), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("consumer", sa.String(80), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("use_case", sa.String(200), nullable=False),
        sa.Column("first_seen", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uses", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "version_number", "consumer", "environment", "use_case"),
    )


def downgrade() -> None:
    op.drop_table("asset_consumers")
    op.drop_table("version_states")
    op.drop_table("label_canaries")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("prompt_version")
        batch_op.drop_column("prompt")
    with op.batch_alter_table("label_moves", schema=None) as batch_op:
        batch_op.drop_column("pins")
        batch_op.drop_column("percent")
        batch_op.drop_column("kind")
    with op.batch_alter_table("asset_labels", schema=None) as batch_op:
        batch_op.drop_column("pins")
