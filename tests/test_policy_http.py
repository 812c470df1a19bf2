"""Policy over real HTTP: packs become active only through the catalog's choke point (a second
person approves), every replica's policy follows the catalog, and the dry run explains decisions
and refuses bad input with problem+json."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aifactory.policy.builtin import PACK_DIR
from aifactory.policy.pack_files import load_pack_file
from conftest import LiveServer

EU_CHAT = {"jurisdiction": "DE", "surface": "chat", "data_categories": ["personal_data"], "at": "2027-02-01"}


def _person(live: LiveServer, name: str, *roles: str) -> httpx.Client:
    admin = live.client()
    admin.post(
        "/v1/principals", json={"name": name, "kind": "person", "roles": list(roles)}
    ).raise_for_status()
    key = admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"]
    return live.client(key)


def _eventually(check: Callable[[], Any]) -> Any:
    """The first truthy result of `check`, polled while the change feed catches up."""
    deadline = time.monotonic() + 10
    while not (result := check()):
        assert time.monotonic() < deadline, "the policy did not follow the catalog"
        time.sleep(0.05)
    return result


def _push(client: httpx.Client, name: str) -> int:
    _, content = load_pack_file(PACK_DIR / f"{name}.yaml")
    client.post("/v1/assets", json={"kind": "policy-pack", "name": name}).raise_for_status()
    response = client.post(f"/v1/assets/policy-pack:{name}/versions", json={"content": content})
    response.raise_for_status()
    return int(response.json()["number"])


def _packs(client: httpx.Client) -> list[str]:
    response = client.get("/v1/policy/packs")
    response.raise_for_status()
    return [f"{p['name']}@{p['version']}" for p in response.json()]


def test_a_pack_is_active_only_after_a_second_person_approves(live_server: LiveServer) -> None:
    alice, bob = _person(live_server, "alice", "author"), _person(live_server, "bob", "reviewer")
    version = _push(alice, "eu-ai-act")
    assert _packs(alice) == []
    before = alice.post("/v1/policy/decisions", json=EU_CHAT).json()
    assert (before["outcome"], before["reasons"], before["packs"]) == ("allow", [], [])

    promote = {"version": version, "reason": "EU launch"}
    refused = alice.put("/v1/assets/policy-pack:eu-ai-act/labels/production", json=promote)
    assert refused.status_code == 409
    bob.post(f"/v1/assets/policy-pack:eu-ai-act/versions/{version}/approvals", json={}).raise_for_status()
    alice.put("/v1/assets/policy-pack:eu-ai-act/labels/production", json=promote).raise_for_status()

    assert _eventually(lambda: _packs(alice)) == ["eu-ai-act@1"]
    decision = alice.post("/v1/policy/decisions", json=EU_CHAT).json()
    assert decision["outcome"] == "restrict"
    assert decision["packs"] == ["eu-ai-act@1"]
    (reason,) = decision["reasons"]
    assert reason == {
        "pack": "eu-ai-act@1",
        "rule": "art50-1-ai-interaction",
        "effect": "disclosure",
        "detail": "You are interacting with an AI system.",
        "source": "AI Act Art. 50(1)",
    }
    assert decision["context"]["principal"].startswith("prn_")  # default: the caller
    assert any(n["rule"] == "art14-human-oversight" for n in decision["not_applied"])

    replay = bob.post("/v1/policy/decisions", json=EU_CHAT | {"principal": decision["context"]["principal"]})
    assert replay.json()["digest"] == decision["digest"]
    assert replay.json()["id"] != decision["id"]

    alice.delete("/v1/assets/policy-pack:eu-ai-act/labels/production").raise_for_status()
    assert _eventually(lambda: _packs(alice) == []) is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jurisdiction": "Germany"}, "jurisdiction"),
        ({"surface": "fax"}, "surface"),
        ({"risk_class": "severe"}, "risk_class"),
        ({"at": "next tuesday"}, "at"),
        ({"tenant": "x"}, "tenant"),
        ({"attributes": {"a": 1}}, "attributes"),
    ],
)
def test_the_dry_run_refuses_bad_input(live_server: LiveServer, body: dict[str, Any], field: str) -> None:
    response = live_server.client().post("/v1/policy/decisions", json=body)
    assert response.status_code == 422  # the server's status for a malformed body
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


def test_invalid_pack_content_is_refused_at_push(live_server: LiveServer) -> None:
    admin = live_server.client()
    admin.post("/v1/assets", json={"kind": "policy-pack", "name": "broken"}).raise_for_status()
    content = {
        "name": "broken",
        "title": "Broken",
        "sources": [{"title": "none"}],
        "rules": [{"id": "r", "description": "d", "source": "s", "when": "purpose ==", "disclosure": "x"}],
    }
    response = admin.post("/v1/assets/policy-pack:broken/versions", json={"content": content})
    assert response.status_code == 400
    assert "rules.0.when: Value error, CEL does not compile" in response.json()["detail"]


def test_policy_routes_need_a_key_and_a_permission(live_server: LiveServer) -> None:
    assert live_server.client("").get("/v1/policy/packs").status_code == 401
    app = live_server.client()
    app.post("/v1/principals", json={"name": "svc", "kind": "app", "roles": ["app"]}).raise_for_status()
    key = app.post("/v1/keys", json={"name": "svc", "principal": "svc"}).json()["key"]
    assert live_server.client(key).post("/v1/policy/decisions", json={}).status_code == 403
    auditor = _person(live_server, "dan", "auditor")
    assert auditor.post("/v1/policy/decisions", json={}).json()["outcome"] == "allow"
