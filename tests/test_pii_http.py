"""The PII routes over real HTTP on loopback: analyze and redact, who may call them, bad input as
problem+json (never a 500), and a megabyte of text."""

from __future__ import annotations

import time
from typing import Any

import httpx

from conftest import LiveServer

TEXT = "Schreib an jürgen@example.com 👋 oder ruf +49 30 1234567 an; IBAN DE89 3704 0044 0532 0130 00."


def principal_key(live: LiveServer, name: str, role: str) -> str:
    """A key for a new principal with one role, usable once the server knows it."""
    admin = live.client()
    admin.post("/v1/principals", json={"name": name, "kind": "app", "roles": [role]}).raise_for_status()
    key = str(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])
    for _ in range(100):
        if live.client(key).post("/v1/pii/analyze", json={"text": ""}).status_code != 401:
            break
        time.sleep(0.05)
    return key


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_analyze_reports_spans_scores_and_text_only_when_asked(live_server: LiveServer) -> None:
    client = live_server.client()
    plain = client.post("/v1/pii/analyze", json={"text": TEXT, "language": "de"})
    assert plain.status_code == 200, plain.text
    entities = plain.json()["entities"]
    assert [e["type"] for e in entities] == ["EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE"]
    assert all("text" not in e for e in entities)
    assert [TEXT[e["start"] : e["end"]] for e in entities[:1]] == ["jürgen@example.com"]
    assert all(0 < e["score"] <= 1 for e in entities)
    shown = client.post(
        "/v1/pii/analyze", json={"text": TEXT, "entities": ["IBAN_CODE"], "return_text": True}
    )
    start = TEXT.index("DE89")
    iban = {"type": "IBAN_CODE", "start": start, "end": start + 27, "score": 1.0}
    assert shown.json()["entities"] == [iban | {"text": "DE89 3704 0044 0532 0130 00"}]


def test_redact_in_every_mode(live_server: LiveServer) -> None:
    client = live_server.client()
    masked = client.post("/v1/pii/redact", json={"text": TEXT, "mode": "mask"}).json()
    assert masked["text"] == "Schreib an <EMAIL_ADDRESS> 👋 oder ruf <PHONE_NUMBER> an; IBAN <IBAN_CODE>."
    assert [masked["text"][e["start"] : e["end"]] for e in masked["entities"]] == [
        e["text"] for e in masked["entities"]
    ]
    mixed = client.post(
        "/v1/pii/redact", json={"text": TEXT, "mode": {"EMAIL_ADDRESS": "hash", "IBAN_CODE": "remove"}}
    ).json()
    assert mixed["text"].startswith("Schreib an <EMAIL_ADDRESS#")
    assert "+49 30 1234567" in mixed["text"]
    assert mixed["text"].endswith("IBAN .")
    again = client.post("/v1/pii/redact", json={"text": TEXT, "mode": {"EMAIL_ADDRESS": "hash"}}).json()
    assert again["text"].split()[2] == mixed["text"].split()[2]  # keyed, stable
    first, second = (
        client.post("/v1/pii/redact", json={"text": TEXT, "mode": "pseudonymize"}).json()["text"]
        for _ in range(2)
    )
    assert "<EMAIL_ADDRESS_" in first
    assert first != second  # a new run, new surrogates
    assert (live_server.settings.data_dir / "pii.key").exists()


def test_bad_input_is_a_clear_4xx(live_server: LiveServer) -> None:
    client = live_server.client()
    unknown = problem_of(client.post("/v1/pii/analyze", json={"text": "x", "entities": ["PERSON"]}), 400)
    assert "PERSON" in unknown["detail"]
    assert "EMAIL_ADDRESS" in unknown["valid"]
    mode = problem_of(client.post("/v1/pii/redact", json={"text": "x", "mode": "blur"}), 400)
    assert mode["valid"] == ["remove", "mask", "hash", "pseudonymize"]
    typed = problem_of(client.post("/v1/pii/redact", json={"text": "x", "mode": {"NOPE": "mask"}}), 400)
    assert "NOPE" in typed["detail"]
    problem_of(client.post("/v1/pii/analyze", json={"language": "en"}), 422)
    problem_of(client.post("/v1/pii/analyze", json={"text": 5}), 422)
    problem_of(client.post("/v1/pii/analyze", json={"text": "x", "language": "../etc"}), 422)
    problem_of(
        client.post("/v1/pii/analyze", content=b"{not json", headers={"content-type": "application/json"}),
        400,
    )
    odd = client.post("/v1/pii/analyze", json={"text": "\x00\ud7ff\U0010ffff" * 100, "language": "zz"})
    assert odd.status_code == 200


def test_a_megabyte_of_text_is_accepted(live_server: LiveServer) -> None:
    unit = "Kontakt: jane@example.com. " + "Lorem ipsum dolor sit amet. " * 30
    text = (unit * (1_000_000 // len(unit) + 1))[:1_000_000]
    response = live_server.client().post(
        "/v1/pii/analyze", json={"text": text, "entities": ["EMAIL_ADDRESS"]}
    )
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["entities"]) == text.count("jane@example.com")
    too_big = "x" * (live_server.settings.max_body_bytes + 1)
    problem_of(live_server.client().post("/v1/pii/analyze", json={"text": too_big}), 413)


def test_apps_and_authors_may_call_without_a_key_nobody_may(live_server: LiveServer) -> None:
    for role in ("app", "author", "auditor"):
        key = principal_key(live_server, f"pii-{role}", role)
        response = live_server.client(key).post("/v1/pii/redact", json={"text": TEXT, "mode": "mask"})
        assert response.status_code == 200, (role, response.text)
    problem_of(live_server.client("").post("/v1/pii/analyze", json={"text": TEXT}), 401)
