"""Tool calls are authorization decisions: Cedar allows, denies or holds each call for approval; the
guard removes what is not allowed from whole and streamed responses and records every decision."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from aifactory.errors import InvalidInputError
from aifactory.gateway.types import ChatResponse, Delta, StreamEnd, StreamEvent, Usage
from aifactory.identity.permissions import Subject
from aifactory.policy.switch_records import SwitchIn
from aifactory.policy.tool_context import ToolCallContext
from aifactory.policy.tool_guard import ToolGuard
from aifactory.policy.tool_policies import ToolCall, ToolPolicies
from aifactory.policy.tool_specs import ToolSpec
from aifactory.runtime import Runtime
from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, publish, wait_for_route

CALLER = Subject("prn_app", "app", ("app",), "tm_payments")
LOOKUP = ToolSpec(
    name="lookup",
    action="orders.read",
    resource_kind="Order",
    side_effect="read",
    parameters={"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
)
REFUND = ToolSpec(
    name="refund",
    action="payments.refund",
    resource_kind="Payment",
    side_effect="write",
    parameters={"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]},
)
SPECS = {"lookup": LOOKUP, "refund": REFUND}

USER_POLICIES = """
@id("refunds-over-100-need-approval")
@approval
forbid (principal, action == Aifactory::Action::"payments.refund", resource)
when { context.arguments has amount && context.arguments.amount > 100 };

