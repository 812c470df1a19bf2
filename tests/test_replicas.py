"""Several server processes on one PostgreSQL: one ledger order, revocation reaches every replica."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from aifactory.settings import Settings
from conftest import free_port


@contextmanager
def replica(settings: Settings, **env_extra: str) -> Iterator[str]:
    """`aifactory` served by a separate process (uvicorn factory) on loopback; stopped by PID."""
    port = free_port()
    env = os.environ | {
        "AIFACTORY_DATA_DIR": str(settings.data_dir),
        "AIFACTORY_DATABASE_URL": settings.resolved_database_url,
        "AIFACTORY_CHANGE_POLL_INTERVAL": "0.2",
        **env_extra,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "aifactory.server.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("replica did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_revocation_reaches_every_replica(settings: Settings, admin_key: str) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite supports one server process)")
    admin = {"Authorization": f"Bearer {admin_key}"}
    with replica(settings) as a, replica(settings) as b:
        created = httpx.post(f"{a}/v1/keys", json={"name": "short-lived"}, headers=admin).json()
        key = {"Authorization": f"Bearer {created['key']}"}
        deadline = time.monotonic() + 5
        while httpx.get(f"{b}/v1/keys?principal=me", headers=key).status_code != 200:
            assert time.monotonic() < deadline, "replica b never learned of the new key"
            time.sleep(0.05)

        assert httpx.post(f"{a}/v1/keys/{created['id']}/revoke", headers=admin).status_code == 200
        revoked_at = time.monotonic()
        while httpx.get(f"{b}/v1/keys?principal=me", headers=key).status_code != 401:
            assert time.monotonic() - revoked_at < 5, "replica b still accepts a revoked key"
            time.sleep(0.05)

        # both replicas appended; the ledger is one gapless, verifiable order
        for url in (a, b):
            for n in range(5):
                httpx.post(
                    f"{url}/v1/assets", json={"kind": "runbook", "name": f"p{n}-{url[-5:]}"}, headers=admin
                ).raise_for_status()
        time.sleep(1.5)
        entries = httpx.get(f"{a}/v1/ledger/entries", headers=admin).json()
        assert [e["index"] for e in entries["entries"]] == list(range(entries["tree_size"]))
        types = [e["event"]["type"] for e in entries["entries"]]
        prompts = [
            e
            for e in entries["entries"]
            if e["event"]["type"] == "asset.created" and e["event"]["data"]["kind"] == "runbook"
        ]
        assert len(prompts) == 10
        assert "key.revoked" in types
