"""The `anthropic` provider over real HTTP on loopback, against the fake's Messages API: requests
translated (system, tools, tool results, images, limits), answers and streams translated back, every
fault classified. Through a real gateway: test_gateway_anthropic.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aifactory.errors import (
    ContentFilteredError,
    ContextWindowExceededError,
    RateLimitedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from aifactory.gateway.classify import classify_response, classify_stream_error
from aifactory.gateway.pricing import PriceBook
from aifactory.gateway.providers._upstream import Transport
from aifactory.gateway.providers.anthropic import ANTHROPIC_VERSION, AnthropicModel
from aifactory.gateway.specs import DeploymentSpec
from aifactory.gateway.types import ChatRequest, ChatResponse, Delta, EmbeddingRequest, StreamEnd, StreamEvent
from aifactory.testing import FakeProvider, FakeSettings

ENV = "AIF_TEST_ANTHROPIC_KEY"
KEY = "sk-ant-test-key"
MODEL = "claude-t"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


@pytest.fixture(scope="module")
def env() -> Iterator[None]:
    """The API key in the environment variable the deployments name (also read by the gateway)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV, KEY)
        yield


@pytest.fixture(scope="module")
def fake(env: None) -> Iterator[FakeProvider]:
    with FakeProvider(FakeSettings(api_key=KEY)) as provider:
        yield provider


@pytest.fixture(autouse=True)
def _clean(fake: FakeProvider) -> None:
    fake.reset()


def spec(fake: FakeProvider, **extra: Any) -> DeploymentSpec:
    fields = {"provider": "anthropic", "base_url": fake.url, "upstream_model": MODEL, "credentials_env": ENV}
    return DeploymentSpec.model_validate(fields | extra)


def request(text: str = "hello there world", **extra: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": "r", "messages": [{"role": "user", "content": text}]} | extra)


def complete(fake: FakeProvider, chat: ChatRequest, **spec_extra: Any) -> ChatResponse:
    async def call() -> ChatResponse:
        async with Transport() as client:
            return await AnthropicModel("claude", spec(fake, **spec_extra), client).complete(chat)

    return asyncio.run(call())


def stream(fake: FakeProvider, chat: ChatRequest, **spec_extra: Any) -> list[StreamEvent]:
    async def call() -> list[StreamEvent]:
        async with Transport() as client:
            model = AnthropicModel("claude", spec(fake, **spec_extra), client)
            return [event async for event in model.stream(chat)]

    return asyncio.run(call())


def stream_until_error(
    fake: FakeProvider, chat: ChatRequest, **spec_extra: Any
) -> tuple[list[Delta], Exception]:
    """The deltas a failing stream yielded, and its error."""
    received: list[Delta] = []

    async def call() -> None:
        async with Transport() as client:
            async for event in AnthropicModel("claude", spec(fake, **spec_extra), client).stream(chat):
                assert isinstance(event, Delta), "a failing stream must not end"
                received.append(event)

    with pytest.raises(UpstreamError) as caught:
        asyncio.run(call())
    return received, caught.value


def sent(fake: FakeProvider) -> dict[str, Any]:
    """The body of the last request the fake received."""
    body = fake.calls[-1].body
    assert isinstance(body, dict)
    return body


def deltas(events: list[StreamEvent]) -> list[dict[str, Any]]:
    return [e.choices[0]["delta"] for e in events if isinstance(e, Delta)]


# --- requests -------------------------------------------------------------------------------------


def test_a_chat_is_sent_to_the_messages_api(fake: FakeProvider) -> None:
    chat = ChatRequest.model_validate(
        {
            "model": "r",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
                {"role": "user", "content": "hello there world"},
            ],
            "temperature": 0.5,
            "top_p": 0.9,
            "stop": "END",
            "max_completion_tokens": 50,
            "user": "u-1",
        }
    )
    response = complete(fake, chat)
    call = fake.calls[-1]
    assert (call.method, call.path) == ("POST", "/v1/messages")
    assert call.headers["x-api-key"] == KEY
    assert call.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert "authorization" not in call.headers
    assert call.body == {
        "model": MODEL,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello there world"}],
        "system": "Be brief.\n\nAnswer in English.",
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
    }
    assert response.text == "echo: hello there world"
    assert response.choices[0]["finish_reason"] == "stop"
    assert response.choices[0]["message"]["role"] == "assistant"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (8, 4)
    assert response.upstream_model == MODEL


