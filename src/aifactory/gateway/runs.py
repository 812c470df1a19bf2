"""Run records: one per gateway call, written with its ledger entry in the same group commit."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from aifactory.errors import NotFoundError
from aifactory.ledger import Event
from aifactory.policy.decision import Obligations
from aifactory.retention.period import RetentionTerm
from aifactory.retention.vault import PayloadIn, PayloadVault, Stored
from aifactory.store import ledger_rows, run_rows
from aifactory.store.db import Database
from aifactory.store.group_commit import GroupCommitWriter

__all__ = ["RunRecord", "RunWriter", "subject_hash"]


def subject_hash(subject: str | None, secret: bytes) -> str | None:
    """The data subject, pseudonymised with the instance's secret (HMAC-SHA-256): raw identifiers
    never reach runs or the ledger, and a guessed id (an email address) cannot be checked against a
    hash without the secret. `PayloadVault.subject_hash` is the same function with the secret bound."""
    return None if not subject else hmac.new(secret, subject.encode(), hashlib.sha256).hexdigest()


@dataclass
class RunRecord:
    """What one call did: who, which route and deployment, outcome, timings, tokens, money."""

    id: str
    principal_id: str
    operation: str
    route: str
    stream: bool
    key_id: str | None = None
    team_id: str | None = None
    use_case: str | None = None
    jurisdiction: str | None = None
    surface: str | None = None
    risk_class: str | None = None
    subject_hash: str | None = None
    deployment: str | None = None
    upstream_model: str | None = None
    status: str = "ok"
    error_type: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal | None = None
    price_known: bool = True
    decision_id: str | None = None
    decision_outcome: str | None = None
    prompt: str | None = None
    prompt_version: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    decision: dict[str, Any] | None = None
    """The decision's ledger fields (id, outcome, digest, packs): in the ledger entry, not the row."""
    obligations: Obligations | None = None
    """The decision's obligations, for the response (disclosures, review): in neither."""
    guard_findings: dict[str, Any] | None = None
    """What the input and output guards found (counts per entity type and rule, never values): in
    the ledger entry, not the row."""
    payload: dict[str, Any] | None = None
    """What was sent upstream and what came back: stored encrypted apart (`aifactory.retention`),
    never in the row or the ledger event, which gets only its salted commitment."""
    retention: RetentionTerm | None = None
    """How long the payload is kept (from the policy decision); None: `retention_default_days`."""
    prompt_use: dict[str, Any] | None = None
    """The prompt version the call was built from (name, version, content hash, label, canary,
    includes): in the ledger entry as `prompt`; the row keeps the name and version."""

    def row(self) -> dict[str, Any]:
        """The `runs` table row."""
        values = {name: getattr(self, name) for name in _FIELDS}  # not asdict: no deep copies
        for name in ("latency_ms", "ttft_ms"):
            if values[name] is not None:
                values[name] = Decimal(str(round(values[name], 3)))
        return values

    def event(self, stored: Stored | None = None) -> Event:
        """The ledger event: no prompt or output text, only what the call was and cost (and, when a
        payload was stored, its commitment and retention). Numbers that are not integers are decimal
        strings, as canonical JSON should carry them."""
        data = {k: v for k, v in self.row().items() if k not in ("id", "created_at", "principal_id")}
        if stored is not None:
            data.update(stored.ledger_fields())
        data["cost_usd"] = None if self.cost_usd is None else str(self.cost_usd)
        for name in ("latency_ms", "ttft_ms"):
            data[name] = None if data[name] is None else str(data[name])
        data["attempts"] = [{**a, "latency_ms": str(a["latency_ms"])} for a in self.attempts]
        data.update(self.decision or {})
        if self.guard_findings is not None:
            data["guards"] = self.guard_findings
        if self.prompt_use is not None:
            data.pop("prompt_version")
            data["prompt"] = self.prompt_use
        return Event(f"run.{self.status}", f"run:{self.id}", self.principal_id, data, self.created_at)


_NOT_IN_ROW = frozenset({"decision", "obligations", "guard_findings", "payload", "retention", "prompt_use"})
_FIELDS = tuple(f.name for f in fields(RunRecord) if f.name not in _NOT_IN_ROW)


def _payloads(records: Sequence[RunRecord]) -> list[PayloadIn]:
    return [
        PayloadIn(r.id, r.subject_hash, r.payload, r.created_at, r.retention)
        for r in records
        if r.payload is not None
    ]


class RunWriter:
    """Group-commits run records with their ledger entries (and their sealed payloads, with a vault)."""

    def __init__(self, db: Database, *, batch_size: int, vault: PayloadVault | None = None) -> None:
        self.db = db
        self.vault = vault
        self.writer: GroupCommitWriter[RunRecord] = GroupCommitWriter(
            db, self._sink, batch_size=batch_size, name="run-writer"
        )

    def _sink(self, conn: Connection, records: Sequence[RunRecord]) -> None:
        stored = self.vault.store(conn, _payloads(records)) if self.vault is not None else {}
        run_rows.insert_runs(conn, [r.row() for r in records])
        ledger_rows.enqueue(conn, [r.event(stored.get(r.id)).to_json() for r in records])

    def start(self) -> None:
        """Start the writer thread."""
        self.writer.start()

    def stop(self) -> None:
        """Drain and stop."""
        self.writer.stop()

    def submit(self, run: RunRecord) -> Future[None] | None:
        """Queue a run for the next group commit (written at once when the writer is not running)."""
        if not self.writer.is_running:
            self.write_now(run)
            return None
        return self.writer.submit(run)

    async def record(self, run: RunRecord, *, durable: bool) -> None:
        """Write a run; with `durable`, return only once it is committed."""
        future = self.submit(run)
        if durable and future is not None:
            await asyncio.wrap_future(future)

    def write_now(self, run: RunRecord) -> None:
        """Write a run in its own transaction (when the group-commit writer is not running)."""
        with self.db.write() as conn:
            self._sink(conn, [run])

    def get(self, run_id: str) -> dict[str, Any]:
        """A stored run record as JSON-ready data."""
        with self.db.read() as conn:
            row = run_rows.run(conn, run_id)
        if row is None:
            raise NotFoundError(f"no run {run_id!r}")
        return {
            k: (format(v.normalize(), "f") if isinstance(v, Decimal) else v) for k, v in dict(row).items()
        }
