"""runs carry their policy decision: id and outcome, and the risk class the call was made under

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 13:00:00.000000

The decision's digest, context and pack versions go to the run's ledger entry; the row keeps the
id and outcome for queries ("which runs did a policy restrict?").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_id", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("decision_outcome", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("risk_class", sa.String(32), nullable=True))
        batch_op.create_index("ix_runs_decision_id", ["decision_id"])


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_decision_id")
        batch_op.drop_column("risk_class")
        batch_op.drop_column("decision_outcome")
        batch_op.drop_column("decision_id")
