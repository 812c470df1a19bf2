"""Run payloads over real HTTP and the CLI: captured by the gateway (whole and streamed), read back by
permitted roles only, erased by subject and purged, with problem+json for bad input and the ledger
verifying afterwards (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from aifactory.cli.main import app
from aifactory.client import Client
from aifactory.gateway.runs import RunRecord, subject_hash
from aifactory.ids import new_id
from aifactory.retention.sealing import commitment
from aifactory.runtime import Runtime
from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, ledger_event, publish, wait_for_route, wait_for_run

runner = CliRunner()


@pytest.fixture
def served(live_server: LiveServer) -> Iterator[tuple[LiveServer, httpx.Client]]:
    """A live server whose gateway serves `chat-fake`, and an app's client for it."""
    with FakeProvider() as fake:
        publish(live_server, "deployment", "fake-a", deployment(fake.url))
        publish(live_server, "route", "chat-fake", {"candidates": [{"deployment": "fake-a"}]})
        key = app_key(live_server)
        wait_for_route(live_server, key, "chat-fake")
        yield live_server, live_server.client(key)


def chat(client: httpx.Client, text: str, subject: str | None, *, stream: bool = False) -> str:
    """A chat call; the run id."""
    headers = {"X-Aifactory-Subject": subject} if subject else {}
    body = {"model": "chat-fake", "messages": [{"role": "user", "content": text}], "stream": stream}
    response = client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["x-aifactory-run-id"]


def person(live: LiveServer, name: str, role: str) -> httpx.Client:
    admin = live.client()
    admin.post("/v1/principals", json={"name": name, "kind": "person", "roles": [role]}).raise_for_status()
    return live.client(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])


def test_payloads_are_captured_and_read_by_permitted_roles(served: tuple[LiveServer, httpx.Client]) -> None:
    live, caller = served
    whole = chat(caller, "hello there", "user-1")
    streamed = chat(caller, "one two three", "user-1", stream=True)
    wait_for_run(live, streamed)
    admin = live.client()
    body = admin.get(f"/v1/runs/{whole}/payload").json()
    assert body["payload"]["request"]["messages"] == [{"role": "user", "content": "hello there"}]
    assert body["payload"]["output"]["text"] == "echo: hello there"
    assert (
        admin.get(f"/v1/runs/{streamed}/payload").json()["payload"]["output"]["text"] == "echo: one two three"
    )
    # The run's ledger entry commits to exactly this payload, with this salt.
    event = ledger_event(live, f"run:{whole}", "run.ok")
    salt = base64.b64decode(body["salt"])
    assert event["data"]["payload_commitment"] == body["commitment"] == commitment(body["payload"], salt)
    assert "hello" not in json.dumps(event)
    assert "user-1" not in json.dumps(event)
    assert event["data"]["retention_until"].endswith("Z")
    read = ledger_event(live, f"run:{whole}", "run.payload_read")  # every read is recorded
    assert read["actor"] is not None
    assert read["data"] == {"commitment": body["commitment"]}
    overseer = person(live, "ovi", "overseer")
    assert overseer.get(f"/v1/runs/{whole}/payload").status_code == 200
    for client in (caller, person(live, "aud", "auditor"), person(live, "rev", "reviewer")):
        denied = client.get(f"/v1/runs/{whole}/payload")
        assert denied.status_code == 403, denied.text
        assert denied.headers["content-type"] == "application/problem+json"
    assert caller.get(f"/v1/runs/{whole}").status_code == 200  # the record itself stays readable
    missing = admin.get("/v1/runs/run_0000000000000000/payload")
    assert missing.status_code == 404
    assert "no run" in missing.json()["detail"]


def test_erasure_and_purge_over_http(served: tuple[LiveServer, httpx.Client]) -> None:
    live, caller = served
    runs = [chat(caller, "secret one", "user-9"), chat(caller, "secret two", "user-9")]
    kept = chat(caller, "other", "user-10")
    wait_for_run(live, runs[-1])
    admin = live.client()
    refused = caller.post("/v1/data/erasures", json={"subject": "user-9"})
    assert refused.status_code == 403
    erased = admin.post("/v1/data/erasures", json={"subject": "user-9", "reason": "ticket 42"})
    assert erased.status_code == 200, erased.text
    assert (erased.json()["payloads"], erased.json()["keys"]) == (2, 1)
    for run_id in runs:
        gone = admin.get(f"/v1/runs/{run_id}/payload")
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
        assert "erased" in gone.json()["detail"]
        assert gone.json()["reason"] == "erasure"
    assert admin.get(f"/v1/runs/{kept}/payload").status_code == 200
    event = ledger_event(live, f"subject:{erased.json()['subject_hash']}", "data.erased")
    assert (event["type"], event["data"]["reason"], event["data"]["payloads"]) == (
        "data.erased",
        "ticket 42",
        2,
    )
    again = admin.post("/v1/data/erasures", json={"subject": "user-9"}).json()
    assert (again["payloads"], again["keys"]) == (0, 0)  # nothing left: still answered and recorded
    purged = admin.post("/v1/data/purges", json={"limit": 10})
    assert purged.status_code == 200
    assert purged.json()["purged"] == 0
    assert admin.post("/v1/data/purges").status_code == 200  # the body is optional
    assert caller.post("/v1/data/purges").status_code == 403
    with Client(live.url, live.admin_key) as client:
        assert client.data.erase("user-10").payloads == 1
        assert client.data.purge().remaining == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/data/erasures", {}),
        ("/v1/data/erasures", {"subject": ""}),
        ("/v1/data/erasures", {"subject": "x" * 1001}),
        ("/v1/data/erasures", {"subject": "x", "surprise": 1}),
        ("/v1/data/erasures", {"subject": 7}),
        ("/v1/data/purges", {"limit": 0}),
        ("/v1/data/purges", {"limit": 10_001}),
        ("/v1/data/purges", {"limit": "all"}),
    ],
)
def test_bad_input_is_a_problem(live_server: LiveServer, path: str, body: dict[str, Any]) -> None:
    response = live_server.client().post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_malformed_run_id_is_a_problem(live_server: LiveServer) -> None:
    response = live_server.client().get("/v1/runs/not-a-run/payload")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


