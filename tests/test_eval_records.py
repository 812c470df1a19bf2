"""Signed eval records over real HTTP: signing, submission, signers, the eval-record gate (with the
approval and no-open-incident gates), tampering, the SDK and the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from typer.testing import CliRunner

from aifactory.cli.main import app as cli_app
from aifactory.client import Client
from aifactory.evals import signing
from aifactory.settings import Settings
from aifactory.store import Database
from aifactory.store.schema import eval_records
from conftest import LiveServer
from eval_helpers import TEST_KEY, ensure_signer, open_incident, pass_eval, record, submit

GATES = ["approval", "eval-record", "no-open-incident"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The gates a prompt's production label has, on a kind of its own (no content validator)."""
    return settings.model_copy(update={"label_gates": {"runbook:production": GATES}})


def _person(live: LiveServer, name: str, *roles: str) -> httpx.Client:
    admin = live.client()
    body = {"name": name, "kind": "person", "roles": list(roles)}
    admin.post("/v1/principals", json=body).raise_for_status()
    return live.client(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])


def _asset(client: httpx.Client, name: str, *contents: dict[str, Any]) -> list[str]:
    """A runbook with these versions; their content hashes."""
    client.post("/v1/assets", json={"kind": "runbook", "name": name}).raise_for_status()
    hashes = []
    for content in contents:
        pushed = client.post(f"/v1/assets/runbook:{name}/versions", json={"content": content})
        pushed.raise_for_status()
        hashes.append(pushed.json()["content_hash"])
    return hashes


def _events(live: LiveServer, kind: str) -> list[dict[str, Any]]:
    time.sleep(0.3)  # the sequencer integrates within a few tens of milliseconds
    entries = live.client().get("/v1/ledger/entries").json()["entries"]
    return [e["event"] for e in entries if e["event"]["type"] == kind]


# --- signing ---------------------------------------------------------------------------------------


def test_a_signature_covers_every_member_but_itself() -> None:
    signed = signing.sign(record("runbook:x", "1" * 64), TEST_KEY)
    assert signed["signer"] == signing.key_id(TEST_KEY.public_key())
    assert signing.verify(signed, TEST_KEY.public_key())
    assert signing.signed_bytes(signed) == rfc8785.dumps(
        {k: v for k, v in signed.items() if k != "signature"}
    )
    for change in ({"verdict": "fail"}, {"n": 201}, {"signer": "k_0000000000000000"}, {"signature": "!!"}):
        assert not signing.verify(signed | change, TEST_KEY.public_key())
    assert not signing.verify(signed, Ed25519PrivateKey.generate().public_key())