def test_max_tokens_is_always_sent(fake: FakeProvider) -> None:
    complete(fake, request())
    assert sent(fake)["max_tokens"] == 1024  # the route's default output limit
    complete(fake, request(), max_output_tokens=100)
    assert sent(fake)["max_tokens"] == 100
    cut = complete(fake, request(max_tokens=2), max_output_tokens=100)
    assert sent(fake)["max_tokens"] == 2
    assert (cut.text, cut.choices[0]["finish_reason"]) == ("echo: hello", "length")


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ({"type": "function", "function": {"name": "get_time"}}, None, {"type": "tool", "name": "get_time"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_tools_and_tool_choice(fake: FakeProvider, choice: Any, parallel: Any, expected: Any) -> None:
    extra = {"tools": [WEATHER, TIME], "tool_choice": choice, "parallel_tool_calls": parallel}
    complete(fake, request("what now", **{k: v for k, v in extra.items() if v is not None}))
    body = sent(fake)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
            "description": "The weather in a city.",
        },
        {"name": "get_time", "input_schema": {"type": "object"}},
    ]
    assert body.get("tool_choice") == expected


def test_a_tool_call_comes_back_as_openai_tool_calls(fake: FakeProvider) -> None:
    response = complete(fake, request("get_weather and get_time please", tools=[WEATHER, TIME]))
    message = response.choices[0]["message"]
    assert message["content"] is None
    assert response.choices[0]["finish_reason"] == "tool_calls"
    calls = message["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert all(c["id"].startswith("toolu_fake") for c in calls)
    assert len({c["id"] for c in calls}) == 2
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "fake"}
    assert calls[0]["type"] == "function"


def test_tool_results_go_back_in_one_user_turn(fake: FakeProvider) -> None:
    calls = [
        {
            "id": "toolu_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        },
        {"id": "toolu_b", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    chat = ChatRequest.model_validate(
        {
            "model": "r",
            "tools": [WEATHER, TIME],
            "messages": [
                {"role": "user", "content": "get_weather and get_time"},
                {"role": "assistant", "content": "Let me look.", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "toolu_a", "content": "sunny"},
                {"role": "tool", "tool_call_id": "toolu_b", "content": [{"type": "text", "text": "noon"}]},
                {"role": "user", "content": "and tomorrow?"},
            ],
        }
    )
    response = complete(fake, chat)  # the fake refuses results that do not answer the turn before
    assert sent(fake)["messages"] == [
        {"role": "user", "content": "get_weather and get_time"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "noon"},
                {"type": "text", "text": "and tomorrow?"},
            ],
        },
    ]
    assert response.text == "echo: and tomorrow?"


def test_images_become_image_blocks(fake: FakeProvider) -> None:
    parts = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
    ]
    complete(
        fake, ChatRequest.model_validate({"model": "r", "messages": [{"role": "user", "content": parts}]})
    )
    assert sent(fake)["messages"][0]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"temperature": 1.5}, "temperature 1.5"),
        ({"n": 2}, "n > 1"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "only function tools"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        ({"stop": 3}, "stop"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
            "'input_audio'",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AA"}}],
                    }
                ]
            },
            "image",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                        ],
                    }
                ]
            },
            "not a JSON object",
        ),
    ],
)
def test_what_cannot_be_translated_is_refused_before_sending(
    fake: FakeProvider, extra: dict[str, Any], says: str
) -> None:
    with pytest.raises(UpstreamBadRequestError, match="cannot translate") as caught:
        complete(fake, request(**extra))
    assert says in caught.value.detail
    assert caught.value.deployment == "claude"
    assert fake.calls == []


def test_a_base_url_without_v1_is_completed(fake: FakeProvider) -> None:
    complete(fake, request(), base_url=f"http://127.0.0.1:{fake.port}")
    assert fake.calls[-1].path == "/v1/messages"


# --- streams --------------------------------------------------------------------------------------


