"""Eval records on the server: the signers whose keys verify them, submission, and lookup.

A record is accepted only when its signature verifies with a registered, unrevoked signer and its
`content_hash` is the hash of one of its asset's versions. It is stored exactly as signed, and the
`eval-record` gate verifies it again at every label move (`verification_problem`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, RowMapping

from aifactory.errors import ConflictError, InvalidInputError, NotFoundError
from aifactory.evals import signing
from aifactory.evals.records import SignedEvalRecord, Signer, SignerIn, StoredEvalRecord
from aifactory.ids import new_id
from aifactory.ledger import Event, Ledger
from aifactory.ledger.events import canonical_json
from aifactory.store import catalog_rows
from aifactory.store import eval_rows as rows
from aifactory.store.db import Database

__all__ = ["EvalRecords", "verification_problem"]


class EvalRecords:
    """Registers and revokes signers; accepts, stores and finds signed eval records."""

    def __init__(self, db: Database, ledger: Ledger) -> None:
        self.db = db
        self.ledger = ledger

    # --- signers ----------------------------------------------------------------------------------

    def add_signer(self, spec: SignerIn, actor: str) -> Signer:
        """Register a public key; its key id is derived from the key."""
        key = signing.load_public_key(spec.public_key)
        signer = Signer(
            key_id=signing.key_id(key),
            name=spec.name,
            public_key=signing.public_key_text(key),
            added_by=actor,
            added_at=datetime.now(UTC),
        )
        conflict = f"signer {signer.key_id} is already registered"
        with self.db.write(conflict=conflict) as conn:
            if rows.signer(conn, signer.key_id) is not None:
                raise ConflictError(conflict + " (a revoked key stays revoked; make a new one)")
            rows.insert_signer(conn, signer.model_dump())
            data = {"name": signer.name, "public_key": signer.public_key}
            subject = f"eval_signer:{signer.key_id}"
            self.ledger.enqueue(conn, Event("eval.signer_added", subject, actor, data))
        return signer

    def signers(self) -> list[Signer]:
        """Every signer, revoked ones included."""
        with self.db.read() as conn:
            return [Signer(**row) for row in rows.signers(conn)]

    def revoke_signer(self, key_id: str, actor: str) -> Signer:
        """Revoke a signer: its records no longer verify, at submission or at any gate."""
        with self.db.write() as conn:
            if rows.signer(conn, key_id) is None:
                raise NotFoundError(f"no signer {key_id}")
            if not rows.revoke_signer(conn, key_id, actor, datetime.now(UTC)):
                raise ConflictError(f"signer {key_id} is already revoked")
            self.ledger.enqueue(conn, Event("eval.signer_revoked", f"eval_signer:{key_id}", actor, {}))
            return Signer(**_present(rows.signer(conn, key_id)))

    # --- records ----------------------------------------------------------------------------------

    def submit(self, record: Mapping[str, Any], actor: str) -> StoredEvalRecord:
        """Verify and store a signed record (exactly as submitted); `eval.recorded` in the ledger."""
        spec = _validated(record)
        raw = _canonical(record)
        with self.db.write() as conn:
            asset = _asset(conn, spec.asset)
            _check_version(conn, asset, spec.content_hash)
            problem = verification_problem(conn, raw)
            if problem is not None:
                raise InvalidInputError(f"eval record refused: {problem}", field="signature")
            stored = _stored(raw, asset["id"], actor)
            rows.insert_record(conn, _values(stored))
            data = {
                "record": stored.id,
                "digest": stored.digest,
                "verdict": stored.verdict,
                "content_hash": stored.content_hash,
                "signer": stored.signer,
            }
            self.ledger.enqueue(conn, Event("eval.recorded", f"asset:{asset['id']}", actor, data))
        return stored

    def records(self, asset: str | None = None, content_hash: str | None = None) -> list[StoredEvalRecord]:
        """The newest records (at most 100), optionally of one asset and one content hash."""
        with self.db.read() as conn:
            asset_id = None
            if asset:
                row = catalog_rows.asset(conn, asset)
                if row is None:
                    raise NotFoundError(f"no asset {asset!r} (use its id or kind:name)")
                asset_id = row["id"]
            return [_record(row) for row in rows.records(conn, asset_id, content_hash)]

    def get(self, record_id: str) -> StoredEvalRecord:
        """One record."""
        with self.db.read() as conn:
            row = rows.record(conn, record_id)
        if row is None:
            raise NotFoundError(f"no eval record {record_id}")
        return _record(row)


def verification_problem(conn: Connection, record: Mapping[str, Any]) -> str | None:
    """Why a record does not verify now with a registered, unrevoked signer (None when it does)."""
    key_id = str(record.get("signer", ""))
    signer = rows.signer(conn, key_id)
    if signer is None:
        return (
            f"signer {key_id} is not registered; an admin registers its public key with "
            "`aifactory evals signers add`"
        )
    if signer["revoked_at"] is not None:
        return f"signer {key_id} ({signer['name']}) was revoked at {signer['revoked_at']:%Y-%m-%d %H:%M} UTC"
    try:
        public_key = signing.load_public_key(signer["public_key"])
    except InvalidInputError:
        return f"signer {key_id} ({signer['name']}) has a stored public key that is not an Ed25519 key"
    if not signing.verify(record, public_key):
        return f"the signature does not verify with signer {key_id} ({signer['name']})"
    return None


def _validated(record: Mapping[str, Any]) -> SignedEvalRecord:
    try:
        return SignedEvalRecord.model_validate(record)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise InvalidInputError(f"invalid eval record: {problems}") from None


def _canonical(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as its canonical JSON reads back: what is signed, stored and hashed."""
    try:
        value: dict[str, Any] = json.loads(canonical_json(dict(record)))
    except ValueError as exc:
        raise InvalidInputError(
            f"invalid eval record: it has no RFC 8785 form ({exc}); numbers must be finite and "
            "integers within +-2**53"
        ) from None
    return value


def _asset(conn: Connection, ref: str) -> RowMapping:
    row = catalog_rows.asset(conn, ref)
    if row is None:
        raise InvalidInputError(f"no asset {ref!r} (use its id or kind:name)", field="asset")
    return row


def _check_version(conn: Connection, asset: RowMapping, content_hash: str) -> None:
    if catalog_rows.version_by_hash(conn, asset["id"], content_hash) is not None:
        return
    known = [
        f"version {v['number']}: {v['content_hash']}" for v in catalog_rows.versions_of(conn, asset["id"])
    ]
    name = f"{asset['kind']}:{asset['name']}"
    raise InvalidInputError(
        f"content_hash {content_hash} is not the hash of any version of {name}; its versions are "
        + ("; ".join(known) or "none (push one first)"),
        field="content_hash",
    )


def _stored(raw: dict[str, Any], asset_id: str, actor: str) -> StoredEvalRecord:
    return StoredEvalRecord(
        id=new_id("evr"),
        asset_id=asset_id,
        content_hash=raw["content_hash"],
        verdict=raw["verdict"],
        signer=raw["signer"],
        digest=signing.digest(raw),
        submitted_by=actor,
        submitted_at=datetime.now(UTC),
        record=raw,
    )


def _values(stored: StoredEvalRecord) -> dict[str, Any]:
    values = stored.model_dump(exclude={"record"})
    return values | {"record": canonical_json(stored.record).decode()}


def _record(row: RowMapping) -> StoredEvalRecord:
    return StoredEvalRecord(**(dict(row) | {"record": json.loads(row["record"])}))


def _present(row: RowMapping | None) -> RowMapping:
    assert row is not None
    return row
