"""An `anthropic` deployment behind a real gateway on loopback, called with the official `openai` SDK:
whole, streamed and tool-calling chats, and fallback to an `openai` deployment that the client never
sees. The upstreams are the fake provider's Messages API and chat completions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from aifactory.testing import FakeProvider, FakeSettings
from conftest import LiveServer
from gateway_helpers import app_key, deployment, module_server, publish, wait_for_route, wait_for_run

KEY_ENV = "AIF_TEST_GATEWAY_ANTHROPIC_KEY"
UPSTREAM_KEY = "sk-ant-gateway-test"
LOOKUP: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    """The upstreams, wanting the key that the deployments name by its environment variable."""
    with pytest.MonkeyPatch.context() as patch, FakeProvider(FakeSettings(api_key=UPSTREAM_KEY)) as provider:
        patch.setenv(KEY_ENV, UPSTREAM_KEY)
        yield provider


@pytest.fixture(autouse=True)
def _clean(fake: FakeProvider) -> None:
    fake.reset()


class Gateway:
    def __init__(self, live: LiveServer, fake: FakeProvider, sdk: openai.OpenAI) -> None:
        self.live, self.fake, self.sdk = live, fake, sdk

    def run(self, run_id: str) -> dict[str, Any]:
        return wait_for_run(self.live, run_id)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, fake: FakeProvider) -> Iterator[Gateway]:
    with module_server(tmp_path_factory, "anthropic") as live:
        fast = {"timeout_seconds": 2, "credentials_env": KEY_ENV, "breaker": {"min_calls": 100_000}}
        claude = deployment(fake.url, model="m-claude", **fast) | {"provider": "anthropic"}
        tool = {
            "name": "get_weather",
            "action": "weather.read",
            "resource_kind": "Forecast",
            "side_effect": "read",
        }
        publish(live, "tool", "get_weather", tool | {"parameters": LOOKUP["function"]["parameters"]})
        publish(live, "deployment", "claude", claude)
        publish(live, "deployment", "gpt", deployment(fake.url, model="m-gpt", **fast))
        once = {"max_attempts": 1}
        publish(live, "route", "claude", {"candidates": [{"deployment": "claude"}], "retry": once})
        candidates = [{"deployment": "claude"}, {"deployment": "gpt"}]
        publish(live, "route", "claude-then-gpt", {"candidates": candidates, "retry": once})
        key = app_key(live)
        for alias in ("claude", "claude-then-gpt"):
            wait_for_route(live, key, alias)
        with openai.OpenAI(base_url=f"{live.url}/v1", api_key=key, max_retries=0, timeout=30) as sdk:
            yield Gateway(live, fake, sdk)


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def test_gateway_serves_a_chat_from_anthropic(gateway: Gateway) -> None:
    raw = gateway.sdk.chat.completions.with_raw_response.create(
        model="claude", messages=ask("hi from the sdk")
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: hi from the sdk"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 5)
    run = gateway.run(raw.headers["x-aifactory-run-id"])
    assert (run["deployment"], run["upstream_model"], run["status"]) == ("claude", "m-claude", "ok")
    assert gateway.fake.calls[-1].path == "/v1/messages"


def test_gateway_streams_from_anthropic(gateway: Gateway) -> None:
    chunks = list(
        gateway.sdk.chat.completions.create(
            model="claude", messages=ask("stream me"), stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_gateway_tool_calls_round_trip(gateway: Gateway) -> None:
    tools: Any = [LOOKUP]
    first = gateway.sdk.chat.completions.create(
        model="claude", messages=ask("get_weather for Oslo"), tools=tools
    )
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "fake"}
    history: Any = [
        *ask("get_weather for Oslo"),
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = gateway.sdk.chat.completions.create(model="claude", messages=history, tools=tools)
    assert second.choices[0].message.content == "echo: get_weather for Oslo"
    last_turn = gateway.fake.calls[-1].body["messages"][-1]
    assert last_turn == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
    }


def test_gateway_streams_tool_calls(gateway: Gateway) -> None:
    tools: Any = [LOOKUP]
    chunks = list(
        gateway.sdk.chat.completions.create(
            model="claude", messages=ask("get_weather now"), tools=tools, stream=True
        )
    )
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert calls[0].id is not None
    assert calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(arguments) == {"city": "fake"}


@pytest.mark.parametrize("fault", ["529", "429:30", "cut_after:1", "context_window"])
def test_gateway_falls_over_from_anthropic_to_openai_invisibly(gateway: Gateway, fault: str) -> None:
    gateway.fake.plan("m-claude", [fault])
    chunks = gateway.sdk.chat.completions.with_raw_response.create(
        model="claude-then-gpt", messages=ask("fall over"), stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks.parse() if c.choices)
    assert text == "echo: fall over"
    run = gateway.run(chunks.headers["x-aifactory-run-id"])
    assert run["deployment"] == "gpt"
    assert [a["deployment"] for a in run["attempts"]] == ["claude", "gpt"]
    assert run["attempts"][1]["outcome"] == "ok"
    assert [c.path for c in gateway.fake.calls] == ["/v1/messages", "/v1/chat/completions"]


def test_gateway_ends_a_stream_cut_after_content_with_a_typed_error(gateway: Gateway) -> None:
    gateway.fake.plan("m-claude", ["cut_after:5"])
    received: list[str] = []
    chunks = gateway.sdk.chat.completions.create(
        model="claude-then-gpt", messages=ask("a b c d e f"), stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        received.extend(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "".join(received).startswith("echo:")
    assert caught.value.code == "upstream_unavailable"
    assert [c.path for c in gateway.fake.calls] == ["/v1/messages"]
