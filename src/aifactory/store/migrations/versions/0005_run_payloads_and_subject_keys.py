"""run payloads and their data keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:30:00.000000

`payload_keys` holds one AES-256 data key per data subject (keyed `subject_hash`) or per run
without a subject, wrapped by the instance's master key; destroying one sets `wrapped_key` NULL and
`destroyed_at`. A partial unique index allows one live key per subject. `run_payloads` holds each
run's encrypted payload (nonce, ciphertext with the commitment's salt inside), when it is due for
purging, and, once purged or erased, when and why (the row stays as a tombstone, the ciphertext goes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aifactory.store.schema

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE_KEY = sa.text("destroyed_at IS NULL")
_LIVE_PAYLOAD = sa.text("purged_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "payload_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", aifactory.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payload_keys")),
    )
    op.create_index(
        "uq_payload_keys_live_subject",
        "payload_keys",
        ["subject_hash"],
        unique=True,
        sqlite_where=_LIVE_KEY,
        postgresql_where=_LIVE_KEY,
    )
    op.create_index("ix_payload_keys_subject_hash", "payload_keys", ["subject_hash"], unique=False)
    op.create_table(
        "run_payloads",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retention_until", aifactory.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purged_at", aifactory.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("purge_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["payload_keys.id"], name=op.f("fk_run_payloads_key_id_payload_keys")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_payloads")),
    )
    op.create_index(op.f("ix_run_payloads_key_id"), "run_payloads", ["key_id"], unique=False)
    op.create_index(
        "ix_run_payloads_due",
        "run_payloads",
        ["retention_until"],
        unique=False,
        sqlite_where=_LIVE_PAYLOAD,
        postgresql_where=_LIVE_PAYLOAD,
    )


def downgrade() -> None:
    op.drop_index("ix_run_payloads_due", table_name="run_payloads")
    op.drop_index(op.f("ix_run_payloads_key_id"), table_name="run_payloads")
    op.drop_table("run_payloads")
    op.drop_index("ix_payload_keys_subject_hash", table_name="payload_keys")
    op.drop_index("uq_payload_keys_live_subject", table_name="payload_keys")
    op.drop_table("payload_keys")
