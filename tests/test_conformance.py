"""Gateway conformance: every fault the fake upstream can inject, and what the client must see.

One server and one fake upstream for the module (SQLite); each scenario scripts the fake per
upstream model, calls the gateway over real HTTP, and checks the answer, the run record's attempts
and the deployment that served it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, module_server, publish, wait_for_route, wait_for_run

UNAVAILABLE = "UpstreamUnavailableError"
TIMEOUT = "UpstreamTimeoutError"


@dataclass
class World:
    live: LiveServer
    fake: FakeProvider
    client: httpx.Client

    def run(self, response: httpx.Response) -> dict[str, Any]:
        return wait_for_run(self.live, response.headers["x-aifactory-run-id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with module_server(tmp_path_factory, "conformance") as live, FakeProvider() as fake:
        # a and b must not trip their breakers across scenarios; brk keeps the default breaker
        fast = {"timeout_seconds": 0.5, "breaker": {"min_calls": 100_000}}
        tool = {"name": "lookup", "action": "search.lookup", "resource_kind": "Index", "side_effect": "read"}
        publish(live, "tool", "lookup", tool)  # tool calls are decided: only registered tools pass
        publish(live, "deployment", "a", deployment(fake.url, model="m-a", **fast))
        publish(live, "deployment", "b", deployment(fake.url, model="m-b", **fast))
        publish(live, "deployment", "brk", deployment(fake.url, model="m-brk", timeout_seconds=0.5))
        publish(
            live, "deployment", "e-a", deployment(fake.url, model="fake-embedding", operation="embeddings")
        )
        publish(live, "deployment", "e-b", deployment(fake.url, model="e-b", operation="embeddings"))
        retry = {"max_attempts": 2, "base_delay_seconds": 0.01, "max_delay_seconds": 1}
        publish(
            live, "route", "r", {"candidates": [{"deployment": "a"}, {"deployment": "b"}], "retry": retry}
        )
        publish(live, "route", "solo", {"candidates": [{"deployment": "a"}], "retry": retry})
        publish(
            live,
            "route",
            "brk",
            {"candidates": [{"deployment": "brk"}, {"deployment": "b"}], "retry": {"max_attempts": 1}},
        )
        publish(
            live,
            "route",
            "deadline",
            {
                "candidates": [{"deployment": "a"}, {"deployment": "b"}],
                "retry": retry,
                "timeout_seconds": 0.8,
            },
        )
        publish(
            live,
            "route",
            "emb",
            {
                "operation": "embeddings",
                "retry": retry,
                "candidates": [{"deployment": "e-b"}, {"deployment": "e-a"}],
            },
        )
        key = app_key(live)
        for alias in ("r", "solo", "brk", "deadline", "emb"):
            wait_for_route(live, key, alias)
        with httpx.Client(
            base_url=f"{live.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:
            yield World(live, fake, client)


@pytest.fixture(autouse=True)
def fresh(world: World) -> None:
    world.fake.reset()


def chat(world: World, route: str = "r", text: str = "a b c d", **extra: Any) -> httpx.Response:
    body = {"model": route, "messages": [{"role": "user", "content": text}]} | extra
    return world.client.post("/chat/completions", json=body)


def stream(
    world: World, route: str = "r", text: str = "a b c d", **extra: Any
) -> tuple[httpx.Response, list[Any]]:
    body = {"model": route, "stream": True, "messages": [{"role": "user", "content": text}]} | extra
    events: list[Any] = []
    with world.client.stream("POST", "/chat/completions", json=body) as response:
        if response.status_code != 200:
            response.read()
            return response, events
        for line in response.iter_lines():
            if line.startswith("data: "):
                payload = line[6:]
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return response, events


def text_of(events: list[Any]) -> str:
    return "".join(
        (e["choices"][0]["delta"].get("content") or "")
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def outcomes(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["deployment"], a["outcome"]) for a in run["attempts"]]


@dataclass
class Case:
    """A non-streaming scenario: faults per upstream model, expected status, attempts."""

    plan: dict[str, list[str | None]]
    status: int
    attempts: list[tuple[str, str]]
    served_by: str | None = None
    route: str = "r"
    error_code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CASES = {
    "ok": Case({}, 200, [("a", "ok")], "a"),
    "503 once, retried on the same deployment": Case(
        {"m-a": ["503"]}, 200, [("a", UNAVAILABLE), ("a", "ok")], "a"
    ),
    "500 twice, falls over": Case(
        {"m-a": ["500", "500"]}, 200, [("a", UNAVAILABLE), ("a", UNAVAILABLE), ("b", "ok")], "b"
    ),
    "429 with a short Retry-After, retried": Case(
        {"m-a": ["429:0"]}, 200, [("a", "RateLimitedError"), ("a", "ok")], "a"
    ),
    "429 with a long Retry-After, falls over at once": Case(
        {"m-a": ["429:30"]}, 200, [("a", "RateLimitedError"), ("b", "ok")], "b"
    ),
    "connection reset, retried": Case({"m-a": ["refuse"]}, 200, [("a", UNAVAILABLE), ("a", "ok")], "a"),
    "connection closed without answer": Case(
        {"m-a": ["disconnect", "disconnect"]}, 200, [("a", UNAVAILABLE), ("a", UNAVAILABLE), ("b", "ok")], "b"
    ),
    "stall beyond the attempt deadline": Case(
        {"m-a": ["stall:3", "stall:3"]}, 200, [("a", TIMEOUT), ("a", TIMEOUT), ("b", "ok")], "b"
    ),
    "slow answer beyond the attempt deadline": Case(
        {"m-a": ["slow:2", "slow:2"]}, 200, [("a", TIMEOUT), ("a", TIMEOUT), ("b", "ok")], "b"
    ),
    "slow answer within the deadline": Case({"m-a": ["slow:0.1"]}, 200, [("a", "ok")], "a"),
    "context window exceeded falls over": Case(
        {"m-a": ["context_window"]}, 200, [("a", "ContextWindowExceededError"), ("b", "ok")], "b"
    ),
    "upstream auth failure falls over": Case(
        {"m-a": ["auth"]}, 200, [("a", "UpstreamAuthError"), ("b", "ok")], "b"
    ),
    "bad request is the caller's, no fallback": Case(
        {"m-a": ["bad_request"]}, 400, [("a", "UpstreamBadRequestError")], error_code="upstream_bad_request"
    ),
    "content filter, no fallback": Case(
        {"m-a": ["content_filter"]}, 400, [("a", "ContentFilteredError")], error_code="content_filtered"
    ),
    "every candidate down": Case(
        {"m-a": ["503"] * 2, "m-b": ["503"] * 2},
        503,
        [("a", UNAVAILABLE), ("a", UNAVAILABLE), ("b", UNAVAILABLE), ("b", UNAVAILABLE)],
        error_code="upstream_unavailable",
    ),
    "every candidate rate limited": Case(
        {"m-a": ["429:30"], "m-b": ["429:30"]},
        429,
        [("a", "RateLimitedError"), ("b", "RateLimitedError")],
        error_code="rate_limited",
    ),
    "single deployment recovers after a 502": Case(
        {"m-a": ["502"]}, 200, [("a", UNAVAILABLE), ("a", "ok")], "a", route="solo"
    ),
    "tool call passed through": Case(
        {"m-a": ["tool_call"]},
        200,
        [("a", "ok")],
        "a",
        extra={
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                    },
                }
            ]
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_non_streaming(world: World, name: str) -> None:
    case = CASES[name]
    for model, faults in case.plan.items():
        world.fake.plan(model, faults)
    response = chat(world, route=case.route, **case.extra)
    assert response.status_code == case.status, response.text
    run = world.run(response)
    assert outcomes(run) == case.attempts
    if case.served_by:
        assert run["deployment"] == case.served_by
        assert run["status"] == "ok"
    if case.error_code:
        assert response.json()["error"]["code"] == case.error_code
        assert run["status"] == "error"
    if "tools" in case.extra:
        assert response.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup"


def test_a_long_retry_after_does_not_make_the_caller_wait(world: World) -> None:
    world.fake.plan("m-a", ["429:30"])
    started = time.monotonic()
    assert chat(world).status_code == 200
    assert time.monotonic() - started < 5


def test_whole_request_deadline(world: World) -> None:
    world.fake.plan("m-a", ["stall:3"] * 2)
    world.fake.plan("m-b", ["stall:3"] * 2)
    started = time.monotonic()
    response = chat(world, route="deadline")
    assert response.status_code == 504
    assert time.monotonic() - started < 3


def test_circuit_breaker_opens_then_probes(world: World) -> None:
    world.fake.plan("m-brk", [], then="503")
    for _ in range(5):
        assert chat(world, route="brk").status_code == 200  # served by b after brk fails
    response = chat(world, route="brk")
    run = world.run(response)
    assert outcomes(run) == [("b", "ok")]  # the open breaker skips brk without calling it
    calls_to_brk = [c for c in world.fake.calls if c.model == "m-brk"]
    assert len(calls_to_brk) == 5


# --- streaming ----------------------------------------------------------------------------------


def test_stream_ok_with_usage(world: World) -> None:
    response, events = stream(world, stream_options={"include_usage": True})
    assert response.status_code == 200
    assert text_of(events) == "echo: a b c d"
    assert events[-1] == "[DONE]"
    assert events[-2]["usage"]["completion_tokens"] == 5


def test_stream_cut_before_content_falls_over_invisibly(world: World) -> None:
    world.fake.plan("m-a", ["cut_after:1", "cut_after:1"])
    response, events = stream(world)
    assert text_of(events) == "echo: a b c d"
    assert events[-1] == "[DONE]"
    assert world.run(response)["deployment"] == "b"


def test_stream_cut_after_content_ends_with_a_typed_error_event(world: World) -> None:
    world.fake.plan("m-a", ["cut_after:3"])
    response, events = stream(world)
    assert text_of(events).startswith("echo:")
    assert events[-1] != "[DONE]"
    assert events[-1]["error"]["code"] == "upstream_unavailable"
    run = world.run(response)
    assert run["status"] == "error"


def test_stream_malformed_sse_after_content(world: World) -> None:
    world.fake.plan("m-a", ["malformed_sse:3"])
    _, events = stream(world)
    assert events[-1]["error"]["code"] == "upstream_unavailable"


def test_stream_error_event_after_first_chunk(world: World) -> None:
    world.fake.plan("m-a", ["error_event_after_first_chunk"])
    _, events = stream(world)
    assert "error" in events[-1]
    assert events[-1] != "[DONE]"


def test_stream_slow_first_token_beyond_deadline_falls_over(world: World) -> None:
    world.fake.plan("m-a", ["slow_first_token:2", "slow_first_token:2"])
    response, events = stream(world)
    assert text_of(events) == "echo: a b c d"
    assert world.run(response)["deployment"] == "b"


def test_stream_slow_first_token_within_deadline(world: World) -> None:
    world.fake.plan("m-a", ["slow_first_token:0.1"])
    response, events = stream(world)
    assert text_of(events) == "echo: a b c d"
    run = world.run(response)
    assert run["deployment"] == "a"
    assert float(run["ttft_ms"]) >= 100


def test_stream_503_before_anything_is_an_ordinary_error(world: World) -> None:
    world.fake.plan("m-a", ["503"] * 2)
    world.fake.plan("m-b", ["503"] * 2)
    response, events = stream(world)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert events == []


def test_stream_tool_calls_pass_through(world: World) -> None:
    world.fake.plan("m-a", ["tool_call"])
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    _, events = stream(world, tools=tools)
    calls = [
        tc
        for e in events
        if isinstance(e, dict) and e.get("choices")
        for tc in e["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert calls[0]["function"]["name"] == "lookup"


# --- embeddings ---------------------------------------------------------------------------------


def test_embeddings_fall_over(world: World) -> None:
    world.fake.plan("e-b", ["503", "503"])
    response = world.client.post("/embeddings", json={"model": "emb", "input": ["x", "y"]})
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 2
    assert world.run(response)["deployment"] == "e-a"
