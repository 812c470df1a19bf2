"""The ledger on a real database: group commit, sequencing, checkpoints, proofs and tampering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from aifactory.ledger import Event, Ledger
from aifactory.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from aifactory.ledger.note import Checkpoint
from aifactory.runtime import Runtime
from aifactory.settings import Settings
from aifactory.store import Database


def _event(n: int) -> Event:
    return Event("test.event", f"thing:{n}", "prn_test", {"n": n})


def _root(ledger: Ledger) -> Checkpoint:
    return Checkpoint.parse(ledger.verifier.verify(ledger.checkpoint_note()))


def test_concurrent_appends_get_contiguous_indices(runtime: Runtime) -> None:
    ledger = runtime.ledger
    base = ledger.size()
    ledger.start()
    try:
        threads = [
            threading.Thread(target=lambda k=k: [ledger.append(_event(k * 100 + i)) for i in range(50)])
            for k in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        ledger.stop()
    assert ledger.size() == base + 400
    leaves = ledger.entries(0, ledger.size())
    assert [i for i, _ in leaves] == list(range(base + 400))
    assert sorted(json.loads(leaf)["data"]["n"] for _, leaf in leaves[base:]) == sorted(
        k * 100 + i for k in range(8) for i in range(50)
    )
    report = ledger.verify()
    assert report.ok, report.problem
    assert report.entries == base + 400


def test_two_sequencers_share_one_order(settings: Settings, admin_key: str) -> None:
    """Two processes' worth of ledgers (separate engines) append and sequence at once."""
    first, second = Runtime.open(settings), Runtime.open(settings, migrate=False)
    try:
        for rt in (first, second):
            rt.ledger.start()
        workers = [
            threading.Thread(
                target=lambda rt=rt, k=k: [rt.ledger.append(_event(k * 1000 + i)) for i in range(100)]
            )
            for k, rt in enumerate((first, second, first, second))
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        first.close()
        second.close()
    check = Runtime.open(settings, migrate=False)
    try:
        size = check.ledger.size()
        assert [i for i, _ in check.ledger.entries(0, size)] == list(range(size))
        assert size >= 400
        report = check.ledger.verify()
        assert report.ok, report.problem
    finally:
        check.close()


def test_an_event_in_a_rolled_back_transaction_never_lands(runtime: Runtime) -> None:
    before = runtime.ledger.size()

    def failing_change() -> None:
        with runtime.db.write() as conn:
            runtime.ledger.enqueue(conn, _event(1))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    runtime.ledger.sync()
    assert runtime.ledger.size() == before


def test_proofs_verify_against_signed_checkpoints(runtime: Runtime) -> None:
    ledger = runtime.ledger
    for n in range(37):
        ledger.append(_event(n))
    ledger.sync()
    old = _root(ledger)
    for n in range(37, 100):
        ledger.append(_event(n))
    ledger.sync()
    new = _root(ledger)
    assert new.size == old.size + 63
    for index in (0, 1, old.size - 1, new.size - 1):
        leaf = ledger.entry(index)
        verify_inclusion(leaf_hash(leaf), index, new.size, ledger.inclusion(index, new.size), new.root)
    verify_consistency(old.size, new.size, old.root, new.root, ledger.consistency(old.size, new.size))


def test_checkpoints_come_at_most_once_per_interval(runtime: Runtime) -> None:
    ledger = runtime.ledger
    ledger.sequencer.interval = 60.0  # no machine is loaded enough to append slower than this
    ledger.sync()
    ledger.append(_event(1))
    ledger.sequencer.integrate_all()
    assert ledger.sequencer.checkpoint() is None  # the last one is younger than the interval
    ledger.sequencer.interval = 0.2
    ledger.sequencer._not_due_before = 0.0  # the shorter interval applies at once
    time.sleep(ledger.sequencer.interval)
    assert ledger.sequencer.checkpoint() is not None
    assert ledger.sequencer.checkpoint() is None  # nothing new


@pytest.fixture
def filled(runtime: Runtime) -> Runtime:
    for n in range(20):
        runtime.ledger.append(_event(n))
        if n % 5 == 4:
            runtime.ledger.sync()
    assert runtime.ledger.verify().ok
    return runtime


def _sql(rt: Runtime, statement: str, **params: object) -> None:
    with rt.db.write() as conn:
        conn.execute(text(statement), params)


def _leaf(rt: Runtime, index: int) -> bytes:
    return rt.ledger.entry(index)


def _problem(rt: Runtime) -> tuple[int | None, str]:
    report = rt.ledger.verify()
    assert not report.ok
    assert report.problem is not None
    return report.problem.index, report.problem.message


def test_verify_names_a_modified_entry(filled: Runtime) -> None:
    leaf = _leaf(filled, 7).replace(b'"type":"', b'"type":"forged.')
    _sql(filled, "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 7", leaf=leaf)
    index, message = _problem(filled)
    assert index == 7
    assert "modified" in message


def test_verify_names_a_deleted_entry(filled: Runtime) -> None:
    _sql(filled, "DELETE FROM ledger_entries WHERE idx = 11")
    assert _problem(filled)[0] == 11


def test_verify_names_reordered_entries(filled: Runtime) -> None:
    a, b = _leaf(filled, 4), _leaf(filled, 9)
    _sql(filled, "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 4", leaf=b)
    _sql(filled, "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 9", leaf=a)
    index, message = _problem(filled)
    assert index == 4
    assert "reordered" in message


def test_verify_names_an_inserted_entry(filled: Runtime) -> None:
    size = filled.ledger.size()
    for index in range(size - 1, 5, -1):  # shift the tail up by one, then insert at 6
        _sql(filled, "UPDATE ledger_entries SET idx = idx + 1 WHERE idx = :i", i=index)
    _sql(
        filled,
        "INSERT INTO ledger_entries (idx, leaf) VALUES (6, :leaf)",
        leaf=b'{"index":6,"type":"forged"}',
    )
    assert _problem(filled)[0] == 6


def test_verify_catches_a_rewritten_entry_with_rewritten_hashes(filled: Runtime) -> None:
    """An attacker who also rewrites the stored leaf hash is caught by the signed checkpoints."""
    leaf = _leaf(filled, 12).replace(b'"type":"', b'"type":"forged.')
    _sql(filled, "UPDATE ledger_entries SET leaf = :leaf WHERE idx = 12", leaf=leaf)
    _sql(filled, "UPDATE ledger_nodes SET hash = :h WHERE level = 0 AND idx = 12", h=leaf_hash(leaf))
    index, message = _problem(filled)
    assert index is not None
    assert index <= 12
    assert "12" in message or "checkpoint" in message


def test_verify_names_a_truncated_tail(filled: Runtime) -> None:
    size = filled.ledger.size()
    _sql(filled, "DELETE FROM ledger_entries WHERE idx >= :i", i=size - 3)
    assert _problem(filled)[0] == size - 3


def test_verify_refuses_a_forged_checkpoint(filled: Runtime) -> None:
    _sql(filled, "UPDATE ledger_checkpoints SET note = replace(note, 'aifactory', 'evilfactory')")
    index, message = _problem(filled)
    assert index is None
    assert "checkpoint" in message


_CRASH_SCRIPT = """
import sys
from aifactory.ledger import Event, Ledger
from aifactory.settings import Settings
from aifactory.store import Database
settings = Settings()
db = Database(settings.resolved_database_url)
ledger = Ledger.from_settings(settings, db)
ledger.writer.start()
for n in range(100000):
    ledger.append(Event("crash.test", f"thing:{n}", None, {"n": n}))
    print(n, flush=True)
"""


def test_acknowledged_appends_survive_a_crash(settings: Settings, admin_key: str, tmp_path: Path) -> None:
    env = os.environ | {
        "AIFACTORY_DATA_DIR": str(settings.data_dir),
        "AIFACTORY_DATABASE_URL": settings.resolved_database_url,
    }
    proc = subprocess.Popen([sys.executable, "-c", _CRASH_SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 300:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    rt = Runtime.open(settings, migrate=False)
    try:
        rt.ledger.sync()
        seen = {
            json.loads(leaf)["data"].get("n")
            for _, leaf in rt.ledger.entries(0, rt.ledger.size())
            if json.loads(leaf)["type"] == "crash.test"
        }
        for start in range(1000, rt.ledger.size(), 1000):
            seen |= {json.loads(leaf)["data"].get("n") for _, leaf in rt.ledger.entries(start, start + 1000)}
        assert set(range(acked + 1)) <= seen
        assert rt.ledger.verify().ok
    finally:
        rt.close()


def test_database_is_sqlite_or_postgres(runtime: Runtime) -> None:
    assert isinstance(runtime.db, Database)
    assert runtime.db.is_sqlite or runtime.db.is_postgres