# --- CLI ----------------------------------------------------------------------------------------------


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok_json(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_on_a_server(served: tuple[LiveServer, httpx.Client], monkeypatch: pytest.MonkeyPatch) -> None:
    live, caller = served
    monkeypatch.setenv("AIFACTORY_URL", live.url)
    monkeypatch.setenv("AIFACTORY_API_KEY", live.admin_key)
    run_id = chat(caller, "remember me", "user-5")
    wait_for_run(live, run_id)
    assert ok_json("runs", "payload", run_id)["payload"]["output"]["text"] == "echo: remember me"
    shown = cli("runs", "payload", run_id)
    assert shown.exit_code == 0, shown.output
    assert "remember me" in shown.stdout
    assert "commitment" in shown.stdout
    declined = runner.invoke(app, ["data", "erase", "--subject", "user-5"], input="n\n")
    assert declined.exit_code == 1
    assert ok_json("runs", "payload", run_id)  # still there
    assert ok_json("data", "erase", "--subject", "user-5", "--yes", "--reason", "asked")["payloads"] == 1
    gone = cli("runs", "payload", run_id)
    assert gone.exit_code == 1
    assert "erased" in gone.stderr
    assert "Traceback" not in gone.output
    assert ok_json("data", "purge") == {"purged": 0, "batches": 0, "remaining": 0}
    verified = cli("ledger", "verify")
    assert verified.exit_code == 0, verified.output


def test_cli_purges_a_local_data_dir_in_batches(
    settings: Settings, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = Runtime.open(settings)
    try:
        secret = rt.gateway.payloads.keys.subject_secret
        long_ago = datetime.now(UTC) - timedelta(days=31)
        for n in range(5):
            subject = subject_hash(f"user-{n % 2}" if n < 4 else None, secret)
            run = RunRecord(
                new_id("run"), "prn_x", "chat", "r", False, subject_hash=subject, created_at=long_ago
            )
            run.payload = {"request": {"messages": [{"role": "user", "content": f"old {n}"}]}, "output": None}
            rt.gateway.runs.write_now(run)
        rt.ledger.sync()
    finally:
        rt.close()
    monkeypatch.delenv("AIFACTORY_URL", raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AIFACTORY_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("AIFACTORY_API_KEY", admin_key)
    purged = cli("data", "purge", "--batch", "2")
    assert purged.exit_code == 0, purged.output
    assert "purged 5 payload(s) past retention in 3 batch(es)" in purged.stdout
    assert ok_json("data", "purge") == {"purged": 0, "batches": 0, "remaining": 0}
    assert cli("ledger", "verify").exit_code == 0
    assert "must not be empty" in cli("data", "erase", "--subject", " ", "--yes").stderr


def test_the_server_purges_in_the_background(tmp_path: Path, settings: Settings, admin_key: str) -> None:
    rt = Runtime.open(settings.model_copy(update={"retention_purge_interval": 0.05}))
    try:
        run = RunRecord(
            new_id("run"), "prn_x", "chat", "r", False, created_at=datetime.now(UTC) - timedelta(days=99)
        )
        run.payload = {"request": {}, "output": None}
        rt.gateway.runs.write_now(run)
        rt.start()
        for _ in range(400):
            if rt.gateway.payloads.count_due() == 0:
                break
            time.sleep(0.02)
        assert rt.gateway.payloads.count_due() == 0
    finally:
        rt.close()


def test_the_gateway_takes_retention_from_the_decision(served: tuple[LiveServer, httpx.Client]) -> None:
    live, caller = served
    pack = {
        "name": "keep-logs",
        "title": "Keep logs 90 days, and at most 7 (a conflict)",
        "sources": [{"title": "house rules"}],
        "scope": {"jurisdictions": ["DE"]},
        "rules": [
            {"id": "keep-90", "description": "keep", "source": "rule 1", "retention": {"min_days": 90}},
            {"id": "at-most-7", "description": "drop", "source": "rule 2", "retention": {"max_days": 7}},
        ],
    }
    publish(live, "policy-pack", "keep-logs", pack)
    headers = {"X-Aifactory-Subject": "user-77", "X-Aifactory-Jurisdiction": "DE"}
    body = {"model": "chat-fake", "messages": [{"role": "user", "content": "keep me"}]}
    for _ in range(100):  # until every replica's policy follows the catalog
        answered = caller.post("/v1/chat/completions", json=body, headers=headers)
        assert answered.status_code == 200, answered.text
        run_id = answered.headers["x-aifactory-run-id"]
        if wait_for_run(live, run_id).get("decision_outcome") == "restrict":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the pack never became active")
    stored = live.client().get(f"/v1/runs/{run_id}/payload").json()
    assert stored["payload"]["output"]["text"] == "echo: keep me"
    kept = datetime.fromisoformat(stored["retention_until"]) - datetime.fromisoformat(stored["created_at"])
    assert kept == timedelta(days=90)  # the legal minimum wins over a conflicting maximum
