"""kill switches

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:30:00.000000

The kill switches set now: one row per scope (`global`, `jurisdiction`, `use_case`, `deployment`,
`tool`) and value, with its level, canned text, reason, actor and time. Clearing a switch deletes its
row; every flip is in the ledger (`kill_switch.flipped`). Registered tools need no table: they are
catalog assets of kind `tool`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aifactory.store.schema

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kill_switches",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("canned_text", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("set_at", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "value", name=op.f("pk_kill_switches")),
    )


def downgrade() -> None:
    op.drop_table("kill_switches")
