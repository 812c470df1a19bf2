"""Helpers for gateway tests: publish deployments and routes through the catalog's choke point."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aifactory.bootstrap import initialize
from aifactory.client import Client
from aifactory.settings import Settings
from conftest import LiveServer, serving


def reviewer(live: LiveServer) -> httpx.Client:
    """A reviewer's client (created once per server)."""
    admin = live.client()
    if admin.get("/v1/principals/gw-reviewer").status_code == 404:
        admin.post("/v1/principals", json={"name": "gw-reviewer", "kind": "person", "roles": ["reviewer"]})
    key = admin.post("/v1/keys", json={"name": "gw", "principal": "gw-reviewer"}).json()["key"]
    return live.client(key)


def app_key(live: LiveServer, name: str = "gw-app") -> str:
    """An API key for an app principal that may call the gateway."""
    admin = live.client()
    if admin.get(f"/v1/principals/{name}").status_code == 404:
        admin.post("/v1/principals", json={"name": name, "kind": "app", "roles": ["app"]}).raise_for_status()
    return str(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])


def publish(live: LiveServer, kind: str, name: str, content: dict[str, Any]) -> None:
    """Create (or version) an asset, approve it as a second person, label it production."""
    admin = live.client()
    if admin.get(f"/v1/assets/{kind}:{name}").status_code == 404:
        admin.post("/v1/assets", json={"kind": kind, "name": name}).raise_for_status()
    pushed = admin.post(f"/v1/assets/{kind}:{name}/versions", json={"content": content})
    pushed.raise_for_status()
    number = pushed.json()["number"]
    approvals = f"/v1/assets/{kind}:{name}/versions/{number}/approvals"
    approver = reviewer(live)
    for _ in range(200):  # a new key may reach the server's identity cache a moment later: 401 until then
        approved = approver.post(approvals, json={})
        if approved.status_code != 401:
            break
        time.sleep(0.02)
    # 409: approved before (the same content pushed again returns the same version)
    assert approved.status_code in (200, 201, 409), approved.text
    moved = admin.put(f"/v1/assets/{kind}:{name}/labels/production", json={"version": number})
    assert moved.status_code == 200, moved.text


def deployment(base_url: str, model: str = "fake-chat", **extra: Any) -> dict[str, Any]:
    """An openai deployment spec pointing at a fake upstream."""
    spec: dict[str, Any] = {
        "provider": "openai",
        "base_url": base_url,
        "upstream_model": model,
        "timeout_seconds": 5,
        "prices": {"input_per_mtok": "1", "output_per_mtok": "2"},
    }
    return spec | extra


def wait_for_route(live: LiveServer, key: str, alias: str, deadline: float = 5) -> None:
    """Wait until the gateway serves `alias` (the catalog change reaches it through the change feed)."""
    client = live.client(key)
    end = time.monotonic() + deadline
    while True:
        # another replica may not know the key yet (it polls the change feed): 401 until it does
        response = client.get("/v1/models")
        if response.status_code == 200 and alias in [m["id"] for m in response.json()["data"]]:
            return
        assert time.monotonic() < end, (
            f"route {alias} never served: {response.status_code} {response.text[:200]}"
        )
        time.sleep(0.05)


def wait_for_run(live: LiveServer, run_id: str) -> dict[str, Any]:
    """The run record of a call (written in the background: it may take a moment to appear)."""
    for _ in range(200):
        found = live.client().get(f"/v1/runs/{run_id}")
        if found.status_code == 200:
            return dict(found.json())
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} never recorded")


@contextlib.contextmanager
def module_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[LiveServer]:
    """A server on a new data dir (SQLite) that notices catalog changes quickly, for a module's tests."""
    data = tmp_path_factory.mktemp(name)
    settings = Settings(data_dir=data, change_poll_interval=0.05, ledger_checkpoint_interval=0.2)
    admin = initialize(settings).admin_key
    assert admin is not None
    with serving(settings, admin) as live:
        yield live


def ledger_event(live: LiveServer, subject: str, kind: str) -> dict[str, Any]:
    """The newest sequenced ledger event of type `kind` about `subject` (waiting for the sequencer)."""
    with Client(live.url, live.admin_key) as client:
        for _ in range(200):
            size = client.ledger.checkpoint().splitlines()[1]
            entries = []
            for start in range(0, int(size), 1000):
                entries += client.ledger.entries(start, start + 1000)
            found = [
                e.event for e in entries if (e.event.get("subject"), e.event.get("type")) == (subject, kind)
            ]
            if found:
                return found[-1]
            time.sleep(0.05)
    raise AssertionError(f"no ledger entry about {subject}")
