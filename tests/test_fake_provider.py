"""The fake provider (`aifactory.testing`) over real HTTP on loopback: the official `openai` SDK and raw
`httpx` against it, every fault and what a client sees of it, the plan, the call log and the CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

from aifactory.errors import ConfigurationError, InvalidInputError
from aifactory.testing import FakeProvider, FakeServer, FakeSettings, parse_faults

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there world"}]
CHAT = {"model": "fake-chat", "messages": USER}
WEATHER: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"enum": ["c", "f"]},
                "days": {"type": "integer"},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    """One server for the whole module: every scenario is chosen per request."""
    with FakeProvider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _clean(fake: FakeProvider) -> None:
    fake.reset()


@pytest.fixture
def sdk(fake: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.url, api_key="sk-test", max_retries=0, timeout=5) as client:
        yield client


@pytest.fixture
def http(fake: FakeProvider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5) as client:
        yield client


def fault(spec: str) -> dict[str, str]:
    return {"X-Fake-Fault": spec}


def read_events(response: httpx.Response) -> tuple[list[str], Exception | None]:
    """The `data:` payloads of an SSE response, and the error that ended it early, if any."""
    events: list[str] = []
    try:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line.removeprefix("data: "))
    except httpx.HTTPError as exc:
        return events, exc
    return events, None


def stream(http: httpx.Client, spec: str = "", **extra: Any) -> tuple[list[str], Exception | None]:
    headers = fault(spec) if spec else {}
    with http.stream(
        "POST", "/chat/completions", json={**CHAT, "stream": True, **extra}, headers=headers
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return read_events(r)


def sdk_stream(sdk: openai.OpenAI, spec: str) -> tuple[list[str | None], Exception | None]:
    """The content deltas the SDK yields for a streamed chat, and the error that ended it, if any."""
    received: list[str | None] = []
    chunks = sdk.chat.completions.create(model="m", messages=USER, stream=True, extra_headers=fault(spec))
    try:
        for chunk in chunks:
            received.append(chunk.choices[0].delta.content)
    except Exception as exc:
        return received, exc
    return received, None


# --- answers ----------------------------------------------------------------------------------------


def test_completion_echoes_the_user_and_counts_words(sdk: openai.OpenAI) -> None:
    result = sdk.chat.completions.create(model="any-name", messages=USER)
    assert result.object == "chat.completion"
    assert result.model == "any-name"
    assert result.choices[0].message.content == "echo: hello there world"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (
        3,
        4,
        7,
    )


def test_configured_reply_and_max_tokens() -> None:
    with (
        FakeProvider(FakeSettings(reply="one two  three four")) as fake,
        httpx.Client(base_url=fake.url) as http,
    ):
        whole = http.post("/chat/completions", json=CHAT).json()
        assert whole["choices"][0]["message"]["content"] == "one two  three four"
        cut = http.post("/chat/completions", json={**CHAT, "max_tokens": 2}).json()
        assert cut["choices"][0]["message"]["content"] == "one two"
        assert cut["choices"][0]["finish_reason"] == "length"
        assert cut["usage"]["completion_tokens"] == 2


def test_stream_is_openai_sse_ending_in_done(http: httpx.Client) -> None:
    events, error = stream(http)
    assert error is None
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert text == "echo: hello there world"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in chunk for chunk in chunks)


def test_chunk_chars_streams_the_text_in_pieces_of_that_many_characters(http: httpx.Client) -> None:
    for spec, size in (("chunk_chars", 1), ("chunk_chars:3", 3)):
        events, error = stream(http, spec)
        assert error is None
        pieces = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]]
        text = [p for p in pieces[1:] if p is not None]
        assert "".join(text) == "echo: hello there world"
        assert {len(p) for p in text[:-1]} == {size}


def test_stream_usage_comes_last_with_empty_choices(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="fake-chat",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 4)
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == "echo: hello there world"


def test_tool_call_when_the_user_names_a_tool(sdk: openai.OpenAI) -> None:
    result = sdk.chat.completions.create(
        model="fake-chat",
        messages=[{"role": "user", "content": "please call get_weather for me"}],
        tools=[WEATHER, TIME],
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "fake", "unit": "c"}
    assert result.usage is not None
    assert result.usage.completion_tokens == 1 + len(call.function.arguments.split())


def test_streamed_tool_calls_reassemble(sdk: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "get_time and get_weather"}]
    chunks = list(
        sdk.chat.completions.create(
            model="fake-chat",
            messages=messages,
            tools=[WEATHER, TIME],
            stream=True,
        )
    )
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or ():
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function and delta.function.name) or ""
            call["arguments"] += (delta.function and delta.function.arguments) or ""
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["arguments"]) == {"city": "fake", "unit": "c"}
    assert json.loads(calls[1]["arguments"]) == {}
    assert calls[0]["id"] != calls[1]["id"]


def test_no_tool_call_after_a_tool_result_or_with_tool_choice_none(http: httpx.Client) -> None:
    loop = [
        {"role": "user", "content": "get_weather please"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    after = http.post("/chat/completions", json={**CHAT, "messages": loop, "tools": [WEATHER]}).json()
    assert after["choices"][0]["message"]["content"] == "echo: get_weather please"
    none = {**CHAT, "messages": loop[:1], "tools": [WEATHER], "tool_choice": "none"}
    assert http.post("/chat/completions", json=none).json()["choices"][0]["finish_reason"] == "stop"


def test_tool_calls_forced_by_tool_choice_or_fault(http: httpx.Client) -> None:
    named = {
        **CHAT,
        "tools": [WEATHER, TIME],
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    }
    message = http.post("/chat/completions", json=named).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_time"
    forced = http.post("/chat/completions", json={**CHAT, "tools": [WEATHER]}, headers=fault("tool_call"))
    assert forced.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_embeddings_are_deterministic_unit_vectors(sdk: openai.OpenAI, http: httpx.Client) -> None:
    # The SDK asks for base64 by default; httpx asks for floats: the same numbers either way.
    via_sdk = sdk.embeddings.create(model="fake-embedding", input=["alpha", "beta gamma"])
    raw = http.post("/embeddings", json={"model": "e", "input": ["alpha", "beta gamma"]}).json()
    assert [d.embedding for d in via_sdk.data] == [d["embedding"] for d in raw["data"]]
    first, second = raw["data"][0]["embedding"], raw["data"][1]["embedding"]
    assert len(first) == 16
    assert first != second
    assert math.isclose(math.fsum(v * v for v in first), 1.0, rel_tol=1e-5)
    assert raw["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    again = http.post("/embeddings", json={"model": "e", "input": "alpha", "dimensions": 64}).json()
    assert len(again["data"][0]["embedding"]) == 64
    b64 = http.post("/embeddings", json={"model": "e", "input": "alpha", "encoding_format": "base64"}).json()
    decoded = base64.b64decode(b64["data"][0]["embedding"])
    assert list(struct.unpack("<16f", decoded)) == first


def test_models_list_and_retrieve(sdk: openai.OpenAI) -> None:
    assert [model.id for model in sdk.models.list()] == ["fake-chat", "fake-embedding"]
    assert sdk.models.retrieve("fake-chat").owned_by == "aifactory-fake"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("missing")
    assert caught.value.code == "model_not_found"


def test_bad_requests_get_openai_errors(http: httpx.Client) -> None:
    unknown = http.post("/nothing-here", json={})
    assert unknown.status_code == 404
    assert set(unknown.json()["error"]) == {"message", "type", "param", "code"}
    no_messages = http.post("/chat/completions", json={"model": "m"})
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["param"] == "messages"
    not_json = http.post("/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    bad_input = http.post("/embeddings", json={"model": "e", "input": [1, "a"]})
    assert bad_input.json()["error"]["param"] == "input"


def test_chunked_request_body_is_read(http: httpx.Client) -> None:
    body = json.dumps(CHAT).encode()
    response = http.post("/chat/completions", content=iter([body[:10], body[10:]]))
    assert response.json()["choices"][0]["message"]["content"] == "echo: hello there world"


def test_context_window_from_settings() -> None:
    with FakeProvider(FakeSettings(context_window=2)) as fake, httpx.Client(base_url=fake.url) as http:
        error = http.post("/chat/completions", json=CHAT).json()["error"]
        assert error["code"] == "context_length_exceeded"
        assert "resulted in 3 tokens" in error["message"]


def test_api_key_setting_requires_the_bearer_token() -> None:
    with FakeProvider(FakeSettings(api_key="sk-right")) as fake:
        with openai.OpenAI(base_url=fake.url, api_key="sk-wrong", max_retries=0) as wrong:
            with pytest.raises(openai.AuthenticationError) as caught:
                wrong.models.list()
            assert caught.value.code == "invalid_api_key"
        with openai.OpenAI(base_url=fake.url, api_key="sk-right", max_retries=0) as right:
            assert right.models.list().data
        assert [call.headers["authorization"] for call in fake.calls] == [
            "Bearer sk-wrong",
            "Bearer sk-right",
        ]


# --- HTTP-level faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status", "error_type", "code", "exception"),
    [
        ("429", 429, "requests", "rate_limit_exceeded", openai.RateLimitError),
        ("500", 500, "server_error", None, openai.InternalServerError),
        ("503", 503, "server_error", None, openai.InternalServerError),
        ("502", 502, "server_error", None, openai.InternalServerError),
        ("auth", 401, "invalid_request_error", "invalid_api_key", openai.AuthenticationError),
        ("bad_request", 400, "invalid_request_error", None, openai.BadRequestError),
        ("context_window", 400, "invalid_request_error", "context_length_exceeded", openai.BadRequestError),
        ("content_filter", 400, "invalid_request_error", "content_filter", openai.BadRequestError),
    ],
)
def test_status_faults(
    sdk: openai.OpenAI, spec: str, status: int, error_type: str, code: str | None, exception: type[Exception]
) -> None:
    with pytest.raises(exception) as caught:
        sdk.chat.completions.create(model="m", messages=USER, extra_headers=fault(spec))
    error = caught.value
    assert isinstance(error, openai.APIStatusError)
    assert error.status_code == status
    assert error.type == error_type
    assert error.code == code


def test_retry_after_header(http: httpx.Client) -> None:
    assert http.post("/chat/completions", json=CHAT, headers=fault("429")).headers["retry-after"] == "1"
    assert http.post("/chat/completions", json=CHAT, headers=fault("429:7")).headers["retry-after"] == "7"
    assert "retry-after" not in http.post("/chat/completions", json=CHAT, headers=fault("429:none")).headers
    assert http.post("/chat/completions", json=CHAT, headers=fault("503:2")).headers["retry-after"] == "2"
    assert "retry-after" not in http.post("/chat/completions", json=CHAT, headers=fault("503")).headers


def test_status_fault_on_a_stream_request_is_an_ordinary_error(http: httpx.Client) -> None:
    response = http.post("/chat/completions", json={**CHAT, "stream": True}, headers=fault("503"))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"


def test_slow_delays_the_whole_response(http: httpx.Client) -> None:
    start = time.perf_counter()
    response = http.post("/chat/completions", json=CHAT, headers=fault("slow:0.3"))
    assert response.status_code == 200
    assert time.perf_counter() - start >= 0.3


# --- connection-level faults ------------------------------------------------------------------------


def test_refuse_resets_the_connection(sdk: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        http.post("/chat/completions", json=CHAT, headers=fault("refuse"))
    with pytest.raises(openai.APIConnectionError):
        sdk.chat.completions.create(model="m", messages=USER, extra_headers=fault("refuse"))
    assert http.post("/chat/completions", json=CHAT).status_code == 200  # the server itself is fine


def test_disconnect_closes_without_a_response(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/chat/completions", json=CHAT, headers=fault("disconnect"))


def test_stall_times_the_client_out(sdk: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        http.post("/chat/completions", json=CHAT, headers=fault("stall:5"), timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(
            model="m",
            messages=USER,
            extra_headers=fault("stall:5"),
            timeout=0.3,
        )


def test_stall_is_bounded_then_closes(http: httpx.Client) -> None:
    start = time.perf_counter()
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/chat/completions", json=CHAT, headers=fault("stall:0.5"))
    assert 0.5 <= time.perf_counter() - start < 3


def test_slow_first_token_sends_headers_first(http: httpx.Client) -> None:
    start = time.perf_counter()
    body = {**CHAT, "stream": True}
    with http.stream("POST", "/chat/completions", json=body, headers=fault("slow_first_token:0.4")) as r:
        assert r.status_code == 200
        assert time.perf_counter() - start < 0.35
        events, error = read_events(r)
    assert time.perf_counter() - start >= 0.4
    assert error is None
    assert events[-1] == "[DONE]"


def test_token_delay_paces_the_stream(http: httpx.Client) -> None:
    start = time.perf_counter()
    events, _ = stream(http, "token_delay:0.05")
    assert len(events) == 7  # role, four words, finish, [DONE]
    assert time.perf_counter() - start >= 6 * 0.05


def test_cut_after_ends_the_stream_mid_body(sdk: openai.OpenAI, http: httpx.Client) -> None:
    events, error = stream(http, "cut_after:2")
    assert len(events) == 2
    assert "[DONE]" not in events
    assert isinstance(error, httpx.RemoteProtocolError)
    received, error = sdk_stream(sdk, "cut_after:3")
    assert received == ["", "echo:", " hello"]
    assert isinstance(error, openai.APIConnectionError)


def test_cut_after_more_chunks_than_the_stream_drops_only_done(http: httpx.Client) -> None:
    events, error = stream(http, "cut_after:99")
    assert len(events) == 6
    assert json.loads(events[-1])["choices"][0]["finish_reason"] == "stop"
    assert isinstance(error, httpx.RemoteProtocolError)


def test_malformed_sse_inserts_a_line_that_is_not_json(sdk: openai.OpenAI, http: httpx.Client) -> None:
    events, error = stream(http, "malformed_sse:1")
    assert error is None
    assert events[-1] == "[DONE]"
    json.loads(events[0])
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[1])
    assert len(events) == 8
    with pytest.raises(json.JSONDecodeError):
        list(
            sdk.chat.completions.create(
                model="m",
                messages=USER,
                stream=True,
                extra_headers=fault("malformed_sse:2"),
            )
        )


def test_error_event_after_first_chunk(sdk: openai.OpenAI, http: httpx.Client) -> None:
    events, error = stream(http, "error_event_after_first_chunk")
    assert error is None  # the body ends properly, but with an error instead of [DONE]
    assert [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:2]] == ["", "echo:"]
    assert json.loads(events[2])["error"]["type"] == "server_error"
    assert len(events) == 3
    received, error = sdk_stream(sdk, "error_event_after_first_chunk")
    assert received == ["", "echo:"]
    assert isinstance(error, openai.APIError)
    assert "injected fault" in error.message


def test_combined_faults(http: httpx.Client) -> None:
    start = time.perf_counter()
    events, error = stream(http, "slow_first_token:0.2, token_delay:0.01, cut_after:3")
    assert time.perf_counter() - start >= 0.22
    assert len(events) == 3
    assert isinstance(error, httpx.RemoteProtocolError)


# --- plan, call log, control routes -----------------------------------------------------------------


def test_plan_fails_the_next_calls_then_succeeds(
    fake: FakeProvider, fake_sdk_retrying: openai.OpenAI
) -> None:
    fake.plan("a", ["503", "429:0"])
    result = fake_sdk_retrying.chat.completions.create(model="a", messages=USER)
    assert result.choices[0].message.content == "echo: hello there world"
    calls = fake.calls
    assert [call.fault for call in calls] == ["503", "429:0", ""]
    assert [call.headers["x-stainless-retry-count"] for call in calls] == ["0", "1", "2"]
    assert {call.headers["authorization"] for call in calls} == {"Bearer sk-test"}
    assert calls[0].body["messages"] == USER


@pytest.fixture
def fake_sdk_retrying(fake: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.url, api_key="sk-test", max_retries=2, timeout=5) as client:
        yield client


def test_plans_are_per_model(fake: FakeProvider, http: httpx.Client) -> None:
    fake.plan("a", ["500"], then="503")
    fake.plan("*", ["refuse"])  # any model without a plan of its own
    statuses = [http.post("/chat/completions", json={**CHAT, "model": "a"}).status_code for _ in range(3)]
    assert statuses == [500, 503, 503]
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        http.post("/chat/completions", json={**CHAT, "model": "b"})
    assert http.post("/chat/completions", json={**CHAT, "model": "b"}).status_code == 200
    assert http.post("/chat/completions", json={**CHAT, "model": "a"}).status_code == 503


def test_header_wins_and_leaves_the_plan_alone(fake: FakeProvider, http: httpx.Client) -> None:
    fake.plan("a", ["500"])
    assert http.post("/chat/completions", json={**CHAT, "model": "a"}, headers=fault("ok")).status_code == 200
    assert http.post("/chat/completions", json={**CHAT, "model": "a"}).status_code == 500


def test_plan_reply_and_embeddings_plan(fake: FakeProvider, http: httpx.Client) -> None:
    fake.plan("pii", reply="Write to bob@example.com")
    reply = http.post("/chat/completions", json={**CHAT, "model": "pii"}).json()["choices"][0]["message"]
    assert reply["content"] == "Write to bob@example.com"
    fake.plan("e", ["503"])
    assert http.post("/embeddings", json={"model": "e", "input": "x"}).status_code == 503


def test_control_routes_over_http(fake: FakeProvider) -> None:
    root = fake.url.removesuffix("/v1")
    with httpx.Client(base_url=root) as control:
        planned = control.post("/_fake/plan", json={"model": "a", "faults": ["503", None], "then": "500"})
        assert planned.json() == {"model": "a", "pending": 2}
        statuses = [
            control.post("/v1/chat/completions", json={**CHAT, "model": "a"}).status_code for _ in range(3)
        ]
        assert statuses == [503, 200, 500]
        calls = control.get("/_fake/calls").json()["data"]
        assert [(c["path"], c["model"], c["fault"]) for c in calls] == [
            ("/v1/chat/completions", "a", "503")
        ] + [("/v1/chat/completions", "a", spec) for spec in ("", "500")]
        assert calls[0]["body"] == {**CHAT, "model": "a"}
        assert control.post("/_fake/plan", json={"model": "a", "faults": ["bogus"]}).status_code == 400
        assert control.post("/_fake/reset").json() == {"reset": True}
        assert control.get("/_fake/calls").json()["data"] == []
        assert control.post("/v1/chat/completions", json={**CHAT, "model": "a"}).status_code == 200


def test_bad_fault_header_is_a_clear_400(http: httpx.Client) -> None:
    response = http.post("/chat/completions", json=CHAT, headers=fault("explode"))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "X-Fake-Fault"
    assert "unknown kind" in response.json()["error"]["message"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="dimensions"):
        FakeSettings(dimensions=0)


def test_parse_faults() -> None:
    faults = parse_faults("slow_first_token:0.2, cut_after:3 ,429")
    assert (faults.slow_first_token, faults.cut_after, faults.error, faults.retry_after) == (
        0.2,
        3,
        "429",
        1.0,
    )
    assert parse_faults("stall").stall == 10.0
    assert parse_faults("malformed_sse").malformed_after == 1
    assert parse_faults("") == parse_faults(None) == parse_faults("ok").__class__()
    for bad in ("stall:-1", "stall:nan", "cut_after:x", "refuse:1", "200", "token_delay", "nope"):
        with pytest.raises(InvalidInputError):
            parse_faults(bad)


# --- the server itself ------------------------------------------------------------------------------


def test_keep_alive_and_connection_close(fake: FakeProvider) -> None:
    body = json.dumps(CHAT).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(request + request)  # two requests on one connection, pipelined
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 2 or not data.endswith(b"}"):
            data += sock.recv(65536)
        sock.sendall(request.replace(b"host: x", b"host: x\r\nconnection: close"))
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.count(b"connection: close") == 1


def test_many_scenarios_at_once_on_the_async_core() -> None:
    async def scenario() -> list[Any]:
        async with FakeServer() as server, httpx.AsyncClient(base_url=server.url, timeout=5) as client:

            async def call(spec: str) -> Any:
                try:
                    response = await client.post("/chat/completions", json=CHAT, headers=fault(spec))
                except httpx.HTTPError as exc:
                    return type(exc).__name__
                return response.status_code

            specs = ["ok", "429", "refuse", "slow:0.2", "stall:0.3", "500", "ok"] * 3
            return await asyncio.gather(*(call(spec) for spec in specs))

    results = asyncio.run(scenario())
    assert results[:7] == [200, 429, "ReadError", 200, "RemoteProtocolError", 500, 200]
    assert results[7:] == results[:7] * 2


def test_stop_is_prompt_with_a_stalled_client() -> None:
    fake = FakeProvider()
    fake.start()
    try:
        stalled = subprocess.Popen(  # a client in another process, so that this one is free to stop
            [
                sys.executable,
                "-c",
                f"import httpx; httpx.post('{fake.url}/chat/completions', "
                f"json={CHAT!r}, headers={{'X-Fake-Fault': 'stall:30'}}, timeout=10)",
            ],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not fake.calls and time.monotonic() < deadline:
            time.sleep(0.02)
        start = time.perf_counter()
        fake.stop()
        assert time.perf_counter() - start < 2
        assert stalled.wait(5) != 0  # its connection was dropped
    finally:
        fake.stop()


def test_command_line() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "aifactory.testing.fake_provider",
            "--port",
            "0",
            "--reply",
            "hi",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v1")
        with httpx.Client(base_url=url, timeout=5) as http:
            assert (
                http.post("/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"] == "hi"
            )
    finally:
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


# --- Anthropic's Messages API -----------------------------------------------------------------------

ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}
MESSAGE = {
    "model": "claude-fake",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hello there world"}],
}
WEATHER_TOOL = {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}


def messages(http: httpx.Client, spec: str = "", **extra: Any) -> httpx.Response:
    headers = ANTHROPIC_HEADERS | (fault(spec) if spec else {})
    return http.post("/messages", json=MESSAGE | extra, headers=headers)


def anthropic_events(
    http: httpx.Client, spec: str = "", **extra: Any
) -> tuple[list[tuple[str, Any]], Exception | None]:
    """The (event name, data) pairs of a streamed message, and the error that ended it early, if any."""
    headers = ANTHROPIC_HEADERS | (fault(spec) if spec else {})
    events: list[tuple[str, Any]] = []
    with http.stream("POST", "/messages", json=MESSAGE | {"stream": True} | extra, headers=headers) as r:
        assert r.status_code == 200
        name = ""
        try:
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((name, line.removeprefix("data: ")))
        except httpx.HTTPError as exc:
            return events, exc
    return events, None


def test_a_message_is_answered_in_anthropic_shape(http: httpx.Client) -> None:
    response = messages(http, system="Be brief.")
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    assert response.json() == {
        "id": response.json()["id"],
        "type": "message",
        "role": "assistant",
        "model": "claude-fake",
        "content": [{"type": "text", "text": "echo: hello there world"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 5,  # the system prompt's words count too
            "output_tokens": 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    cut = messages(http, max_tokens=2).json()
    assert (cut["content"][0]["text"], cut["stop_reason"]) == ("echo: hello", "max_tokens")


def test_a_message_calls_the_tool_the_user_names(http: httpx.Client) -> None:
    asked = [{"role": "user", "content": "get_weather please"}]
    answer = messages(http, tools=[WEATHER_TOOL], messages=asked).json()
    assert answer["stop_reason"] == "tool_use"
    (block,) = answer["content"]
    assert block["type"] == "tool_use"
    assert block["id"].startswith("toolu_fake")
    assert (block["name"], block["input"]) == ("get_weather", {"city": "fake", "unit": "c"})
    forced = messages(http, tools=[WEATHER_TOOL], tool_choice={"type": "any"}).json()
    assert forced["content"][0]["name"] == "get_weather"
    declined = messages(http, tools=[WEATHER_TOOL], tool_choice={"type": "none"}, messages=asked).json()
    assert declined["content"][0]["type"] == "text"
    answered = [
        *asked,
        {"role": "assistant", "content": [block]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": block["id"], "content": "sunny"}],
        },
    ]
    assert messages(http, tools=[WEATHER_TOOL], messages=answered).json()["content"][0]["type"] == "text"


def test_a_message_stream_is_anthropic_events(http: httpx.Client) -> None:
    events, error = anthropic_events(http)
    assert error is None
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(json.loads(data)["type"] == name for name, data in events)
    data = [json.loads(d) for _, d in events]
    assert (
        "".join(d["delta"]["text"] for d in data if d["type"] == "content_block_delta")
        == "echo: hello there world"
    )
    assert data[0]["message"]["usage"]["input_tokens"] == 3
    assert data[-2]["delta"]["stop_reason"] == "end_turn"
    assert data[-2]["usage"] == {"output_tokens": 4}


def test_a_message_stream_of_tool_calls(http: httpx.Client) -> None:
    tools = [WEATHER_TOOL, {"name": "get_time", "input_schema": {"type": "object"}}]
    events, _ = anthropic_events(http, tools=tools, tool_choice={"type": "tool", "name": "get_time"})
    data = [json.loads(d) for _, d in events]
    starts = [d["content_block"] for d in data if d["type"] == "content_block_start"]
    assert [(s["type"], s["name"], s["input"]) for s in starts] == [("tool_use", "get_time", {})]
    pieces = [d["delta"]["partial_json"] for d in data if d["type"] == "content_block_delta"]
    assert pieces[0] == ""
    assert json.loads("".join(pieces)) == {}
    assert data[-2]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("spec", "status", "error_type"),
    [
        ("429:7", 429, "rate_limit_error"),
        ("529", 529, "overloaded_error"),
        ("503", 503, "overloaded_error"),
        ("500", 500, "api_error"),
        ("auth", 401, "authentication_error"),
        ("bad_request", 400, "invalid_request_error"),
        ("context_window", 400, "invalid_request_error"),
    ],
)
def test_message_status_faults_have_anthropic_bodies(
    http: httpx.Client, spec: str, status: int, error_type: str
) -> None:
    for stream in (False, True):
        response = messages(http, spec, stream=stream)
        assert response.status_code == status
        assert response.json()["type"] == "error"
        assert response.json()["error"]["type"] == error_type
    assert messages(http, "429:7").headers["retry-after"] == "7"
    if spec == "context_window":
        assert messages(http, spec).json()["error"]["message"].startswith("prompt is too long")


def test_message_stream_faults(http: httpx.Client) -> None:
    events, error = anthropic_events(http, "cut_after:1")
    assert [name for name, _ in events] == ["message_start"]
    assert isinstance(error, httpx.RemoteProtocolError)
    events, error = anthropic_events(http, "cut_after:99")
    assert events[-1][0] == "message_delta"  # everything but message_stop
    assert isinstance(error, httpx.RemoteProtocolError)
    events, error = anthropic_events(http, "error_event_after_first_chunk")
    assert error is None
    assert [name for name, _ in events[-2:]] == ["content_block_delta", "error"]
    assert json.loads(events[-1][1])["error"]["type"] == "overloaded_error"
    events, _ = anthropic_events(http, "malformed_sse:2")
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[2][1])


def test_plans_apply_to_messages(fake: FakeProvider, http: httpx.Client) -> None:
    fake.plan("claude-fake", ["529"], reply="planned")
    assert messages(http).status_code == 529
    assert messages(http).json()["content"][0]["text"] == "planned"
    assert [(c.path, c.fault) for c in fake.calls] == [("/v1/messages", "529"), ("/v1/messages", "")]


def test_messages_need_the_version_header_and_the_key() -> None:
    with FakeProvider(FakeSettings(api_key="k")) as fake, httpx.Client(base_url=fake.url, timeout=5) as http:
        assert http.post("/messages", json=MESSAGE, headers={"x-api-key": "k"}).status_code == 400
        ok = http.post("/messages", json=MESSAGE, headers=ANTHROPIC_HEADERS | {"x-api-key": "k"})
        assert ok.status_code == 200
        bearer = http.post(
            "/messages", json=MESSAGE, headers=ANTHROPIC_HEADERS | {"authorization": "Bearer k"}
        )
        assert bearer.status_code == 200
        refused = http.post("/messages", json=MESSAGE, headers=ANTHROPIC_HEADERS | {"x-api-key": "no"})
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
