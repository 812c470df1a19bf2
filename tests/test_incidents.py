"""Incidents over real HTTP: who opens and resolves them, the ledger, the no-open-incident gate on the
default production label, the SDK and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from aifactory.cli.main import app as cli_app
from aifactory.client import Client
from aifactory.runtime import Runtime
from conftest import LiveServer
from eval_helpers import open_incident


def _person(live: LiveServer, name: str, *roles: str) -> httpx.Client:
    admin = live.client()
    body = {"name": name, "kind": "person", "roles": list(roles)}
    admin.post("/v1/principals", json=body).raise_for_status()
    return live.client(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])


def _runbook(client: httpx.Client, name: str) -> str:
    client.post("/v1/assets", json={"kind": "runbook", "name": name}).raise_for_status()
    client.post(f"/v1/assets/runbook:{name}/versions", json={"content": {"n": 1}}).raise_for_status()
    return str(client.get(f"/v1/assets/runbook:{name}").json()["id"])


def _events(live: LiveServer) -> list[dict[str, Any]]:
    time.sleep(0.3)  # the sequencer integrates within a few tens of milliseconds
    entries = live.client().get("/v1/ledger/entries").json()["entries"]
    return [e["event"] for e in entries if e["event"]["type"].startswith("incident.")]


def test_open_list_resolve_and_the_ledger(live_server: LiveServer) -> None:
    olga = _person(live_server, "olga", "overseer")
    rita = _person(live_server, "rita", "reviewer")
    alice = _person(live_server, "alice", "author")
    dan = _person(live_server, "dan", "auditor")
    asset_id = _runbook(alice, "faq")
    body = {"asset": "runbook:faq", "title": "wrong answers", "severity": "critical"}
    assert alice.post("/v1/incidents", json=body).status_code == 403
    opened = olga.post("/v1/incidents", json=body)
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    assert (incident["asset_id"], incident["status"], incident["severity"]) == (asset_id, "open", "critical")
    assert incident["id"].startswith("inc_")
    assert dan.get(f"/v1/incidents/{incident['id']}").json() == incident
    assert [i["id"] for i in dan.get("/v1/incidents", params={"asset": "runbook:faq"}).json()] == [
        incident["id"]
    ]
    assert dan.get("/v1/incidents", params={"status": "resolved"}).json() == []
    assert dan.post(f"/v1/incidents/{incident['id']}/resolve", json={"resolution": "x"}).status_code == 403
    resolved = rita.post(f"/v1/incidents/{incident['id']}/resolve", json={"resolution": "rolled back"})
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolution"]) == ("resolved", "rolled back")
    again = rita.post(f"/v1/incidents/{incident['id']}/resolve", json={"resolution": "again"})
    assert again.status_code == 409
    assert again.json()["detail"] == f"incident {incident['id']} is already resolved"
    assert [(e["type"], e["subject"]) for e in _events(live_server)] == [
        ("incident.opened", f"incident:{incident['id']}"),
        ("incident.resolved", f"incident:{incident['id']}"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"asset": "runbook:nope", "title": "t", "severity": "high"}, 400, "no asset 'runbook:nope'"),
        ({"asset": "runbook:faq", "title": "t", "severity": "dire"}, 422, "severity"),
        ({"asset": "runbook:faq", "title": "", "severity": "low"}, 422, "title"),
    ],
)
def test_bad_incidents_say_what_is_wrong(
    live_server: LiveServer, body: dict[str, Any], status: int, detail: str
) -> None:
    admin = live_server.client()
    _runbook(admin, "faq")
    refused = admin.post("/v1/incidents", json=body)
    assert refused.status_code == status
    assert detail in json.dumps(refused.json())
    assert admin.get("/v1/incidents/inc_00").status_code == 404
    assert admin.post("/v1/incidents/inc_00/resolve", json={"resolution": "r"}).status_code == 404


def test_an_open_incident_holds_the_default_production_label(live_server: LiveServer) -> None:
    """The default gate policy: `production` needs an approval and no open incident."""
    admin = live_server.client()
    bob = _person(live_server, "bob", "reviewer")
    _runbook(admin, "faq")
    bob.post("/v1/assets/runbook:faq/versions/1/approvals", json={}).raise_for_status()
    first = open_incident(admin, "runbook:faq", "slow", "low")
    second = open_incident(admin, "runbook:faq", "rude", "medium")
    refused = admin.put("/v1/assets/runbook:faq/labels/production", json={"version": 1})
    assert refused.status_code == 409
    assert refused.json()["unmet"] == [
        f'no-open-incident: {first} "slow" (low) is open on runbook:faq; resolve it first',
        f'no-open-incident: {second} "rude" (medium) is open on runbook:faq; resolve it first',
    ]
    for incident in (first, second):
        admin.post(f"/v1/incidents/{incident}/resolve", json={"resolution": "ok"}).raise_for_status()
    assert admin.put("/v1/assets/runbook:faq/labels/production", json={"version": 1}).status_code == 200


def test_the_sdk(live_server: LiveServer) -> None:
    with Client(live_server.url, live_server.admin_key) as client:
        client.assets.create("runbook", "faq")
        incident = client.incidents.open("runbook:faq", "wrong answers", severity="high")
        assert client.incidents.get(incident.id) == incident
        assert client.incidents.list(status="open") == [incident]
        resolved = client.incidents.resolve(incident.id, "fixed")
        assert (resolved.status, resolved.resolution) == ("resolved", "fixed")
        assert client.incidents.list(asset="runbook:faq", status="open") == []


def test_the_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    runner = CliRunner()
    monkeypatch.delenv("AIFACTORY_URL", raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("AIFACTORY_DATABASE_URL", database_url)
    init = runner.invoke(cli_app, ["init", "--json"])
    monkeypatch.setenv("AIFACTORY_API_KEY", json.loads(init.stdout)["admin_key"])

    def run(*args: str) -> Any:
        result = runner.invoke(cli_app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    run("assets", "create", "runbook", "faq")
    incident = run("incidents", "open", "runbook:faq", "wrong answers", "--severity", "high")
    assert [i["id"] for i in run("incidents", "list", "--status", "open")] == [incident["id"]]
    assert run("incidents", "show", incident["id"])["title"] == "wrong answers"
    assert run("incidents", "resolve", incident["id"], "--resolution", "fixed")["status"] == "resolved"
    bad = runner.invoke(cli_app, ["incidents", "open", "runbook:faq", "x", "--severity", "dire"])
    assert bad.exit_code == 1
    assert "severity" in bad.stderr
    shown = runner.invoke(cli_app, ["incidents", "show", incident["id"]])
    assert shown.exit_code == 0
    assert "resolved" in shown.stdout


def test_the_default_gate_policy(runtime: Runtime) -> None:
    gates = runtime.catalog.gates_for
    assert gates("runbook", "production") == ("approval", "no-open-incident")
    assert gates("prompt", "production") == ("approval", "eval-record", "no-open-incident")
    assert gates("prompt", "staging") == ()
    assert gates("runbook", "canary") == ()
