"""Done-when: a verifier that knows only RFC 9162 and C2SP audits a live aifactory server."""

from __future__ import annotations

import time

import pytest

import external_verifier
from conftest import LiveServer


def _activity(live: LiveServer, n: int, start: int = 0) -> None:
    admin = live.client()
    for i in range(start, start + n):
        admin.post("/v1/assets", json={"kind": "dataset", "name": f"d{i}"}).raise_for_status()
        admin.post(f"/v1/assets/dataset:d{i}/versions", json={"content": {"rows": i}}).raise_for_status()


def _wait_for_checkpoint(live: LiveServer, at_least: int) -> None:
    admin = live.client()
    deadline = time.monotonic() + 10
    while True:
        size = int(admin.get("/v1/ledger/checkpoint").text.splitlines()[1])
        if size >= at_least:
            return
        assert time.monotonic() < deadline, f"no checkpoint covering {at_least} entries"
        time.sleep(0.1)


def test_an_independent_verifier_audits_the_live_ledger(live_server: LiveServer) -> None:
    vkey = live_server.client().get("/v1/ledger/verifier-key").text.strip()
    _activity(live_server, 12)
    _wait_for_checkpoint(live_server, 27)
    first = external_verifier.main(live_server.url, live_server.admin_key, vkey=vkey, samples=5)
    _activity(live_server, 1, start=100)
    time.sleep(0.3)
    _wait_for_checkpoint(live_server, first.size + 2)
    second = external_verifier.main(live_server.url, live_server.admin_key, vkey=vkey, samples=5)
    assert second.size > first.size
    assert first.inclusion_checked
    assert second.consistency_checked


def test_the_audit_fails_on_a_tampered_entry(live_server: LiveServer) -> None:
    _activity(live_server, 3)
    _wait_for_checkpoint(live_server, 9)
    from sqlalchemy import create_engine, text

    engine = create_engine(live_server.settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_entries SET leaf = :leaf WHERE idx = 4"),
            {"leaf": b'{"index":4,"type":"forged"}'},
        )
    engine.dispose()
    with pytest.raises(external_verifier.VerificationError):
        external_verifier.main(live_server.url, live_server.admin_key)
