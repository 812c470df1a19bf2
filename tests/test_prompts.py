"""Prompts served over real HTTP: push, resolve with ETag, render, pins, lifecycle headers, consumers,
search, label events, and the run that records the version a gateway call was built from."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from aifactory.testing import FakeProvider
from conftest import LiveServer
from eval_helpers import pass_eval
from gateway_helpers import app_key, deployment, ledger_event, publish, wait_for_route

GREET: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": 'You are kind. {% include "tone@production" %}'},
        {"role": "user", "content": "Greet {{ customer }}."},
    ],
    "variables": {"type": "object", "required": ["customer"], "properties": {"customer": {"type": "string"}}},
    "tags": {"function": "support", "risk": "low", "labels": ["greeting"]},
}


def _person(live: LiveServer, name: str, *roles: str) -> httpx.Client:
    admin = live.client()
    kind = "app" if "app" in roles else "person"
    admin.post("/v1/principals", json={"name": name, "kind": kind, "roles": list(roles)}).raise_for_status()
    return live.client(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])


def _push(client: httpx.Client, name: str, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/prompts", json={"name": name, "spec": spec, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _release(live: LiveServer, author: httpx.Client, reviewer: httpx.Client, name: str, version: int) -> None:
    """Approve, submit a passing eval record, and move production to the version."""
    found = author.get(f"/v1/assets/prompt:{name}/versions/{version}").json()
    reviewer.post(f"/v1/assets/prompt:{name}/versions/{version}/approvals", json={}).raise_for_status()
    pass_eval(live.client(), f"prompt:{name}", found["content_hash"])
    moved = author.put(f"/v1/assets/prompt:{name}/labels/production", json={"version": version})
    assert moved.status_code == 200, moved.text


@pytest.fixture
def team(live_server: LiveServer) -> dict[str, httpx.Client]:
    """An author, a reviewer and an app, with `tone` (a partial) and `greet` released at version 1."""
    people = {
        "alice": _person(live_server, "alice", "author"),
        "bob": _person(live_server, "bob", "reviewer"),
        "app": _person(live_server, "shop", "app"),
    }
    alice, bob = people["alice"], people["bob"]
    _push(alice, "tone", {"text": "Be brief."})
    _release(live_server, alice, bob, "tone", 1)
    _push(alice, "greet", GREET, description="Greets a customer")
    _release(live_server, alice, bob, "greet", 1)
    return people


def test_push_is_content_addressed_and_refuses_bad_templates(team: dict[str, httpx.Client]) -> None:
    alice = team["alice"]
    again = alice.post("/v1/prompts", json={"name": "greet", "spec": GREET})
    assert again.status_code == 201
    assert (again.json()["number"], again.json()["created"]) == (1, False)
    broken = {"messages": [{"role": "user", "content": "Hi {{ name }"}]}
    bad = alice.post("/v1/prompts", json={"name": "broken", "spec": broken})
    assert bad.status_code == 400
    assert "messages[0].content line 1" in bad.json()["detail"]
    unknown = alice.post(
        "/v1/prompts", json={"name": "x", "spec": {"text": '{% include "nope@production" %}'}}
    )
    assert unknown.status_code == 400
    assert "there is no prompt 'nope'" in unknown.json()["detail"]


def test_cyclic_composition_is_refused_at_push(team: dict[str, httpx.Client]) -> None:
    alice = team["alice"]
    _push(alice, "a", {"text": "A"})
    _push(alice, "b", {"text": '{% include "a@v1" %}'})
    cyclic = alice.post("/v1/prompts", json={"name": "a", "spec": {"text": '{% include "b@v1" %}'}})
    assert cyclic.status_code == 400
    assert "include cycle" in cyclic.json()["detail"]


def test_resolve_revalidates_with_the_etag(team: dict[str, httpx.Client]) -> None:
    app = team["app"]
    first = app.get("/v1/prompts/greet", params={"label": "production"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["version"], body["label"], body["canary"]) == (1, "production", False)
    assert body["spec"] == GREET
    assert set(body["pins"]) == {"tone@production"}
    cached = app.get("/v1/prompts/greet", headers={"If-None-Match": first.headers["etag"]})
    assert cached.status_code == 304
    assert app.get("/v1/prompts/greet", params={"label": "staging"}).status_code == 404
    assert app.get("/v1/prompts/greet", params={"version": 9}).status_code == 404
    assert app.get("/v1/prompts/nothing").status_code == 404


def test_render_checks_variables_and_uses_the_pins(
    team: dict[str, httpx.Client], live_server: LiveServer
) -> None:
    alice, bob, app = team["alice"], team["bob"], team["app"]
    rendered = app.post("/v1/prompts/greet/render", json={"variables": {"customer": "Ada"}})
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["messages"][0]["content"] == "You are kind. Be brief."
    assert rendered.json()["messages"][1]["content"] == "Greet Ada."
    missing = app.post("/v1/prompts/greet/render", json={"variables": {}})
    assert missing.status_code == 400
    assert "customer" in missing.json()["detail"]
    # the partial's production label moves on; greet's production keeps what was approved with it
    _push(alice, "tone", {"text": "Be chatty."})
    _release(live_server, alice, bob, "tone", 2)
    pinned = app.post("/v1/prompts/greet/render", json={"variables": {"customer": "Ada"}}).json()
    assert pinned["messages"][0]["content"] == "You are kind. Be brief."
    live = app.post("/v1/prompts/greet/render", json={"version": 1, "variables": {"customer": "Ada"}}).json()
    assert live["messages"][0]["content"] == "You are kind. Be chatty."


def test_deprecated_versions_warn_and_retired_ones_are_gone_unless_pinned(
    team: dict[str, httpx.Client],
) -> None:
    alice, app = team["alice"], team["app"]
    _push(alice, "greet", {**GREET, "tags": {"function": "support", "risk": "medium"}})
    sunset = date.today() + timedelta(days=10)
    alice.post(
        "/v1/assets/prompt:greet/versions/2/lifecycle",
        json={"state": "deprecated", "sunset": sunset.isoformat()},
    ).raise_for_status()
    warned = app.get("/v1/prompts/greet", params={"version": 2})
    assert warned.status_code == 200
    assert "deprecated" in warned.headers["warning"]
    assert warned.headers["sunset"].endswith("GMT")
    digest = warned.json()["content_hash"]
    time.sleep(0.1)
    retire = alice.post("/v1/assets/prompt:greet/versions/2/lifecycle", json={"state": "retired"})
    assert retire.status_code == 409
    assert "used in the last 30 days by" in retire.json()["detail"]
    forced = alice.post(
        "/v1/assets/prompt:greet/versions/2/lifecycle",
        json={"state": "retired", "force": True, "reason": "replaced by v1 again"},
    )
    assert forced.status_code == 200, forced.text
    gone = app.get("/v1/prompts/greet", params={"version": 2})
    assert gone.status_code == 410
    assert f"greet@sha256:{digest}" in gone.json()["detail"]
    assert app.get("/v1/prompts/greet", params={"hash": digest}).status_code == 200


def test_consumers_and_search(team: dict[str, httpx.Client], live_server: LiveServer) -> None:
    app, alice = team["app"], team["alice"]
    for environment, use_case in (("prod", "support-bot"), ("prod", "support-bot"), ("staging", "faq")):
        headers = {"X-Aifactory-Environment": environment, "X-Aifactory-Use-Case": use_case}
        app.get("/v1/prompts/greet", headers=headers).raise_for_status()
    found = alice.get("/v1/prompts/greet/consumers", params={"version": 1}).json()
    seen = {(c["environment"], c["use_case"]): c["uses"] for c in found}
    assert seen == {("prod", "support-bot"): 2, ("staging", "faq"): 1}
    assert all(c["consumer"].startswith("key_") for c in found)
    hits = alice.get("/v1/prompts", params={"function": "support", "risk": "low"}).json()
    assert [h["name"] for h in hits] == ["greet"]
    assert hits[0]["use_cases"] == ["faq", "support-bot"]
    assert hits[0]["labels"] == {"production": 1}
    assert [h["name"] for h in alice.get("/v1/prompts", params={"tag": "greeting"}).json()] == ["greet"]
    assert [h["name"] for h in alice.get("/v1/prompts", params={"q": "customer"}).json()] == ["greet"]
    assert alice.get("/v1/prompts", params={"risk": "extreme"}).status_code == 422


def test_label_moves_are_pushed_to_watchers(team: dict[str, httpx.Client], live_server: LiveServer) -> None:
    alice, bob, app = team["alice"], team["bob"], team["app"]
    events: list[dict[str, Any]] = []
    ready = threading.Event()

    def watch() -> None:
        with app.stream("GET", "/v1/prompts/events", params={"name": "greet"}, timeout=10) as response:
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                    ready.set()
                elif line.startswith("data:") and kind == "label":
                    events.append(json.loads(line[5:]))
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert ready.wait(5)
    _push(alice, "greet", {**GREET, "tags": {"function": "support", "risk": "high"}})
    _release(live_server, alice, bob, "greet", 2)
    thread.join(10)
    assert events == [
        {"name": "greet", "label": "production", "version": 2, "canary_version": None, "canary_percent": None}
    ]


def test_a_gateway_call_built_from_a_prompt_records_the_version(
    team: dict[str, httpx.Client], live_server: LiveServer
) -> None:
    with FakeProvider() as fake:
        publish(live_server, "deployment", "fake-a", deployment(fake.url))
        publish(live_server, "route", "prompted", {"candidates": [{"deployment": "fake-a"}]})
        key = app_key(live_server)
        wait_for_route(live_server, key, "prompted")
        app = live_server.client(key)
        body = {
            "model": "prompted",
            "prompt": {"name": "greet", "variables": {"customer": "Ada"}},
            "messages": [{"role": "user", "content": "And thanks!"}],
            "temperature": 0.5,
        }
        response = app.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        sent = fake.calls[-1].body
        assert [m["content"] for m in sent["messages"]] == [
            "You are kind. Be brief.",
            "Greet Ada.",
            "And thanks!",
        ]
        assert "prompt" not in sent
        run = live_server.client().get(f"/v1/runs/{response.headers['x-aifactory-run-id']}").json()
        assert (run["prompt"], run["prompt_version"]) == ("greet", 1)
        recorded = ledger_event(live_server, f"run:{run['id']}", "run.ok")["data"]["prompt"]
        tone = app.get("/v1/prompts/tone", params={"version": 1}).json()["content_hash"]
        assert recorded["content_hash"] == app.get("/v1/prompts/greet").json()["content_hash"]
        assert (recorded["version"], recorded["label"], recorded["canary"]) == (1, "production", False)
        assert recorded["includes"] == {"tone@production": tone}
        bad = app.post("/v1/chat/completions", json={**body, "prompt": {"name": "greet", "variables": {}}})
        assert bad.status_code == 400
        nameless = app.post("/v1/chat/completions", json={**body, "prompt": {"label": "production"}})
        assert nameless.status_code == 400
        assert "prompt.name" in nameless.text
