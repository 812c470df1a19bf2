"""Canaries, rollback and the lifecycle of versions, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import date, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from aifactory.cli.main import app as cli_app
from aifactory.client import Client
from conftest import LiveServer

REF = "runbook:reply"


def _person(live: LiveServer, name: str, *roles: str) -> httpx.Client:
    admin = live.client()
    admin.post(
        "/v1/principals", json={"name": name, "kind": "person", "roles": list(roles)}
    ).raise_for_status()
    return live.client(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])


@pytest.fixture
def people(live_server: LiveServer) -> tuple[httpx.Client, httpx.Client]:
    """An author with three approved versions of `runbook:reply`, and a reviewer."""
    alice, bob = _person(live_server, "alice", "author"), _person(live_server, "bob", "reviewer")
    alice.post("/v1/assets", json={"kind": "runbook", "name": "reply"}).raise_for_status()
    for n in (1, 2, 3):
        alice.post(f"/v1/assets/{REF}/versions", json={"content": {"text": f"v{n}"}}).raise_for_status()
        bob.post(f"/v1/assets/{REF}/versions/{n}/approvals", json={}).raise_for_status()
    return alice, bob


def _stages(client: httpx.Client) -> dict[int, str]:
    return {v["number"]: v["stage"] for v in client.get(f"/v1/assets/{REF}/versions").json()}


def test_rollback_walks_back_through_released_versions(people: tuple[httpx.Client, httpx.Client]) -> None:
    alice, _ = people
    for n in (1, 2, 3):
        alice.put(f"/v1/assets/{REF}/labels/production", json={"version": n}).raise_for_status()
    back = alice.post(f"/v1/assets/{REF}/labels/production/rollback", json={"reason": "errors up"})
    assert back.status_code == 200, back.text
    assert (back.json()["kind"], back.json()["from_version"], back.json()["to_version"]) == ("rollback", 3, 2)
    again = alice.post(f"/v1/assets/{REF}/labels/production/rollback", json={}).json()
    assert (again["from_version"], again["to_version"]) == (2, 1)
    first = alice.post(f"/v1/assets/{REF}/labels/production/rollback", json={})
    assert first.status_code == 409
    assert "no earlier version to roll back to" in first.json()["detail"]
    assert alice.get(f"/v1/assets/{REF}").json()["labels"] == {"production": 1}


def test_a_canary_runs_the_labels_gates_and_rollback_ends_it(
    people: tuple[httpx.Client, httpx.Client], live_server: LiveServer
) -> None:
    alice, _ = people
    alice.post(f"/v1/assets/{REF}/versions", json={"content": {"text": "unapproved"}}).raise_for_status()
    no_label = alice.put(f"/v1/assets/{REF}/labels/production/canary", json={"version": 2, "percent": 10})
    assert no_label.status_code == 409
    assert "move 'production' to a stable version first" in no_label.text
    alice.put(f"/v1/assets/{REF}/labels/production", json={"version": 1}).raise_for_status()
    refused = alice.put(f"/v1/assets/{REF}/labels/production/canary", json={"version": 4, "percent": 10})
    assert refused.status_code == 409
    assert refused.json()["unmet"][0].startswith("approval: version 4 has 0 approval(s)")
    ramp = [{"after_minutes": 60, "percent": 25}, {"after_minutes": 120, "percent": 50}]
    started = alice.put(
        f"/v1/assets/{REF}/labels/production/canary", json={"version": 2, "percent": 10, "ramp": ramp}
    )
    assert started.status_code == 200, started.text
    asset = alice.get(f"/v1/assets/{REF}").json()
    assert asset["labels"] == {"production": 1}
    assert asset["canaries"]["production"]["version"] == 2
    assert asset["canaries"]["production"]["ramp"] == ramp
    assert _stages(alice) == {1: "production", 2: "canary", 3: "approved", 4: "draft"}
    rolled = alice.post(
        f"/v1/assets/{REF}/labels/production/rollback", json={"reason": "canary errors"}
    ).json()
    assert (rolled["from_version"], rolled["to_version"]) == (2, 1)
    assert alice.get(f"/v1/assets/{REF}").json()["canaries"] == {}
    time.sleep(0.3)
    entries = live_server.client().get("/v1/ledger/entries").json()["entries"]
    types = [e["event"]["type"] for e in entries if e["event"]["subject"].startswith("asset:")]
    assert types[-3:] == ["asset.label_move_refused", "asset.canary_started", "asset.label_rolled_back"]


def test_promoting_the_canary_ends_it(people: tuple[httpx.Client, httpx.Client]) -> None:
    alice, _ = people
    alice.put(f"/v1/assets/{REF}/labels/production", json={"version": 1}).raise_for_status()
    alice.put(
        f"/v1/assets/{REF}/labels/production/canary", json={"version": 2, "percent": 5}
    ).raise_for_status()
    alice.put(f"/v1/assets/{REF}/labels/production", json={"version": 2}).raise_for_status()
    asset = alice.get(f"/v1/assets/{REF}").json()
    assert (asset["labels"], asset["canaries"]) == ({"production": 2}, {})
    assert alice.delete(f"/v1/assets/{REF}/labels/production/canary").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"version": 2, "percent": 100}, "less than 100"),
        ({"version": 2, "percent": 10, "ramp": [{"after_minutes": 5, "percent": 5}]}, "raise the percent"),
        (
            {
                "version": 2,
                "percent": 10,
                "ramp": [{"after_minutes": 9, "percent": 20}, {"after_minutes": 5, "percent": 30}],
            },
            "in order of after_minutes",
        ),
    ],
)
def test_bad_canaries_are_refused_by_name(
    people: tuple[httpx.Client, httpx.Client], body: dict[str, object], message: str
) -> None:
    alice, _ = people
    alice.put(f"/v1/assets/{REF}/labels/production", json={"version": 1}).raise_for_status()
    response = alice.put(f"/v1/assets/{REF}/labels/production/canary", json=body)
    assert response.status_code == 422
    assert message in response.text


def test_lifecycle_marks_and_retirement(people: tuple[httpx.Client, httpx.Client]) -> None:
    alice, bob = people
    alice.put(f"/v1/assets/{REF}/labels/production", json={"version": 2}).raise_for_status()
    alice.post(f"/v1/assets/{REF}/versions", json={"content": {"text": "v4"}}).raise_for_status()
    mark = alice.post(f"/v1/assets/{REF}/versions/4/lifecycle", json={"state": "candidate"})
    assert mark.json()["stage"] == "candidate"
    no_sunset = alice.post(f"/v1/assets/{REF}/versions/1/lifecycle", json={"state": "deprecated"})
    assert no_sunset.status_code == 400
    assert "needs a sunset date" in no_sunset.text
    sunset = (date.today() + timedelta(days=30)).isoformat()
    deprecated = alice.post(
        f"/v1/assets/{REF}/versions/1/lifecycle", json={"state": "deprecated", "sunset": sunset}
    )
    assert (deprecated.json()["stage"], deprecated.json()["sunset"]) == ("deprecated", sunset)
    serving = alice.post(f"/v1/assets/{REF}/versions/2/lifecycle", json={"state": "retired"})
    assert serving.status_code == 409
    assert "still serves label(s) production" in serving.text
    assert alice.post(f"/v1/assets/{REF}/versions/1/lifecycle", json={"state": "retired"}).status_code == 200
    assert _stages(bob) == {1: "retired", 2: "production", 3: "approved", 4: "candidate"}
    final = alice.post(f"/v1/assets/{REF}/versions/1/lifecycle", json={"state": "candidate"})
    assert final.status_code == 409
    assert "retired for good" in final.text
    to_retired = alice.put(f"/v1/assets/{REF}/labels/staging", json={"version": 1})
    assert to_retired.status_code == 409
    assert "is retired" in to_retired.text
    assert alice.get(f"/v1/assets/{REF}/versions/1").json()["content"] == {"text": "v1"}


def test_the_cli_and_the_sdk_roll_back_any_asset(
    people: tuple[httpx.Client, httpx.Client], live_server: LiveServer
) -> None:
    alice, _ = people
    for n in (1, 2):
        alice.put(f"/v1/assets/{REF}/labels/production", json={"version": n}).raise_for_status()
    env = {"AIFACTORY_URL": live_server.url, "AIFACTORY_API_KEY": live_server.admin_key}
    result = CliRunner().invoke(cli_app, ["assets", "rollback", REF, "--label", "production"], env=env)
    assert result.exit_code == 0, result.output
    assert "version 2 -> 1" in result.stdout
    with Client(live_server.url, live_server.admin_key) as client:
        client.assets.canary(REF, "production", 3, 20, ramp=[{"after_minutes": 30, "percent": 40}])
        assert client.assets.get(REF).canaries["production"].percent == 20
        rolled = client.assets.rollback(REF, "production", "canary errors")
        assert (rolled.kind, rolled.from_version, rolled.to_version) == ("rollback", 3, 1)
        marked = client.assets.mark(REF, 2, "deprecated", sunset=date.today() + timedelta(days=5))
        assert marked.stage == "deprecated"
