"""The output guard end to end: a deployment and route published through the catalog, the gateway
calling the fault-injecting fake over HTTP as it streams one character a chunk, the server's SSE
framing; a blocked word split across chunks never reaches the wire, and the block is recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from aifactory.errors import GuardrailViolationError
from aifactory.gateway.service import CallContext, Gateway
from aifactory.gateway.types import ChatRequest
from aifactory.identity.permissions import Subject
from aifactory.policy.decision import ContentRule, Obligations
from aifactory.policy.guards import OutputGuard
from aifactory.policy.pii import default_detector
from aifactory.runtime import Runtime
from aifactory.server.routes.openai_compat import _sse
from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import serving
from gateway_helpers import deployment, publish, wait_for_route

RULES = (
    ContentRule("curse", "words", ("darn",), "redact"),
    ContentRule("stop", "words", ("forbidden",), "block"),
)
CALLER = CallContext(subject=Subject(id="app-1", kind="app", roles=("app",), team=None))


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def gateway(settings: Settings, admin_key: str, fake: FakeProvider) -> Iterator[Runtime]:
    """A runtime whose gateway serves route `guarded` (published through a live server first)."""
    with serving(settings, admin_key) as live:
        publish(live, "deployment", "fake-a", deployment(fake.url))
        publish(live, "route", "guarded", {"candidates": [{"deployment": "fake-a"}]})
        wait_for_route(live, live.admin_key, "guarded")
    runtime = Runtime.open(settings)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.close()


def request(stream: bool) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "guarded", "stream": stream, "messages": [{"role": "user", "content": "go"}]}
    )


async def sse_frames(gw: Gateway, guard: OutputGuard) -> tuple[list[dict[str, Any]], Any]:
    """The SSE frames the server would send for a guarded stream, decoded, and the run."""
    run, events = await gw.chat_stream(request(True), CALLER, guard=guard)
    first = await anext(events)
    frames = []
    async for chunk in _sse(run.id, "guarded", first, events, False):
        body = chunk.decode().removeprefix("data: ").strip()
        frames.append({"done": True} if body == "[DONE]" else json.loads(body))
    await gw.aclose()
    return frames, run


def text_of(frames: list[dict[str, Any]]) -> str:
    return "".join(
        c["delta"].get("content") or "" for f in frames for c in f.get("choices", []) if "delta" in c
    )


def test_a_word_streamed_a_character_a_chunk_is_redacted(gateway: Runtime, fake: FakeProvider) -> None:
    fake.plan("fake-chat", then="chunk_chars:1", reply="well darn, that went well")
    guard = OutputGuard(Obligations(content_rules=RULES), None, holdback=16)
    frames, run = asyncio.run(sse_frames(gateway.gateway, guard))
    assert text_of(frames) == "well [REDACTED:curse], that went well"
    assert fake.calls[-1].fault == "chunk_chars:1"
    assert frames[-1] == {"done": True}
    assert run.status != "error"
    assert guard.findings.rules == {"curse": 1}


def test_pii_streamed_a_character_a_chunk_never_reaches_the_wire(
    gateway: Runtime, fake: FakeProvider
) -> None:
    fake.plan("fake-chat", then="chunk_chars:1", reply="write to alice.smith@example.com or +44 20 7946 0958")
    obligations = Obligations(output_pii=frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER"}))
    guard = OutputGuard(obligations, default_detector())
    frames, _ = asyncio.run(sse_frames(gateway.gateway, guard))
    assert text_of(frames) == "write to <EMAIL_ADDRESS> or <PHONE_NUMBER>"
    wire = json.dumps(frames)
    assert "alice" not in wire
    assert "7946" not in wire
    assert guard.findings.pii == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_a_blocked_word_split_across_chunks_ends_the_stream_with_a_typed_error(
    gateway: Runtime, fake: FakeProvider
) -> None:
    fake.plan("fake-chat", then="chunk_chars:1", reply="a long and harmless preamble, then forbidden lore")
    guard = OutputGuard(Obligations(content_rules=RULES), None, holdback=16)
    frames, run = asyncio.run(sse_frames(gateway.gateway, guard))
    sent = text_of(frames)
    assert sent.startswith("a long and harmless")
    assert "forbidden" not in json.dumps(frames[:-1])
    error = frames[-1]["error"]
    assert error["code"] == "guardrail_violation"
    assert error["run_id"] == run.id
    assert "'stop'" in error["message"]
    assert run.status == "error"
    assert run.error_type == "GuardrailViolationError"


def test_whole_responses_are_guarded_too(gateway: Runtime, fake: FakeProvider) -> None:
    fake.plan("fake-chat", then="ok", reply="darn it")

    async def flow() -> None:
        guard = OutputGuard(Obligations(content_rules=RULES), None)
        response, run = await gateway.gateway.chat(request(False), CALLER, guard=guard)
        assert response.text == "[REDACTED:curse] it"
        fake.plan("fake-chat", then="ok", reply="it is forbidden")
        with pytest.raises(GuardrailViolationError) as raised:
            await gateway.gateway.chat(
                request(False), CALLER, guard=OutputGuard(Obligations(content_rules=RULES), None)
            )
        assert raised.value.extra["run_id"] != run.id
        await gateway.gateway.aclose()

    asyncio.run(flow())