@id("no-refunds-for-interns")
forbid (principal in Aifactory::Role::"intern", action == Aifactory::Action::"payments.refund", resource);
"""


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> ToolPolicies:
    folder = tmp_path_factory.mktemp("tool-policies")
    (folder / "refunds.cedar").write_text(USER_POLICIES, encoding="utf-8")
    return ToolPolicies.load(folder)


def decide(policies: ToolPolicies, name: str, arguments: Any, **context: Any) -> Any:
    call = ToolCall("call_1", name, json.dumps(arguments))
    subject = context.pop("subject", CALLER)
    return policies.decide(call, SPECS.get(name), ToolCallContext(subject, **context))


# --- Cedar decisions -----------------------------------------------------------------------------


def test_a_registered_tool_is_allowed(policies: ToolPolicies) -> None:
    decision = decide(policies, "lookup", {"order": "o-1"})
    assert (decision.outcome, decision.policies) == ("allow", ("tools-registered-permit",))


def test_an_unregistered_tool_is_denied(policies: ToolPolicies) -> None:
    decision = decide(policies, "delete_everything", {})
    assert decision.outcome == "deny"
    assert "tools-unregistered-forbid" in decision.policies


def test_side_effects_in_high_risk_need_approval(policies: ToolPolicies) -> None:
    held = decide(policies, "refund", {"amount": 5}, risk_class="high")
    assert (held.outcome, held.policies) == ("require_approval", ("tools-high-risk-side-effects-approval",))
    assert decide(policies, "lookup", {"order": "o"}, risk_class="high").outcome == "allow"
    assert decide(policies, "refund", {"amount": 5}, risk_class="low").outcome == "allow"


def test_user_policies_read_the_arguments(policies: ToolPolicies) -> None:
    assert decide(policies, "refund", {"amount": 100}).outcome == "allow"
    big = decide(policies, "refund", {"amount": 250})
    assert (big.outcome, big.policies) == ("require_approval", ("refunds-over-100-need-approval",))
    intern = Subject("prn_i", "person", ("intern",), None)
    hard = decide(policies, "refund", {"amount": 250}, subject=intern)
    assert hard.outcome == "deny"  # a hard forbid beats approval
    assert set(hard.policies) == {"no-refunds-for-interns", "refunds-over-100-need-approval"}


def test_the_decisions_allowed_tools_bound_the_calls(policies: ToolPolicies) -> None:
    assert decide(policies, "lookup", {"order": "o"}, allowed_tools=frozenset({"refund"})).outcome == "deny"
    assert decide(policies, "refund", {"amount": 1}, allowed_tools=frozenset({"refund"})).outcome == "allow"


def test_kill_switches_deny_tools(policies: ToolPolicies) -> None:
    assert decide(policies, "refund", {"amount": 1}, disabled_tools=frozenset({"refund"})).outcome == "deny"
    assert decide(policies, "refund", {"amount": 1}, kill_switch_level="no_write_tools").outcome == "deny"
    assert decide(policies, "lookup", {"order": "o"}, kill_switch_level="no_write_tools").outcome == "allow"
    assert decide(policies, "lookup", {"order": "o"}, kill_switch_level="no_tools").outcome == "deny"


def test_arguments_outside_the_schema_are_denied(policies: ToolPolicies) -> None:
    wrong = decide(policies, "lookup", {"order": 7})
    assert (wrong.outcome, wrong.policies) == ("deny", ("tools-invalid-arguments-forbid",))
    assert "arguments" in wrong.reason
    broken = policies.decide(ToolCall("c", "lookup", "{not json"), LOOKUP, ToolCallContext(CALLER))
    assert broken.outcome == "deny"


def test_odd_argument_values_reach_cedar(policies: ToolPolicies) -> None:
    odd = {"order": "o", "note": None, "ratio": 0.5, "big": 2**70, "tags": ["a", None], "deep": {"x": 1.0}}
    assert decide(policies, "lookup", odd).outcome == "allow"


def test_policies_without_an_id_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="@id"):
        ToolPolicies([("x.cedar", "permit (principal, action, resource);")])
    with pytest.raises(InvalidInputError, match="invalid Cedar"):
        ToolPolicies([("x.cedar", "permit (principal, action, resource")])


# --- the guard on whole and streamed responses ---------------------------------------------------


class _Tools:
    def get(self, name: str) -> ToolSpec | None:
        return SPECS.get(name)


@pytest.fixture
def guard(runtime: Runtime, policies: ToolPolicies) -> ToolGuard:
    return ToolGuard(policies, _Tools(), runtime.ledger, runtime.kill_switches)  # type: ignore[arg-type]


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def _response(*calls: dict[str, Any], content: str | None = None) -> ChatResponse:
    message = {"role": "assistant", "content": content, "tool_calls": list(calls)}
    return ChatResponse([{"index": 0, "message": message, "finish_reason": "tool_calls"}], Usage(3, 4))


def test_denied_calls_are_removed_and_recorded(guard: ToolGuard, runtime: Runtime) -> None:
    response = _response(_call("c1", "lookup", {"order": "o-9"}), _call("c2", "refund", {"amount": 500}))
    out = asyncio.run(guard.filter_response(response, ToolCallContext(CALLER, run_id="run_1")))
    message = out.choices[0]["message"]
    assert [c["id"] for c in message["tool_calls"]] == ["c1"]
    assert out.choices[0]["finish_reason"] == "tool_calls"
    assert "refund is pending approval" in message["content"]
    assert [(d["tool"], d["outcome"]) for d in out.extra["tool_decisions"]] == [
        ("lookup", "allow"),
        ("refund", "require_approval"),
    ]
    runtime.ledger.sync()
    leaves = [json.loads(leaf) for _, leaf in runtime.ledger.entries(0, runtime.ledger.size())]
    decided = [e for e in leaves if e["type"] == "tool_call.decided"]
    assert [(e["data"]["tool"], e["data"]["outcome"], e["subject"]) for e in decided] == [
        ("lookup", "allow", "run:run_1"),
        ("refund", "require_approval", "run:run_1"),
    ]
    raw = json.dumps({"amount": 500})
    assert decided[1]["data"]["arguments_sha256"] == hashlib.sha256(raw.encode()).hexdigest()
    assert "500" not in json.dumps(decided[1])


def test_when_every_call_is_removed_the_answer_stops(guard: ToolGuard) -> None:
    out = asyncio.run(guard.filter_response(_response(_call("c1", "nope", {})), ToolCallContext(CALLER)))
    choice = out.choices[0]
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"
    assert "nope was not run" in choice["message"]["content"]


def test_a_tool_switch_reaches_the_guard(guard: ToolGuard, runtime: Runtime) -> None:
    runtime.kill_switches.flip(SwitchIn(scope="tool", value="lookup", level="off", reason="r"), "prn_t")
    out = asyncio.run(
        guard.filter_response(_response(_call("c1", "lookup", {"order": "o"})), ToolCallContext(CALLER))
    )
    assert out.extra["tool_decisions"][0]["policies"] == ["tools-switched-off-forbid"]


def _stream_of(calls: list[dict[str, Any]], content: str = "") -> list[StreamEvent]:
    """Deltas as OpenAI streams tool calls: a head per call, then its arguments in pieces."""
    chunks: list[dict[str, Any]] = [{"role": "assistant", "content": content or None}]
    for index, call in enumerate(calls):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        chunks.append({"tool_calls": [head]})
        text = call["function"]["arguments"]
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            chunks.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    events: list[StreamEvent] = [
        Delta([{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]) for d in chunks
    ]
    events.append(Delta([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}]))
    events.append(StreamEnd(Usage(1, 2), "tool_calls"))
    return events


async def _aiter(events: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event


def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    """Every event of an async stream."""

    async def gather() -> list[StreamEvent]:
        return [event async for event in events]

    return asyncio.run(gather())


def test_streamed_calls_are_held_until_complete(guard: ToolGuard) -> None:
    calls = [
        _call("c1", "refund", {"amount": 5}),
        _call("c2", "lookup", {"order": "o-1"}),
        _call("c3", "gone", {}),
    ]
    decisions: list[Any] = []
    out = collect(guard.filter_stream(_aiter(_stream_of(calls)), ToolCallContext(CALLER), decisions))
    deltas = [c["delta"] for e in out if isinstance(e, Delta) for c in e.choices]
    emitted = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert [(tc["index"], tc["id"], tc["function"]["name"]) for tc in emitted] == [
        (0, "c1", "refund"),
        (1, "c2", "lookup"),
    ]
    assert json.loads(emitted[1]["function"]["arguments"]) == {"order": "o-1"}  # whole, in one delta
    notes = "".join(d.get("content") or "" for d in deltas)
    assert "gone was not run" in notes
    finishes = [
        c["finish_reason"] for e in out if isinstance(e, Delta) for c in e.choices if c["finish_reason"]
    ]
    assert finishes == ["tool_calls"]
    assert isinstance(out[-1], StreamEnd)
    assert [d.outcome for d in decisions] == ["allow", "allow", "deny"]


def test_a_stream_whose_calls_are_all_denied_stops(guard: ToolGuard) -> None:
    events = _stream_of([_call("c1", "gone", {})], content="Let me check.")
    out = collect(guard.filter_stream(_aiter(events), ToolCallContext(CALLER)))
    deltas = [c for e in out if isinstance(e, Delta) for c in e.choices]
    assert not any(c["delta"].get("tool_calls") for c in deltas)
    assert "".join(c["delta"].get("content") or "" for c in deltas).startswith("Let me check.\n\n[aifactory]")
    assert [c["finish_reason"] for c in deltas if c["finish_reason"]] == ["stop"]


# --- end to end over HTTP ------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def sdk(live_server: LiveServer, fake: FakeProvider) -> Iterator[openai.OpenAI]:
    publish(live_server, "tool", "lookup", LOOKUP.model_dump(exclude_none=True))
    publish(live_server, "tool", "refund", REFUND.model_dump(exclude_none=True))
    publish(live_server, "deployment", "fake-a", deployment(fake.url))
    publish(live_server, "route", "chat-tools", {"candidates": [{"deployment": "fake-a"}]})
    key = app_key(live_server)
    wait_for_route(live_server, key, "chat-tools")
    deadline = time.monotonic() + 15
    while len(live_server.client().get("/v1/tools").json()) < 2:  # the catalog change reaches the tools
        assert time.monotonic() < deadline, "the tools were never served"
        time.sleep(0.05)
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0) as client:
        yield client


TOOLS: Any = [
    {"type": "function", "function": {"name": spec.name, "parameters": spec.parameters}}
    for spec in (LOOKUP, REFUND)
] + [{"type": "function", "function": {"name": "wipe", "parameters": {"type": "object"}}}]


def test_tool_calls_over_http(live_server: LiveServer, sdk: openai.OpenAI) -> None:
    tools = live_server.client().get("/v1/tools").json()
    assert [(t["name"], t["side_effect"]) for t in tools] == [("lookup", "read"), ("refund", "write")]
    messages: Any = [{"role": "user", "content": "use lookup then refund then wipe"}]
    raw = sdk.chat.completions.with_raw_response.create(model="chat-tools", messages=messages, tools=TOOLS)
    answer = raw.parse()
    message = answer.choices[0].message
    assert [c.function.name for c in message.tool_calls or []] == ["lookup", "refund"]
    assert message.content is not None
    assert "wipe was not run" in message.content
    body = json.loads(raw.http_response.text)
    assert [d["outcome"] for d in body["aifactory"]["tool_decisions"]] == ["allow", "allow", "deny"]

    stream = sdk.chat.completions.create(model="chat-tools", messages=messages, tools=TOOLS, stream=True)
    names, text, finish = [], "", None
    for chunk in stream:
        for choice in chunk.choices:
            names += [
                c.function.name for c in choice.delta.tool_calls or [] if c.function and c.function.name
            ]
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert names == ["lookup", "refund"]
    assert "wipe was not run" in text
    assert finish == "tool_calls"


def test_a_tool_switch_over_http(live_server: LiveServer, sdk: openai.OpenAI) -> None:
    body = {"scope": "tool", "value": "refund", "level": "off", "reason": "fraud"}
    live_server.client().post("/v1/kill-switches", json=body).raise_for_status()
    messages: Any = [{"role": "user", "content": "refund please"}]
    answer = sdk.chat.completions.create(
        model="chat-tools",
        messages=messages,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "refund"}},
    )
    # the switched-off tool was not even offered: the forced choice fell back to auto, the fake answered text
    assert answer.choices[0].message.tool_calls is None
    assert answer.choices[0].finish_reason == "stop"


def test_bad_tool_assets_are_refused(live_server: LiveServer) -> None:
    admin = live_server.client()
    admin.post("/v1/assets", json={"kind": "tool", "name": "bad"}).raise_for_status()
    pushed = admin.post("/v1/assets/tool:bad/versions", json={"content": {"name": "bad", "action": "x"}})
    assert pushed.status_code == 400
    assert "side_effect" in pushed.text
