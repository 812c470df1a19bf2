"""SQL for eval records and the signers whose keys verify them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from aifactory.store.schema import eval_records, eval_signers

__all__ = [
    "insert_record",
    "insert_signer",
    "record",
    "records",
    "records_of_version",
    "revoke_signer",
    "signer",
    "signers",
]


def insert_signer(conn: Connection, values: dict[str, Any]) -> None:
    """Register a signer's public key."""
    conn.execute(insert(eval_signers).values(**values))


def signer(conn: Connection, key_id: str) -> RowMapping | None:
    """One signer, revoked or not."""
    return conn.execute(select(eval_signers).where(eval_signers.c.key_id == key_id)).mappings().first()


def signers(conn: Connection) -> Sequence[RowMapping]:
    """Every signer, revoked ones included, oldest first."""
    query = select(eval_signers).order_by(eval_signers.c.added_at, eval_signers.c.key_id)
    return conn.execute(query).mappings().all()


def revoke_signer(conn: Connection, key_id: str, actor: str, at: datetime) -> bool:
    """Revoke a signer; False when there is no unrevoked signer with this key id."""
    query = (
        update(eval_signers)
        .where(eval_signers.c.key_id == key_id, eval_signers.c.revoked_at.is_(None))
        .values(revoked_by=actor, revoked_at=at)
    )
    return conn.execute(query).rowcount == 1


def insert_record(conn: Connection, values: dict[str, Any]) -> None:
    """Store a submitted eval record."""
    conn.execute(insert(eval_records).values(**values))


def record(conn: Connection, record_id: str) -> RowMapping | None:
    """One eval record."""
    return conn.execute(select(eval_records).where(eval_records.c.id == record_id)).mappings().first()


def records(
    conn: Connection, asset_id: str | None = None, content_hash: str | None = None, limit: int = 100
) -> Sequence[RowMapping]:
    """Eval records, newest first, optionally of one asset and one content hash."""
    query = select(eval_records)
    if asset_id is not None:
        query = query.where(eval_records.c.asset_id == asset_id)
    if content_hash is not None:
        query = query.where(eval_records.c.content_hash == content_hash)
    query = query.order_by(eval_records.c.submitted_at.desc(), eval_records.c.id.desc()).limit(limit)
    return conn.execute(query).mappings().all()


def records_of_version(conn: Connection, asset_id: str, content_hash: str) -> Sequence[RowMapping]:
    """Every record of one version of an asset (by its content hash), newest first."""
    query = (
        select(eval_records)
        .where(eval_records.c.asset_id == asset_id, eval_records.c.content_hash == content_hash)
        .order_by(eval_records.c.submitted_at.desc(), eval_records.c.id.desc())
    )
    return conn.execute(query).mappings().all()
