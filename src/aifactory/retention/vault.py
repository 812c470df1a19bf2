"""The payload vault: seals run payloads inside the run writer's transaction, reads them back, purges
them when their retention ends and erases a subject's by destroying its key. Every purge and erasure
commits with its ledger entry; the ledger itself only ever holds commitments and keyed hashes."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import Connection

from aifactory.errors import GoneError, LedgerIntegrityError, NotFoundError
from aifactory.ids import new_id
from aifactory.ledger.events import Event
from aifactory.retention.keys import PayloadKeys, load_master_key
from aifactory.retention.period import RetentionTerm
from aifactory.retention.records import Erasure, Purge, RunPayload
from aifactory.retention.sealing import open_payload, seal
from aifactory.settings import Settings
from aifactory.store import ledger_rows
from aifactory.store import payload_rows as rows
from aifactory.store.db import Database

__all__ = ["PayloadIn", "PayloadVault", "Stored"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PayloadIn:
    """One run's payload to seal: the subject's keyed hash (None: a key of its own) and its term."""

    run_id: str
    subject_hash: str | None
    payload: dict[str, Any]
    created_at: datetime
    term: RetentionTerm | None = None


@dataclass(frozen=True)
class Stored:
    """What the run's ledger entry records about its sealed payload."""

    commitment: str
    term: RetentionTerm
    retention_until: datetime

    def ledger_fields(self) -> dict[str, Any]:
        """The fields added to the run's ledger event."""
        fields: dict[str, Any] = {
            "payload_commitment": self.commitment,
            "retention_days": self.term.days,
            "retention_until": _iso(self.retention_until),
        }
        if self.term.conflict:
            fields["retention_conflict"] = True
        return fields


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class PayloadVault:
    """Encrypted run payloads: per-subject data keys wrapped by the instance's master key."""

    def __init__(
        self, db: Database, keys: PayloadKeys, *, enabled: bool = True, default_days: int = 30
    ) -> None:
        self.db = db
        self.keys = keys
        self.enabled = enabled
        self.default_days = default_days

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> PayloadVault:
        """The vault of a data dir, with its master key (created by `aifactory init`)."""
        keys = PayloadKeys(load_master_key(settings.resolved_payload_key_file))
        return cls(db, keys, enabled=settings.store_payloads, default_days=settings.retention_default_days)

    def subject_hash(self, subject: str | None) -> str | None:
        """The keyed pseudonym of a subject id (None for none)."""
        return self.keys.subject_hash(subject) if subject else None

    # --- sealing, in the run writer's transaction --------------------------------------------------

    def store(self, conn: Connection, items: Sequence[PayloadIn]) -> dict[str, Stored]:
        """Seal and insert payloads in the caller's transaction; run id -> what the ledger records."""
        if not self.enabled or not items:
            return {}
        items = self._after_erasures(conn, items)
        data_keys = self._subject_keys(conn, {i.subject_hash for i in items if i.subject_hash})
        new_keys: list[dict[str, Any]] = []
        payloads: list[dict[str, Any]] = []
        stored: dict[str, Stored] = {}
        for item in items:
            if item.subject_hash:
                key_id, data_key = data_keys[item.subject_hash]
            else:
                key_id, data_key, row = self._fresh_key(None, item.created_at)
                new_keys.append(row)
            try:
                sealed = seal(item.payload, data_key, item.run_id)
            except (ValueError, TypeError):  # not canonical JSON (an integer beyond 2**53...)
                # The run and its ledger entry matter more than its payload: never lose them to it.
                log.exception(
                    "the payload of run %s cannot be stored; the run is recorded without it", item.run_id
                )
                continue
            term = item.term or RetentionTerm.of(self.default_days)
            until = term.until(item.created_at)
            payloads.append(
                {
                    "run_id": item.run_id,
                    "key_id": key_id,
                    "nonce": sealed.nonce,
                    "ciphertext": sealed.ciphertext,
                    "created_at": item.created_at,
                    "retention_until": until,
                }
            )
            stored[item.run_id] = Stored(sealed.commitment, term, until)
        rows.insert_keys(conn, new_keys)
        rows.insert_payloads(conn, payloads)
        return stored

    def _after_erasures(self, conn: Connection, items: Sequence[PayloadIn]) -> list[PayloadIn]:
        """The items whose subject was not erased after the call began: a stream that was running
        when its subject was erased must not bring the subject's data back under a new key."""
        erased = rows.last_erasures(conn, {i.subject_hash for i in items if i.subject_hash})
        if not erased:
            return list(items)
        kept = []
        for item in items:
            if item.subject_hash in erased and item.created_at <= erased[item.subject_hash]:
                log.info("run %s began before its subject was erased: its payload is not stored", item.run_id)
            else:
                kept.append(item)
        return kept

    def _fresh_key(self, subject_hash: str | None, at: datetime) -> tuple[str, bytes, dict[str, Any]]:
        key_id = new_id("pkey")
        data_key = self.keys.new_data_key()
        row = {
            "id": key_id,
            "subject_hash": subject_hash,
            "wrapped_key": self.keys.wrap(data_key, key_id),
            "created_at": at,
        }
        return key_id, data_key, row

    def _subject_keys(self, conn: Connection, hashes: set[str]) -> dict[str, tuple[str, bytes]]:
        """Each subject's live data key, created when it has none (a concurrent creator wins)."""
        if not hashes:
            return {}
        found = rows.live_subject_keys(conn, hashes)
        missing = sorted(hashes - found.keys())
        if missing:
            now = datetime.now(UTC)
            rows.insert_keys(conn, [self._fresh_key(h, now)[2] for h in missing])
            found.update(rows.live_subject_keys(conn, missing))
        return {h: (key_id, self.keys.unwrap(wrapped, key_id)) for h, (key_id, wrapped) in found.items()}

    # --- reading -----------------------------------------------------------------------------------

    def read(self, run_id: str) -> RunPayload:
        """A run's payload, decrypted; `GoneError` once purged or erased."""
        with self.db.read() as conn:
            row = rows.payload(conn, run_id)
        if row is None:
            raise NotFoundError(f"run {run_id!r} has no stored payload")
        if row["purged_at"] is not None:
            raise GoneError(_gone(run_id, row["purge_reason"], row["purged_at"]), reason=row["purge_reason"])
        if row["wrapped_key"] is None or row["ciphertext"] is None:
            when = row["destroyed_at"] or datetime.now(UTC)
            raise GoneError(_gone(run_id, "erasure", when), reason="erasure")
        data_key = self.keys.unwrap(bytes(row["wrapped_key"]), row["key_id"])
        try:
            opened = open_payload(bytes(row["nonce"]), bytes(row["ciphertext"]), data_key, run_id)
        except InvalidTag:
            raise LedgerIntegrityError(f"the stored payload of run {run_id} fails authentication") from None
        return RunPayload(
            run_id=run_id,
            payload=opened.payload,
            salt=base64.b64encode(opened.salt).decode(),
            commitment=opened.commitment,
            created_at=row["created_at"],
            retention_until=row["retention_until"],
        )

    # --- purge and erasure -------------------------------------------------------------------------

    def purge(self, *, limit: int = 500, now: datetime | None = None, actor: str | None = None) -> Purge:
        """Purge one batch of payloads past retention: ciphertexts deleted, per-run keys destroyed,
        one `data.purged` ledger entry (none when nothing was due)."""
        now = now or datetime.now(UTC)
        with self.db.write() as conn:
            due = rows.due_payloads(conn, now, limit)
            run_ids = [run_id for run_id, _, _ in due]
            if due:
                rows.shred_payloads(conn, now=now, reason="retention", run_ids=run_ids)
                rows.destroy_keys(conn, [key_id for _, key_id, own in due if own], now)
                event = Event("data.purged", "data:payloads", actor, _purged(run_ids), now)
                ledger_rows.enqueue(conn, [event.to_json()])
            remaining = rows.count_due(conn, now)
        return Purge(purged=len(run_ids), remaining=remaining, run_ids=run_ids, purged_at=now)

    def erase(self, subject: str, *, actor: str | None, reason: str = "") -> Erasure:
        """Destroy a subject's data keys and delete its ciphertexts, with a `data.erased` ledger entry.
        A subject with nothing stored is recorded too (0 payloads): the request was handled."""
        subject_hash = self.keys.subject_hash(subject)
        now = datetime.now(UTC)
        with self.db.write() as conn:
            rows.secure_delete(conn)
            key_ids = rows.subject_keys(conn, subject_hash)
            count = rows.shred_payloads(conn, now=now, reason="erasure", key_ids=key_ids)
            destroyed = rows.destroy_keys(conn, key_ids, now)
            data = {"subject_hash": subject_hash, "payloads": count, "keys": destroyed, "reason": reason}
            ledger_rows.enqueue(
                conn, [Event("data.erased", f"subject:{subject_hash}", actor, data, now).to_json()]
            )
        return Erasure(
            subject_hash=subject_hash, payloads=count, keys=destroyed, reason=reason, erased_at=now
        )

    def count_due(self, now: datetime | None = None) -> int:
        """How many payloads are past retention now."""
        with self.db.read() as conn:
            return rows.count_due(conn, now or datetime.now(UTC))


def _purged(run_ids: list[str]) -> dict[str, Any]:
    digest = hashlib.sha256("\n".join(sorted(run_ids)).encode()).hexdigest()
    return {"count": len(run_ids), "run_ids": run_ids, "run_ids_sha256": digest}


def _gone(run_id: str, reason: str | None, when: datetime) -> str:
    at = _iso(when)
    if reason == "erasure":
        return (
            f"the payload of run {run_id} was erased at {at} at its data subject's request; "
            "it cannot be recovered"
        )
    return f"the payload of run {run_id} was purged at {at}: its retention period ended"