def test_a_third_party_signs_from_the_documented_recipe(live_server: LiveServer) -> None:
    """docs/evals.md: Ed25519 over RFC 8785 of the record without `signature`; base64 signature."""
    admin = live_server.client()
    (content_hash,) = _asset(admin, "faq", {"text": "hi"})
    key = Ed25519PrivateKey.generate()
    key_id = ensure_signer(admin, key, "third-party")
    body = record("runbook:faq", content_hash) | {"signer": key_id}
    body["signature"] = base64.b64encode(key.sign(rfc8785.dumps(body))).decode()
    submitted = admin.post("/v1/eval-records", json=body)
    assert submitted.status_code == 201, submitted.text
    stored = submitted.json()
    assert stored["id"].startswith("evr_")
    assert stored["record"] == body
    assert stored["digest"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()


# --- submission ------------------------------------------------------------------------------------


def test_submit_stores_the_record_and_the_ledger_commits_to_it(live_server: LiveServer) -> None:
    admin = live_server.client()
    alice = _person(live_server, "alice", "author")
    first, second = _asset(alice, "faq", {"text": "hi"}, {"text": "hello"})
    ensure_signer(admin)
    submitted = submit(alice, "runbook:faq", second)
    assert submitted.status_code == 201, submitted.text
    stored = submitted.json()
    assert (stored["verdict"], stored["content_hash"], stored["submitted_by"]) == (
        "pass",
        second,
        alice_id(admin),
    )
    assert admin.get(f"/v1/eval-records/{stored['id']}").json() == stored
    assert [r["id"] for r in alice.get("/v1/eval-records", params={"asset": "runbook:faq"}).json()] == [
        stored["id"]
    ]
    assert alice.get("/v1/eval-records", params={"content_hash": first}).json() == []
    assert admin.get("/v1/eval-records/evr_0000").status_code == 404
    (event,) = _events(live_server, "eval.recorded")
    assert event["data"] == {
        "record": stored["id"],
        "digest": stored["digest"],
        "verdict": "pass",
        "content_hash": second,
        "signer": stored["signer"],
    }


def alice_id(admin: httpx.Client) -> str:
    return str(admin.get("/v1/principals/alice").json()["id"])


def test_a_tampered_record_is_refused(live_server: LiveServer) -> None:
    admin = live_server.client()
    (content_hash,) = _asset(admin, "faq", {"text": "hi"})
    key_id = ensure_signer(admin)
    signed = signing.sign(record("runbook:faq", content_hash, "fail"), TEST_KEY)
    refused = admin.post("/v1/eval-records", json=signed | {"verdict": "pass"})
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == (
        f"eval record refused: the signature does not verify with signer {key_id} (test-runner)"
    )
    assert admin.get("/v1/eval-records").json() == []


def test_a_record_of_content_that_is_no_version_is_refused(live_server: LiveServer) -> None:
    admin = live_server.client()
    first, second = _asset(admin, "faq", {"text": "hi"}, {"text": "hello"})
    ensure_signer(admin)
    refused = submit(admin, "runbook:faq", "f" * 64)
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        f"content_hash {'f' * 64} is not the hash of any version of runbook:faq; its versions are "
        f"version 1: {first}; version 2: {second}"
    )
    assert submit(admin, "runbook:nope", first).json()["detail"].startswith("no asset 'runbook:nope'")
    malformed = admin.post("/v1/eval-records", json=record("runbook:faq", first))
    assert malformed.status_code == 422  # no signer, no signature
    signed = {"signer": "k_" + "0" * 16, "signature": "AAAA"}
    huge = admin.post("/v1/eval-records", json=record("runbook:faq", first, n=2**60) | signed)
    assert huge.status_code == 400
    assert "no RFC 8785 form" in huge.json()["detail"]


