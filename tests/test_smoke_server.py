"""The server end to end over real HTTP: auth, catalog choke point, ledger reads."""

from __future__ import annotations

from conftest import LiveServer


def test_catalog_promotion_needs_a_second_person(live_server: LiveServer) -> None:
    admin = live_server.client()
    assert admin.post("/v1/assets", json={"kind": "runbook", "name": "greet"}).status_code == 201
    pushed = admin.post("/v1/assets/runbook:greet/versions", json={"content": {"t": "hi"}}).json()
    assert pushed["number"] == 1
    refused = admin.put("/v1/assets/runbook:greet/labels/production", json={"version": 1})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "approval" in refused.json()["unmet"][0]

    admin.post("/v1/principals", json={"name": "rita", "kind": "person", "roles": ["reviewer"]})
    rita_key = admin.post("/v1/keys", json={"name": "rita", "principal": "rita"}).json()["key"]
    rita = live_server.client(rita_key)
    assert rita.post("/v1/assets/runbook:greet/versions/1/approvals", json={}).status_code == 201
    moved = admin.put("/v1/assets/runbook:greet/labels/production", json={"version": 1})
    assert moved.status_code == 200, moved.text
    assert admin.get("/v1/assets/runbook:greet").json()["labels"] == {"production": 1}


def test_unauthenticated_is_401_problem(live_server: LiveServer) -> None:
    response = live_server.client(key="").get("/v1/ledger/checkpoint")
    assert response.status_code == 401
    assert response.json()["title"] == "Authentication required"