def test_a_stream_is_openai_deltas_then_one_end(fake: FakeProvider) -> None:
    events = stream(fake, request())
    assert sent(fake)["stream"] is True
    assert deltas(events)[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content") or "" for d in deltas(events)) == "echo: hello there world"
    assert isinstance(events[-1], StreamEnd)
    assert [e for e in events if isinstance(e, StreamEnd)] == [events[-1]]
    assert (events[-1].usage.prompt_tokens, events[-1].usage.completion_tokens) == (3, 4)
    assert events[-1].finish_reason == "stop"
    finish = events[-2]
    assert isinstance(finish, Delta)
    assert finish.choices[0]["finish_reason"] == "stop"


def test_a_streamed_tool_call_is_openai_tool_call_deltas(fake: FakeProvider) -> None:
    events = stream(fake, request("get_weather then get_time", tools=[WEATHER, TIME]))
    calls = [call for d in deltas(events) for call in d.get("tool_calls") or ()]
    heads = [c for c in calls if "id" in c]
    assert [(c["index"], c["function"]["name"], c["type"]) for c in heads] == [
        (0, "get_weather", "function"),
        (1, "get_time", "function"),
    ]
    assert all(c["id"].startswith("toolu_") for c in heads)
    arguments = ["".join(c["function"]["arguments"] for c in calls if c["index"] == i) for i in (0, 1)]
    assert [json.loads(a) for a in arguments] == [{"city": "fake"}, {}]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.finish_reason == "tool_calls"
    assert end.usage.completion_tokens == 5  # per call: its name, and the words of its arguments


@pytest.mark.parametrize(
    ("fault", "error", "before_error"),
    [
        ("cut_after:1", UpstreamUnavailableError, 1),  # only message_start: no content yet
        ("cut_after:4", UpstreamUnavailableError, 2),
        ("cut_after:99", UpstreamUnavailableError, 6),  # everything but message_stop
        ("malformed_sse:3", UpstreamUnavailableError, 1),
        ("error_event_after_first_chunk", UpstreamUnavailableError, 2),  # overloaded_error
    ],
)
def test_stream_faults_are_typed_errors(
    fake: FakeProvider, fault: str, error: type[UpstreamError], before_error: int
) -> None:
    fake.plan(MODEL, [fault])
    received, caught = stream_until_error(fake, request())
    assert type(caught) is error
    assert caught.deployment == "claude"
    assert len(received) == before_error


def upstream_stream(events: list[dict[str, Any]]) -> list[StreamEvent]:
    """The events the provider makes of an upstream that sends exactly these Anthropic events."""
    sse = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode()) for e in events)

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    async def call() -> list[StreamEvent]:
        async with Transport(streams=httpx.AsyncClient(transport=httpx.MockTransport(answer))) as client:
            deployed = DeploymentSpec(provider="anthropic", upstream_model=MODEL)
            return [event async for event in AnthropicModel("claude", deployed, client).stream(request())]

    return asyncio.run(call())


START = {"type": "message_start", "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 100}}}


def test_a_stream_that_ends_without_message_stop_was_cut() -> None:
    with pytest.raises(UpstreamUnavailableError, match="without message_stop"):
        upstream_stream(
            [START, {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}]
        )


def test_an_error_event_is_classified_by_its_type() -> None:
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    with pytest.raises(RateLimitedError, match="slow down"):
        upstream_stream([START, limited])


def test_thinking_and_unknown_events_are_skipped_and_cache_reads_count_as_prompt() -> None:
    events = upstream_stream(
        [
            START,
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "hm"},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "some_future_event"},
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
            {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9}},
            {"type": "message_stop"},
        ]
    )
    assert [d.get("content") for d in deltas(events)] == ["", "Hi", None]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert (end.usage.prompt_tokens, end.usage.completion_tokens, end.finish_reason) == (105, 9, "length")


def test_a_stream_stalled_before_the_first_token_times_out(fake: FakeProvider) -> None:
    fake.plan(MODEL, ["slow_first_token:3"])
    received, caught = stream_until_error(fake, request(), timeout_seconds=0.3)
    assert isinstance(caught, UpstreamTimeoutError)
    assert received == []


@pytest.mark.parametrize(("fault", "error"), [("429:7", RateLimitedError), ("529", UpstreamUnavailableError)])
def test_a_stream_refused_with_a_status_is_classified(
    fake: FakeProvider, fault: str, error: type[UpstreamError]
) -> None:
    fake.plan(MODEL, [fault])
    received, caught = stream_until_error(fake, request())
    assert type(caught) is error
    assert received == []


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("429:3", RateLimitedError),
        ("500", UpstreamUnavailableError),
        ("503", UpstreamUnavailableError),
        ("529", UpstreamUnavailableError),
        ("auth", UpstreamAuthError),
        ("403", UpstreamAuthError),
        ("bad_request", UpstreamBadRequestError),
        ("context_window", ContextWindowExceededError),
        ("content_filter", ContentFilteredError),
        ("refuse", UpstreamUnavailableError),
        ("disconnect", UpstreamUnavailableError),
        ("stall:3", UpstreamTimeoutError),
        ("slow:3", UpstreamTimeoutError),
    ],
)
def test_every_fault_is_a_typed_error(fake: FakeProvider, fault: str, error: type[UpstreamError]) -> None:
    fake.plan(MODEL, [fault])
    with pytest.raises(UpstreamError) as caught:
        complete(fake, request(), timeout_seconds=0.3)
    assert type(caught.value) is error
    assert caught.value.deployment == "claude"
    if fault == "429:3":
        assert isinstance(caught.value, RateLimitedError)
        assert caught.value.retry_after == 3


def test_a_prompt_over_the_context_window_is_a_context_error(fake: FakeProvider) -> None:
    with (
        FakeProvider(FakeSettings(context_window=2)) as small,
        pytest.raises(ContextWindowExceededError, match="prompt is too long"),
    ):
        complete(small, request(), credentials_env=None)


