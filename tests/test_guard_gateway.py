"""The guards end to end, as a pack asks for them: a policy pack with content rules and output PII
activated through the catalog (a second person approves), the server calling the fault-injecting
fake over HTTP as it streams one character a chunk. A blocked word split across chunks never reaches
the wire, PII never does either, and what the guards found is in the run's ledger entry."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, ledger_event, publish, wait_for_route

PACK = {
    "name": "house-guards",
    "title": "House content rules and PII in outputs",
    "sources": [{"title": "house rules"}],
    "rules": [
        {
            "id": "guard-output",
            "description": "no swearing, no forbidden lore, no contact details in answers",
            "source": "house rules 1",
            "output_pii": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
            "content_rules": [
                {"id": "curse", "kind": "words", "pattern": ["darn"], "action": "redact"},
                {"id": "stop", "kind": "words", "pattern": ["forbidden"], "action": "block"},
            ],
        }
    ],
}


@pytest.fixture
def served(live_server: LiveServer) -> Iterator[tuple[LiveServer, FakeProvider, httpx.Client]]:
    """A live server serving route `guarded` on the fake, the pack active, and an app's client."""
    with FakeProvider() as fake:
        publish(live_server, "deployment", "fake-a", deployment(fake.url))
        publish(live_server, "route", "guarded", {"candidates": [{"deployment": "fake-a"}]})
        publish(live_server, "policy-pack", "house-guards", PACK)
        key = app_key(live_server)
        wait_for_route(live_server, key, "guarded")
        client = live_server.client(key)
        _until_guarded(live_server, fake, client)
        yield live_server, fake, client


def _until_guarded(live: LiveServer, fake: FakeProvider, client: httpx.Client) -> None:
    """Wait until the pack is active on the server (its policy follows the catalog)."""
    for _ in range(200):
        fake.plan("fake-chat", then="ok", reply="darn")
        answer = client.post("/v1/chat/completions", json=_body(False)).json()
        if answer["choices"][0]["message"]["content"] == "[REDACTED:curse]":
            return
        time.sleep(0.05)
    pytest.fail("the pack never became active")


def _body(stream: bool) -> dict[str, Any]:
    return {"model": "guarded", "stream": stream, "messages": [{"role": "user", "content": "go"}]}


def _frames(client: httpx.Client) -> tuple[list[dict[str, Any]], str]:
    """The SSE frames of a streamed call, decoded, and its run id."""
    frames: list[dict[str, Any]] = []
    with client.stream("POST", "/v1/chat/completions", json=_body(True)) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                frames.append({"done": True} if data == "[DONE]" else json.loads(data))
        return frames, response.headers["x-aifactory-run-id"]


def _text(frames: list[dict[str, Any]]) -> str:
    return "".join(
        c["delta"].get("content") or "" for f in frames for c in f.get("choices", []) if "delta" in c
    )


def _ledger_data(live: LiveServer, run_id: str, kind: str = "run.ok") -> dict[str, Any]:
    return dict(ledger_event(live, f"run:{run_id}", kind)["data"])


def test_a_word_streamed_a_character_a_chunk_is_redacted(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    live, fake, client = served
    fake.plan("fake-chat", then="chunk_chars:1", reply="well darn, that went well")
    frames, run_id = _frames(client)
    assert _text(frames) == "well [REDACTED:curse], that went well"
    assert fake.calls[-1].fault == "chunk_chars:1"
    assert frames[-1] == {"done": True}
    data = _ledger_data(live, run_id)
    assert data["guards"]["output"]["rules"] == {"curse": 1}
    assert data["decision_outcome"] == "restrict"


def test_pii_streamed_a_character_a_chunk_never_reaches_the_wire(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    live, fake, client = served
    fake.plan("fake-chat", then="chunk_chars:1", reply="write to alice.smith@example.com or +44 20 7946 0958")
    frames, run_id = _frames(client)
    assert _text(frames) == "write to <EMAIL_ADDRESS> or <PHONE_NUMBER>"
    wire = json.dumps(frames)
    assert "alice" not in wire
    assert "7946" not in wire
    assert _ledger_data(live, run_id)["guards"]["output"]["pii"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_a_blocked_word_split_across_chunks_ends_the_stream_with_a_typed_error(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    live, fake, client = served
    preamble = "a long and harmless preamble, longer than the hold-back window of 64 characters, "
    fake.plan("fake-chat", then="chunk_chars:1", reply=preamble + "then forbidden lore")
    frames, run_id = _frames(client)
    assert _text(frames).startswith("a long and harmless")
    assert "forbidden" not in json.dumps(frames[:-1])
    error = frames[-1]["error"]
    assert error["code"] == "guardrail_violation"
    assert error["run_id"] == run_id
    assert "'stop'" in error["message"]
    run = live.client().get(f"/v1/runs/{run_id}").json()
    assert (run["status"], run["error_type"]) == ("error", "GuardrailViolationError")


def test_whole_responses_are_guarded_too(served: tuple[LiveServer, FakeProvider, httpx.Client]) -> None:
    _live, fake, client = served
    fake.plan("fake-chat", then="ok", reply="darn it")
    answer = client.post("/v1/chat/completions", json=_body(False))
    assert answer.json()["choices"][0]["message"]["content"] == "[REDACTED:curse] it"
    fake.plan("fake-chat", then="ok", reply="it is forbidden")
    blocked = client.post("/v1/chat/completions", json=_body(False))
    assert blocked.status_code == 400  # 422 in problem+json; OpenAI routes say 400
    assert blocked.json()["error"]["code"] == "guardrail_violation"
    assert "forbidden" not in blocked.text
