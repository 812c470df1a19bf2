"""budgets unique among enabled ones only; per-key and per-team rate limits

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000

A disabled budget no longer blocks a new one for the same subject and window: the unique
constraint over every row becomes a partial unique index over enabled rows (SQLite and PostgreSQL
both have them). API keys and teams get nullable `rpm_limit` and `tpm_limit` columns that override
the gateway's per-key and per-team defaults.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENABLED = sa.text("disabled_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_constraint("uq_budgets_scope_subject_window", type_="unique")
        batch_op.create_index(
            "uq_budgets_enabled_scope_subject_window",
            ["scope", "subject", "window"],
            unique=True,
            sqlite_where=_ENABLED,
            postgresql_where=_ENABLED,
        )
    for table in ("api_keys", "teams"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("rpm_limit", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("tpm_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("teams", "api_keys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("tpm_limit")
            batch_op.drop_column("rpm_limit")
    # Fails if a disabled budget was re-created since: the old constraint counted disabled rows too.
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_index("uq_budgets_enabled_scope_subject_window")
        batch_op.create_unique_constraint("uq_budgets_scope_subject_window", ["scope", "subject", "window"])
