"""The catalog and its choke point over real HTTP: versions, approvals, gates, labels, reviews."""

from __future__ import annotations

import time
from datetime import date, timedelta

import httpx
import pytest

from aifactory.catalog import ApprovalGate, Catalog
from aifactory.errors import ConfigurationError
from aifactory.runtime import Runtime
from conftest import LiveServer


def _person(live: LiveServer, name: str, *roles: str) -> httpx.Client:
    admin = live.client()
    admin.post(
        "/v1/principals", json={"name": name, "kind": "person", "roles": list(roles)}
    ).raise_for_status()
    key = admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"]
    return live.client(key)


def _ledger_types(live: LiveServer) -> list[str]:
    time.sleep(0.3)  # the sequencer integrates within a few tens of milliseconds
    entries = live.client().get("/v1/ledger/entries").json()["entries"]
    return [e["event"]["type"] for e in entries]


@pytest.fixture
def team(live_server: LiveServer) -> dict[str, httpx.Client]:
    return {
        "alice": _person(live_server, "alice", "author"),
        "bob": _person(live_server, "bob", "reviewer"),
        "carol": _person(live_server, "carol", "reviewer"),
        "dan": _person(live_server, "dan", "auditor"),
    }


def test_versions_are_content_addressed_and_immutable(team: dict[str, httpx.Client]) -> None:
    alice = team["alice"]
    assert alice.post("/v1/assets", json={"kind": "runbook", "name": "faq"}).status_code == 201
    first = alice.post("/v1/assets/runbook:faq/versions", json={"content": {"b": 1, "a": [1, 2]}}).json()
    same = alice.post("/v1/assets/runbook:faq/versions", json={"content": {"a": [1, 2], "b": 1}}).json()
    assert first["created"] is True
    assert same["created"] is False
    assert same["number"] == first["number"] == 1
    assert same["content_hash"] == first["content_hash"]
    second = alice.post("/v1/assets/runbook:faq/versions", json={"content": {"b": 2}, "message": "m"}).json()
    assert second["number"] == 2
    listed = alice.get("/v1/assets/runbook:faq/versions").json()
    assert [v["number"] for v in listed] == [1, 2]


def test_nobody_approves_their_own_version(team: dict[str, httpx.Client], live_server: LiveServer) -> None:
    alice = team["alice"]
    alice.post("/v1/assets", json={"kind": "runbook", "name": "own"}).raise_for_status()
    alice.post("/v1/assets/runbook:own/versions", json={"content": {"x": 1}}).raise_for_status()
    admin = live_server.client()
    admin.post("/v1/assets/runbook:own/versions", json={"content": {"x": 2}}).raise_for_status()
    refused = admin.post("/v1/assets/runbook:own/versions/2/approvals", json={})
    assert refused.status_code == 403
    assert "no-self-approval" in refused.json()["policies"]
    assert "permission.denied" in _ledger_types(live_server)


def test_critical_assets_need_two_distinct_approvers(team: dict[str, httpx.Client]) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    alice.post("/v1/assets", json={"kind": "policy_pack", "name": "eu", "critical": True}).raise_for_status()
    alice.post("/v1/assets/policy_pack:eu/versions", json={"content": {"rules": []}}).raise_for_status()
    assert bob.post("/v1/assets/policy_pack:eu/versions/1/approvals", json={}).status_code == 201
    assert bob.post("/v1/assets/policy_pack:eu/versions/1/approvals", json={}).status_code == 409
    refused = alice.put("/v1/assets/policy_pack:eu/labels/production", json={"version": 1})
    assert refused.status_code == 409
    assert "2 approvals" in refused.json()["unmet"][0]
    assert carol.post("/v1/assets/policy_pack:eu/versions/1/approvals", json={}).status_code == 201
    moved = alice.put("/v1/assets/policy_pack:eu/labels/production", json={"version": 1, "reason": "go"})
    assert moved.status_code == 200, moved.text


def test_approval_is_for_one_exact_version(team: dict[str, httpx.Client]) -> None:
    alice, bob = team["alice"], team["bob"]
    alice.post("/v1/assets", json={"kind": "example", "name": "chat"}).raise_for_status()
    alice.post("/v1/assets/example:chat/versions", json={"content": {"v": 1}}).raise_for_status()
    bob.post("/v1/assets/example:chat/versions/1/approvals", json={}).raise_for_status()
    alice.post("/v1/assets/example:chat/versions", json={"content": {"v": 2}}).raise_for_status()
    assert alice.put("/v1/assets/example:chat/labels/production", json={"version": 2}).status_code == 409
    assert alice.put("/v1/assets/example:chat/labels/production", json={"version": 1}).status_code == 200


