"""Run payloads on real SQLite and PostgreSQL: sealed with the run and its ledger entry, committed by
a salted hash, clamped retention, purge, erasure by subject (crypto-shredding) with the ledger still
verifying and proving the erased runs' leaves."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from aifactory.bootstrap import initialize
from aifactory.errors import ConfigurationError, GoneError, NotFoundError
from aifactory.gateway.runs import RunRecord, subject_hash
from aifactory.ids import new_id
from aifactory.ledger.events import canonical_json
from aifactory.ledger.merkle import leaf_hash, verify_inclusion
from aifactory.retention.keys import PayloadKeys, load_master_key
from aifactory.retention.period import RetentionTerm
from aifactory.retention.sealing import commitment, open_payload
from aifactory.runtime import Runtime
from aifactory.settings import Settings
from aifactory.store.schema import payload_keys, run_payloads, runs

PAYLOAD = {
    "request": {"messages": [{"role": "user", "content": "my birthday is 1990-01-02"}]},
    "output": {"text": "noted", "tool_calls": [], "finish_reason": "stop"},
}


def record(rt: Runtime, subject: str | None, **changes: Any) -> RunRecord:
    """A chat run with a payload, written at once with its ledger entry."""
    secret = rt.gateway.payloads.keys.subject_secret
    run = RunRecord(
        id=new_id("run"),
        principal_id="prn_test",
        operation="chat",
        route="chat-default",
        stream=False,
        subject_hash=subject_hash(subject, secret),
        payload=PAYLOAD,
    )
    run = replace(run, **changes)
    rt.gateway.runs.write_now(run)
    return run


def leaves(rt: Runtime) -> dict[str, tuple[int, bytes]]:
    """Ledger subject -> (index, leaf bytes), after sequencing everything queued."""
    rt.ledger.sync()
    found: dict[str, tuple[int, bytes]] = {}
    for index, leaf in rt.ledger.entries(0, rt.ledger.size()):
        found[json.loads(leaf)["subject"]] = (index, leaf)
    return found


def event_data(rt: Runtime, subject: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(leaves(rt)[subject][1])["data"]
    return data


def assert_ledger_verifies(rt: Runtime) -> None:
    report = rt.ledger.verify()
    assert report.problem is None, report.problem


def test_payload_round_trip_commitment_and_nothing_in_clear(runtime: Runtime) -> None:
    run = record(runtime, "alice@example.com")
    opened = runtime.gateway.payloads.read(run.id)
    assert opened.payload == PAYLOAD
    data = event_data(runtime, f"run:{run.id}")
    # Anyone given the payload and its salt recomputes the commitment in the leaf.
    salt = base64.b64decode(opened.salt)
    assert data["payload_commitment"] == opened.commitment == commitment(PAYLOAD, salt)
    assert data["payload_commitment"] == hashlib.sha256(salt + canonical_json(PAYLOAD)).hexdigest()
    until = datetime.fromisoformat(data["retention_until"])
    assert until == run.created_at + timedelta(days=30) == opened.retention_until
    assert data["retention_days"] == 30
    assert "retention_conflict" not in data
    with runtime.db.read() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run.id)).mappings().one()
        stored = conn.execute(select(run_payloads.c.ciphertext)).scalar_one()
    assert b"birthday" not in stored
    assert b"1990" not in stored
    assert "birthday" not in json.dumps(dict(row), default=str)
    assert "birthday" not in leaves(runtime)[f"run:{run.id}"][1].decode()
    assert_ledger_verifies(runtime)


def test_subject_hash_is_keyed(runtime: Runtime) -> None:
    vault = runtime.gateway.payloads
    keyed = subject_hash("alice@example.com", vault.keys.subject_secret)
    assert keyed == vault.subject_hash("alice@example.com")
    assert keyed != hashlib.sha256(b"alice@example.com").hexdigest()
    assert subject_hash(None, vault.keys.subject_secret) is None
    other = PayloadKeys(os.urandom(32))
    assert other.subject_hash("alice@example.com") != keyed


def test_one_key_per_subject_and_one_per_run_without_one(runtime: Runtime) -> None:
    for subject in ("alice", "alice", "bob", None, None):
        record(runtime, subject)
    with runtime.db.read() as conn:
        keys = conn.execute(select(payload_keys.c.subject_hash)).scalars().all()
    assert len(keys) == 4  # alice, bob, and one for each run without a subject
    assert keys.count(None) == 2


@pytest.mark.parametrize(
    ("default", "low", "high", "days", "conflict"),
    [
        (30, None, None, 30, False),
        (30, 90, None, 90, False),
        (30, None, 7, 7, False),
        (30, 10, 60, 30, False),
        (30, 60, 7, 60, True),  # a legal minimum wins over a maximum
        (0, None, None, 0, False),
    ],
)
def test_retention_clamp(default: int, low: int | None, high: int | None, days: int, conflict: bool) -> None:
    term = RetentionTerm.of(default, low, high)
    assert (term.days, term.conflict) == (days, conflict)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert term.until(start) == start + timedelta(days=days)


def test_a_conflicting_retention_is_flagged_in_the_ledger(runtime: Runtime) -> None:
    run = record(runtime, "carol", retention=RetentionTerm.of(30, 365, 7))
    data = event_data(runtime, f"run:{run.id}")
    assert (data["retention_days"], data["retention_conflict"]) == (365, True)


def test_purge_deletes_due_payloads_and_keeps_the_ledger_verifying(runtime: Runtime) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=40)
    due = [record(runtime, "dave", created_at=long_ago), record(runtime, None, created_at=long_ago)]
    kept = record(runtime, "dave")
    vault = runtime.gateway.payloads
    assert vault.count_due() == 2
    first = vault.purge(limit=1, actor="prn_admin")
    assert (first.purged, first.remaining) == (1, 1)
    second = vault.purge(limit=10)
    assert (second.purged, second.remaining) == (1, 0)
    assert sorted(first.run_ids + second.run_ids) == sorted(r.id for r in due)
    assert vault.purge().purged == 0
    for run in due:
        with pytest.raises(GoneError, match=r"purged .* retention period ended"):
            vault.read(run.id)
    assert vault.read(kept.id).payload == PAYLOAD
    with runtime.db.read() as conn:
        tombstones = conn.execute(
            select(run_payloads.c.ciphertext, run_payloads.c.purge_reason).where(
                run_payloads.c.purged_at.is_not(None)
            )
        ).all()
        per_run_keys = conn.execute(
            select(payload_keys.c.wrapped_key, payload_keys.c.destroyed_at).where(
                payload_keys.c.subject_hash.is_(None)
            )
        ).all()
    assert tombstones == [(None, "retention")] * 2
    assert [(k, d is not None) for k, d in per_run_keys] == [(None, True)]  # the per-run key went too
    runtime.ledger.sync()
    all_purges = [json.loads(leaf) for _, leaf in runtime.ledger.entries(0, runtime.ledger.size())]
    counted = [e["data"] for e in all_purges if e["type"] == "data.purged"]
    assert [(c["count"], c["run_ids"]) for c in counted] == [(1, first.run_ids), (1, second.run_ids)]
    assert counted[0]["run_ids_sha256"] == hashlib.sha256(first.run_ids[0].encode()).hexdigest()
    assert_ledger_verifies(runtime)


def test_erasure_makes_decryption_impossible_and_proofs_still_hold(runtime: Runtime) -> None:
    erased = [record(runtime, "erin"), record(runtime, "erin")]
    other = record(runtime, "frank")
    with runtime.db.read() as conn:  # a backup of the payload table, taken before the erasure
        backup = conn.execute(select(run_payloads)).mappings().all()
    report = runtime.gateway.payloads.erase("erin", actor="prn_admin", reason="ticket 7")
    assert (report.payloads, report.keys, report.reason) == (2, 1, "ticket 7")
    assert report.subject_hash == runtime.gateway.payloads.subject_hash("erin")
    for run in erased:
        with pytest.raises(GoneError, match=r"erased .* cannot be recovered"):
            runtime.gateway.payloads.read(run.id)
    assert runtime.gateway.payloads.read(other.id).payload == PAYLOAD
    with runtime.db.read() as conn:
        key = (
            conn.execute(select(payload_keys).where(payload_keys.c.subject_hash == report.subject_hash))
            .mappings()
            .one()
        )
    assert key["wrapped_key"] is None
    assert key["destroyed_at"] is not None
    # The old ciphertexts, restored from the backup, do not open with any key the database still has.
    restored = [row for row in backup if row["run_id"] in {r.id for r in erased}]
    assert all(row["key_id"] == key["id"] for row in restored)
    for row in restored:
        for candidate in _live_data_keys(runtime):
            with pytest.raises(InvalidTag):
                open_payload(row["nonce"], row["ciphertext"], candidate, row["run_id"])
    # The ledger keeps verifying, and every erased run's leaf still proves its inclusion.
    entries = leaves(runtime)
    erasure = json.loads(entries[f"subject:{report.subject_hash}"][1])
    assert erasure["type"] == "data.erased"
    assert erasure["actor"] == "prn_admin"
    assert erasure["data"] == {
        "subject_hash": report.subject_hash,
        "payloads": 2,
        "keys": 1,
        "reason": "ticket 7",
    }
    assert "erin" not in json.dumps(erasure)
    assert_ledger_verifies(runtime)
    size = runtime.ledger.size()
    root = runtime.ledger.root(size)
    for run in erased:
        index, leaf = entries[f"run:{run.id}"]
        verify_inclusion(leaf_hash(leaf), index, size, runtime.ledger.inclusion(index, size), root)
    # The subject's next run gets a new key and is readable again.
    later = record(runtime, "erin")
    assert runtime.gateway.payloads.read(later.id).payload == PAYLOAD


def test_a_call_that_began_before_its_subject_was_erased_stores_no_payload(runtime: Runtime) -> None:
    began = datetime.now(UTC) - timedelta(minutes=5)  # a long stream, still running during the erasure
    record(runtime, "jo")
    runtime.gateway.payloads.erase("jo", actor="prn_admin")
    late = record(runtime, "jo", created_at=began)
    with pytest.raises(NotFoundError):
        runtime.gateway.payloads.read(late.id)
    assert "payload_commitment" not in event_data(runtime, f"run:{late.id}")
    assert runtime.gateway.runs.get(late.id)["id"] == late.id  # the run itself is recorded
    after = record(runtime, "jo")
    assert runtime.gateway.payloads.read(after.id).payload == PAYLOAD


def _live_data_keys(rt: Runtime) -> list[bytes]:
    with rt.db.read() as conn:
        rows = conn.execute(select(payload_keys.c.id, payload_keys.c.wrapped_key)).all()
    return [rt.gateway.payloads.keys.unwrap(bytes(w), i) for i, w in rows if w is not None]


def test_erasing_an_unknown_subject_is_recorded_with_zero_payloads(runtime: Runtime) -> None:
    report = runtime.gateway.payloads.erase("nobody", actor="prn_admin")
    assert (report.payloads, report.keys) == (0, 0)
    assert event_data(runtime, f"subject:{report.subject_hash}")["payloads"] == 0


def test_missing_payloads_are_not_found(runtime: Runtime) -> None:
    run = record(runtime, None, payload=None)
    with pytest.raises(NotFoundError, match="no stored payload"):
        runtime.gateway.payloads.read(run.id)
    assert "payload_commitment" not in event_data(runtime, f"run:{run.id}")


def test_a_payload_that_cannot_be_sealed_never_costs_the_run(runtime: Runtime) -> None:
    run = record(runtime, "gina", payload={"request": {"n": 2**60}})  # beyond canonical JSON's integers
    assert runtime.gateway.runs.get(run.id)["id"] == run.id
    assert "payload_commitment" not in event_data(runtime, f"run:{run.id}")


def test_payload_capture_can_be_switched_off(settings: Settings, admin_key: str) -> None:
    rt = Runtime.open(settings.model_copy(update={"store_payloads": False}))
    try:
        run = record(rt, "hana")
        with pytest.raises(NotFoundError):
            rt.gateway.payloads.read(run.id)
    finally:
        rt.close()


def test_init_creates_a_private_master_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    initialize(settings)
    path = settings.resolved_payload_key_file
    assert path == tmp_path / "data" / "payload.key"
    assert path.stat().st_mode & 0o777 == 0o600
    key = load_master_key(path)
    initialize(settings)  # idempotent: the key is kept
    assert load_master_key(path) == key
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        load_master_key(path)
    path.chmod(0o600)
    path.write_text("not base64!\n")
    with pytest.raises(ConfigurationError, match="base64"):
        load_master_key(path)
    with pytest.raises(ConfigurationError, match="aifactory init"):
        load_master_key(tmp_path / "missing.key")


def test_a_wrong_master_key_is_a_configuration_error(
    settings: Settings, admin_key: str, tmp_path: Path
) -> None:
    rt = Runtime.open(settings)
    try:
        run = record(rt, "ivan")
    finally:
        rt.close()
    other = tmp_path / "other.key"
    other.write_text(base64.b64encode(os.urandom(32)).decode())
    other.chmod(0o600)
    rt = Runtime.open(settings.model_copy(update={"payload_key_file": other}))
    try:
        with pytest.raises(ConfigurationError, match="does not decrypt with this payload master key"):
            rt.gateway.payloads.read(run.id)
    finally:
        rt.close()