def test_a_missing_key_variable_is_a_clear_auth_error(fake: FakeProvider) -> None:
    with pytest.raises(UpstreamAuthError, match="AIF_TEST_ABSENT_KEY") as caught:
        complete(fake, request(), credentials_env="AIF_TEST_ABSENT_KEY")
    assert "is not set" in caught.value.detail
    assert fake.calls == []


def test_a_wrong_key_is_refused_by_the_upstream(fake: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIF_TEST_WRONG_KEY", "sk-ant-wrong")
    with pytest.raises(UpstreamAuthError, match="401") as caught:
        complete(fake, request(), credentials_env="AIF_TEST_WRONG_KEY")
    assert "sk-ant-wrong" not in caught.value.detail


def test_embeddings_are_refused_clearly(fake: FakeProvider) -> None:
    async def call() -> None:
        async with Transport() as client:
            await AnthropicModel("claude", spec(fake), client).embed(EmbeddingRequest(model="e", input="x"))

    with pytest.raises(UpstreamBadRequestError, match="no embeddings API"):
        asyncio.run(call())


@pytest.mark.parametrize(
    ("kind", "message", "error"),
    [
        ("overloaded_error", "Overloaded", UpstreamUnavailableError),
        ("api_error", "Internal server error", UpstreamUnavailableError),
        ("rate_limit_error", "Number of requests has exceeded your rate limit", RateLimitedError),
        ("timeout_error", "Request timed out", UpstreamTimeoutError),
        ("authentication_error", "invalid x-api-key", UpstreamAuthError),
        ("permission_error", "Your API key does not have permission", UpstreamAuthError),
        (
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            ContextWindowExceededError,
        ),
        ("invalid_request_error", "Output blocked by content filtering policy", ContentFilteredError),
        ("invalid_request_error", "messages: roles must alternate", UpstreamBadRequestError),
    ],
)
def test_anthropic_error_kinds_in_a_stream(kind: str, message: str, error: type[UpstreamError]) -> None:
    assert type(classify_stream_error("d", {"type": kind, "message": message})) is error


def test_anthropic_error_bodies() -> None:
    def body(kind: str, message: str) -> bytes:
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()

    overloaded = classify_response("d", 529, {}, body("overloaded_error", "Overloaded"))
    assert type(overloaded) is UpstreamUnavailableError
    assert "Overloaded" in overloaded.detail
    too_long = classify_response("d", 400, {}, body("invalid_request_error", "prompt is too long: 3 > 2"))
    assert type(too_long) is ContextWindowExceededError
    limited = classify_response("d", 429, {"retry-after": "12"}, body("rate_limit_error", "slow down"))
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 12


# --- deployments and prices -----------------------------------------------------------------------


def test_an_anthropic_deployment_needs_no_base_url_and_has_catalog_prices() -> None:
    book = PriceBook()
    for model in ("claude-sonnet-4-5", "claude-3-5-haiku-latest"):
        for url in ({}, {"base_url": "https://api.anthropic.com/v1"}):
            deployed = DeploymentSpec.model_validate({"provider": "anthropic", "upstream_model": model} | url)
            rate = book.rate("d", deployed)
            assert rate is not None
            assert rate.source == f"genai-prices:anthropic/{model}"
    self_hosted = DeploymentSpec.model_validate(
        {"provider": "anthropic", "upstream_model": "claude-sonnet-4-5", "base_url": "http://127.0.0.1:9/v1"}
    )
    assert book.rate("d", self_hosted) is None  # a proxy's price is not Anthropic's


# --- the fake's Messages API checks what a translation can get wrong ------------------------------


def fake_post(fake: FakeProvider, body: dict[str, Any], **headers: str) -> httpx.Response:
    sent_headers = {"x-api-key": KEY, "anthropic-version": ANTHROPIC_VERSION} | headers
    return httpx.post(f"{fake.url}/messages", json=body, headers=sent_headers, timeout=5)


@pytest.mark.parametrize(
    ("body", "headers", "says"),
    [
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            {"anthropic-version": ""},
            "anthropic-version",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, {}, "max_tokens"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "hi"}]}, {}, "role"),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "temperature": 2,
                "messages": [{"role": "user", "content": "hi"}],
            },
            {},
            "temperature",
        ),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}]}
                ],
            },
            {},
            "tool_use_id",
        ),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "toolu_y", "name": "f", "input": {}}],
                    },
                    {"role": "user", "content": "hi"},
                ],
            },
            {},
            "without `tool_result`",
        ),
    ],
)
def test_the_fake_refuses_what_anthropic_refuses(
    fake: FakeProvider, body: dict[str, Any], headers: dict[str, str], says: str
) -> None:
    response = fake_post(fake, body, **headers)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert says in error["error"]["message"]


def test_the_fake_wants_the_key_in_x_api_key(fake: FakeProvider) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert fake_post(fake, body).status_code == 200
    refused = fake_post(fake, body, **{"x-api-key": "nope"})
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