def test_labels_move_remove_and_keep_history(team: dict[str, httpx.Client], live_server: LiveServer) -> None:
    alice = team["alice"]
    alice.post("/v1/assets", json={"kind": "runbook", "name": "lab"}).raise_for_status()
    for n in (1, 2):
        alice.post("/v1/assets/runbook:lab/versions", json={"content": {"n": n}}).raise_for_status()
    assert alice.put("/v1/assets/runbook:lab/labels/staging", json={"version": 1}).status_code == 200
    assert alice.put("/v1/assets/runbook:lab/labels/staging", json={"version": 1}).status_code == 409
    assert alice.put("/v1/assets/runbook:lab/labels/staging", json={"version": 2}).status_code == 200
    assert alice.delete("/v1/assets/runbook:lab/labels/staging", params={"reason": "done"}).status_code == 200
    assert alice.delete("/v1/assets/runbook:lab/labels/staging").status_code == 404
    assert alice.get("/v1/assets/runbook:lab").json()["labels"] == {}
    history = alice.get("/v1/assets/runbook:lab/history").json()
    assert [(h["from_version"], h["to_version"]) for h in history] == [(None, 1), (1, 2), (2, None)]
    asset_id = alice.get("/v1/assets/runbook:lab").json()["id"]
    time.sleep(0.3)
    entries = live_server.client().get("/v1/ledger/entries").json()["entries"]
    moves = [e for e in entries if e["event"]["type"] == "asset.label_moved"]
    assert sum(1 for e in moves if e["event"]["subject"] == f"asset:{asset_id}") == 3


def test_invalid_label_and_unknown_version_are_refused(team: dict[str, httpx.Client]) -> None:
    alice = team["alice"]
    alice.post("/v1/assets", json={"kind": "runbook", "name": "bad"}).raise_for_status()
    assert alice.put("/v1/assets/runbook:bad/labels/Prod!", json={"version": 1}).status_code == 422
    missing = alice.put("/v1/assets/runbook:bad/labels/staging", json={"version": 9})
    assert missing.status_code == 404
    assert "version 9" in missing.json()["detail"]


def test_auditors_read_but_do_not_write(team: dict[str, httpx.Client], live_server: LiveServer) -> None:
    dan = team["dan"]
    assert dan.get("/v1/assets").status_code == 200
    assert dan.get("/v1/ledger/checkpoint").status_code == 200
    denied = dan.post("/v1/assets", json={"kind": "runbook", "name": "nope"})
    assert denied.status_code == 403
    assert "default deny" in denied.json()["detail"]


def test_assets_past_review_are_due(team: dict[str, httpx.Client]) -> None:
    alice = team["alice"]
    past = (date.today() - timedelta(days=3)).isoformat()
    alice.post("/v1/assets", json={"kind": "dataset", "name": "old", "review_by": past}).raise_for_status()
    alice.post("/v1/assets", json={"kind": "dataset", "name": "new"}).raise_for_status()
    due = alice.get("/v1/assets", params={"due": "true"}).json()
    assert [a["name"] for a in due] == ["old"]
    admin_review = team["bob"].post("/v1/assets/dataset:old/review", json={"comment": "ok"})
    assert admin_review.status_code == 403  # reviewers approve versions; reviews belong to owners
    reviewed = alice.post("/v1/assets/dataset:old/review", json={"comment": "still needed"})
    assert reviewed.status_code == 200
    assert reviewed.json()["review_by"] > date.today().isoformat()
    assert alice.get("/v1/assets", params={"due": "true"}).json() == []


def test_the_gate_policy_is_per_label_and_kind(runtime: Runtime) -> None:
    catalog = Catalog(
        runtime.db,
        runtime.ledger,
        [ApprovalGate()],
        review_days=30,
        label_gates={"production": ["approval"], "runbook:production": [], "runbook:staging": ["approval"]},
    )
    assert catalog.gates_for("route", "production") == ("approval",)
    assert catalog.gates_for("runbook", "production") == ()
    assert catalog.gates_for("runbook", "staging") == ("approval",)
    assert catalog.gates_for("route", "staging") == ()


def test_a_gate_policy_naming_an_unknown_gate_stops_the_start(runtime: Runtime) -> None:
    with pytest.raises(ConfigurationError, match="unknown gate\\(s\\) freeze; registered gates: approval"):
        Catalog(runtime.db, runtime.ledger, [ApprovalGate()], review_days=30, label_gates={"x": ["freeze"]})