def test_unknown_and_revoked_signers(live_server: LiveServer) -> None:
    admin = live_server.client()
    alice = _person(live_server, "alice", "author")
    (content_hash,) = _asset(admin, "faq", {"text": "hi"})
    key_id = signing.key_id(TEST_KEY.public_key())
    unknown = submit(admin, "runbook:faq", content_hash)
    assert unknown.status_code == 400
    assert f"signer {key_id} is not registered" in unknown.json()["detail"]

    body = {"name": "ci", "public_key": signing.public_key_text(TEST_KEY.public_key())}
    assert alice.post("/v1/eval-signers", json=body).status_code == 403  # admins and platform only
    added = admin.post("/v1/eval-signers", json=body)
    assert added.status_code == 201
    assert added.json()["key_id"] == key_id
    assert admin.post("/v1/eval-signers", json=body).status_code == 409
    bad_key = admin.post("/v1/eval-signers", json={"name": "x", "public_key": "bm90IGEga2V5"})
    assert bad_key.status_code == 400
    assert "not an Ed25519 public key" in bad_key.json()["detail"]
    assert submit(alice, "runbook:faq", content_hash).status_code == 201

    assert alice.delete(f"/v1/eval-signers/{key_id}").status_code == 403
    revoked = admin.delete(f"/v1/eval-signers/{key_id}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert admin.delete(f"/v1/eval-signers/{key_id}").status_code == 409
    assert admin.delete("/v1/eval-signers/k_0000000000000000").status_code == 404
    refused = submit(admin, "runbook:faq", content_hash)
    assert refused.status_code == 400
    assert f"signer {key_id} (ci) was revoked at" in refused.json()["detail"]
    assert [s["key_id"] for s in alice.get("/v1/eval-signers").json()] == [key_id]
    assert [e["subject"] for e in _events(live_server, "eval.signer_revoked")] == [f"eval_signer:{key_id}"]


# --- the gates -------------------------------------------------------------------------------------


def _move(client: httpx.Client, name: str, version: int) -> httpx.Response:
    return client.put(f"/v1/assets/runbook:{name}/labels/production", json={"version": version})


def test_the_gates_list_every_unmet_condition_then_let_the_move_through(live_server: LiveServer) -> None:
    admin = live_server.client()
    alice = _person(live_server, "alice", "author")
    bob = _person(live_server, "bob", "reviewer")
    (content_hash,) = _asset(alice, "faq", {"text": "hi"})
    incident = open_incident(bob, "runbook:faq", "answers in the wrong language", "high")
    refused = _move(alice, "faq", 1)
    assert refused.status_code == 409
    assert refused.json()["unmet"] == [
        f"approval: version 1 has 0 approval(s) by someone other than its author ({alice_id(admin)}); "
        "it needs 1 approval before it can be labelled 'production'",
        f"eval-record: no eval record for version 1 (content sha256 {content_hash[:16]}...); run the "
        "evaluation and submit its signed record",
        f'no-open-incident: {incident} "answers in the wrong language" (high) is open on runbook:faq; '
        "resolve it first",
    ]
    bob.post("/v1/assets/runbook:faq/versions/1/approvals", json={}).raise_for_status()
    pass_eval(admin, "runbook:faq", content_hash)
    still = _move(alice, "faq", 1)
    assert [u.split(":")[0] for u in still.json()["unmet"]] == ["no-open-incident"]
    bob.post(f"/v1/incidents/{incident}/resolve", json={"resolution": "fixed the prompt"}).raise_for_status()
    moved = _move(alice, "faq", 1)
    assert moved.status_code == 200, moved.text
    assert alice.get("/v1/assets/runbook:faq").json()["labels"] == {"production": 1}


def test_a_failing_record_does_not_pass_and_the_newest_verified_record_decides(
    live_server: LiveServer,
) -> None:
    admin = live_server.client()
    (content_hash,) = _asset(admin, "faq", {"text": "hi"})
    _person(live_server, "bob", "reviewer").post("/v1/assets/runbook:faq/versions/1/approvals", json={})
    ensure_signer(admin)
    failed = submit(admin, "runbook:faq", content_hash, "fail").json()
    assert _move(admin, "faq", 1).json()["unmet"] == [
        f"eval-record: the latest record for version 1 ({failed['id']}) has verdict fail; fix the "
        "version and submit a passing record"
    ]
    submit(admin, "runbook:faq", content_hash, "investigate").raise_for_status()
    assert "has verdict investigate" in _move(admin, "faq", 1).json()["unmet"][0]
    submit(admin, "runbook:faq", content_hash, "pass").raise_for_status()
    assert _move(admin, "faq", 1).status_code == 200


def _tamper(live: LiveServer, record_id: str, **values: Any) -> None:
    db = Database(live.settings.resolved_database_url)
    try:
        with db.write() as conn:
            conn.execute(update(eval_records).where(eval_records.c.id == record_id).values(**values))
    finally:
        db.dispose()


def test_a_record_tampered_in_the_database_fails_the_gate(live_server: LiveServer) -> None:
    admin = live_server.client()
    (content_hash,) = _asset(admin, "faq", {"text": "hi"})
    _person(live_server, "bob", "reviewer").post("/v1/assets/runbook:faq/versions/1/approvals", json={})
    key_id = ensure_signer(admin)
    stored = submit(admin, "runbook:faq", content_hash, "fail").json()
    _tamper(live_server, stored["id"], verdict="pass")  # the column is for queries: the gate reads the JSON
    assert "has verdict fail" in _move(admin, "faq", 1).json()["unmet"][0]
    forged = json.dumps(stored["record"] | {"verdict": "pass"})
    _tamper(live_server, stored["id"], record=forged)
    assert _move(admin, "faq", 1).json()["unmet"] == [
        f"eval-record: record {stored['id']} for version 1: the signature does not verify with signer "
        f"{key_id} (test-runner)"
    ]


def test_revoking_a_signer_unmeets_the_gate_at_once(live_server: LiveServer) -> None:
    admin = live_server.client()
    (content_hash,) = _asset(admin, "faq", {"text": "hi"})
    _person(live_server, "bob", "reviewer").post("/v1/assets/runbook:faq/versions/1/approvals", json={})
    stored = pass_eval(admin, "runbook:faq", content_hash)
    admin.delete(f"/v1/eval-signers/{stored['signer']}").raise_for_status()
    (unmet,) = _move(admin, "faq", 1).json()["unmet"]
    assert unmet.startswith(f"eval-record: record {stored['id']} for version 1: signer {stored['signer']}")
    assert "was revoked at" in unmet


# --- SDK and CLI -----------------------------------------------------------------------------------


def test_the_sdk_signs_client_side(live_server: LiveServer, tmp_path: Path) -> None:
    key_file = tmp_path / "runner.key"
    key = signing.generate_key_file(key_file)
    with Client(live_server.url, live_server.admin_key) as client:
        client.assets.create("runbook", "faq")
        version = client.assets.push("runbook:faq", {"text": "hi"})
        signer = client.evals.add_signer("sdk-runner", signing.public_key_text(key.public_key()))
        stored = client.evals.submit(record("runbook:faq", version.content_hash), key_file)
        assert (stored.signer, stored.verdict) == (signer.key_id, "pass")
        assert client.evals.get(stored.id) == stored
        assert client.evals.records(asset="runbook:faq") == [stored]
        assert [s.key_id for s in client.evals.signers()] == [signer.key_id]
        assert client.evals.revoke_signer(signer.key_id).revoked_at is not None


def test_the_cli_generates_a_key_registers_it_and_submits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
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

    key = run("evals", "keygen", str(tmp_path / "ci.key"))
    assert key["key_id"].startswith("k_")
    signer = run("evals", "signers", "add", "ci", "--key-file", str(tmp_path / "ci.key"))
    assert (signer["key_id"], signer["public_key"]) == (key["key_id"], key["public_key"])
    run("assets", "create", "runbook", "faq")
    (tmp_path / "v1.json").write_text('{"text": "hi"}')
    version = run("assets", "push", "runbook:faq", str(tmp_path / "v1.json"))
    (tmp_path / "record.json").write_text(json.dumps(record("runbook:faq", version["content_hash"])))
    stored = run("evals", "submit", str(tmp_path / "record.json"), "--key", str(tmp_path / "ci.key"))
    assert stored["signer"] == key["key_id"]
    assert [r["id"] for r in run("evals", "records", "--asset", "runbook:faq")] == [stored["id"]]
    assert run("evals", "show", stored["id"])["digest"] == stored["digest"]
    assert run("evals", "signers", "revoke", key["key_id"])["revoked_at"] is not None
    assert [s["key_id"] for s in run("evals", "signers", "list")] == [key["key_id"]]
    again = runner.invoke(
        cli_app, ["evals", "submit", str(tmp_path / "record.json"), "--key", str(tmp_path / "ci.key")]
    )
    assert again.exit_code == 1
    assert "was revoked" in again.stderr
    people = runner.invoke(cli_app, ["evals", "records"])
    assert people.exit_code == 0
    assert "Eval records" in people.stdout  # a table for people (folded to the terminal's width)
