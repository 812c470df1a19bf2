"""eval signers, signed eval records, incidents

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 15:30:00.000000

Signers are the public keys whose signatures on eval records the server accepts (revoked ones no
longer verify). An eval record is stored as the canonical JSON it was signed as, with columns for
queries; the `eval-record` gate re-verifies the JSON itself. Incidents on an asset block the
`no-open-incident` gate while open.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aifactory.store.schema

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = aifactory.store.schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "eval_signers",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=40), nullable=False),
        sa.Column("added_at", _UTC(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.Column("revoked_at", _UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_eval_signers")),
    )
    op.create_table(
        "eval_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.String(length=40), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("signer", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=40), nullable=False),
        sa.Column("submitted_at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_eval_records_asset_id_assets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_records")),
    )
    op.create_index("ix_eval_records_asset_hash", "eval_records", ["asset_id", "content_hash"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_by", sa.String(length=40), nullable=False),
        sa.Column("opened_at", _UTC(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(length=40), nullable=True),
        sa.Column("resolved_at", _UTC(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_incidents_asset_id_assets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_asset_status", "incidents", ["asset_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_incidents_asset_status", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_eval_records_asset_hash", table_name="eval_records")
    op.drop_table("eval_records")
    op.drop_table("eval_signers")
