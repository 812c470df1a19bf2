"""The gateway end to end: the openai SDK against aifactory, a fault-injecting fake upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aifactory.gateway.providers._upstream import Transport
from aifactory.gateway.providers.openai import OpenAIModel
from aifactory.gateway.specs import DeploymentSpec
from aifactory.gateway.types import ChatRequest
from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, publish, wait_for_route


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def sdk(live_server: LiveServer, fake: FakeProvider) -> Iterator[openai.OpenAI]:
    publish(live_server, "deployment", "fake-a", deployment(fake.url))
    publish(live_server, "deployment", "fake-b", deployment(fake.url, model="fake-b"))
    publish(
        live_server,
        "route",
        "chat-fake",
        {"candidates": [{"deployment": "fake-a"}, {"deployment": "fake-b"}]},
    )
    key = app_key(live_server)
    wait_for_route(live_server, key, "chat-fake")
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0) as client:
        yield client


def test_completion_through_the_openai_sdk(sdk: openai.OpenAI, live_server: LiveServer) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="chat-fake", messages=[{"role": "user", "content": "hello there"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 2
    run_id = raw.headers["x-aifactory-run-id"]
    run = live_server.client().get(f"/v1/runs/{run_id}").json()
    assert run["deployment"] == "fake-a"
    assert run["status"] == "ok"
    assert run["price_known"] is True
    assert float(run["cost_usd"]) > 0


def test_the_reserved_output_limit_is_sent_upstream(sdk: openai.OpenAI, fake: FakeProvider) -> None:
    # A request without a limit is reserved at the route's default_max_tokens (1024): the upstream
    # must be held to it, or it could spend past the reservation. A limit of its own passes as is.
    sdk.chat.completions.create(model="chat-fake", messages=[{"role": "user", "content": "x"}])
    sdk.chat.completions.create(model="chat-fake", max_tokens=7, messages=[{"role": "user", "content": "y"}])
    sent = [call.body for call in fake.calls if call.path.endswith("/chat/completions")]
    assert [body.get("max_tokens") for body in sent[-2:]] == [1024, 7]


def test_streaming_through_the_openai_sdk(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="chat-fake",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three"}],
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: one two three"
    assert usage is not None
    assert usage.completion_tokens == 4


def test_falls_over_to_the_next_deployment(
    sdk: openai.OpenAI, fake: FakeProvider, live_server: LiveServer
) -> None:
    fake.plan("fake-chat", faults=["503", "503", "503"])
    raw = sdk.chat.completions.with_raw_response.create(
        model="chat-fake", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == "echo: hi"
    run = live_server.client().get(f"/v1/runs/{raw.headers['x-aifactory-run-id']}").json()
    assert run["deployment"] == "fake-b"
    assert [a["outcome"] for a in run["attempts"]] == [
        "UpstreamUnavailableError",
        "UpstreamUnavailableError",
        "ok",
    ]


def test_unknown_route_is_an_openai_404(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "no route 'nope'" in str(caught.value)


def test_stream_cut_after_content_ends_with_an_error_event(sdk: openai.OpenAI, fake: FakeProvider) -> None:
    fake.plan("fake-chat", faults=["cut_after:3"])
    stream = sdk.chat.completions.create(
        model="chat-fake", stream=True, messages=[{"role": "user", "content": "a b c d e f"}]
    )
    received: list[str] = []

    def consume() -> None:
        for chunk in stream:
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError):
        consume()
    assert "".join(received).startswith("echo:")


def test_stream_failure_before_content_falls_over_invisibly(sdk: openai.OpenAI, fake: FakeProvider) -> None:
    fake.plan("fake-chat", faults=["cut_after:1", "cut_after:1", "cut_after:1"])
    stream = sdk.chat.completions.create(
        model="chat-fake", stream=True, messages=[{"role": "user", "content": "x y"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo: x y"


def test_refused_calls_are_in_the_ledger(sdk: openai.OpenAI, live_server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="missing-route", messages=[{"role": "user", "content": "x"}])
    time.sleep(0.5)
    entries = live_server.client().get("/v1/ledger/entries").json()["entries"]
    refused = [e["event"] for e in entries if e["event"]["type"] == "run.refused"]
    assert refused
    assert refused[-1]["data"]["route"] == "missing-route"


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def test_calls_are_measured_and_traced(
    sdk: openai.OpenAI, live_server: LiveServer, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    raw = sdk.chat.completions.with_raw_response.create(
        model="chat-fake", messages=[{"role": "user", "content": "count me"}]
    )
    run_id = raw.headers["x-aifactory-run-id"]
    metrics = live_server.client().get("/metrics").text
    assert 'aifactory_gateway_calls_total{deployment="fake-a",route="chat-fake",status="ok"}' in metrics
    assert "aifactory_gateway_cost_usd_total" in metrics
    finished = [s for s in spans.get_finished_spans() if s.attributes.get("aifactory.run_id") == run_id]
    assert len(finished) == 1
    attributes = finished[0].attributes
    assert finished[0].name == "chat chat-fake"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.usage.input_tokens"] == 2
    assert attributes["aifactory.deployment"] == "fake-a"


@pytest.mark.parametrize(
    ("base_url", "field"),
    [
        ("https://api.openai.com/v1", "max_completion_tokens"),
        ("https://eu.openai.azure.com/openai/v1", "max_completion_tokens"),
        ("http://127.0.0.1:8000/v1", "max_tokens"),
    ],
)
def test_official_openai_gets_the_output_limit_as_max_completion_tokens(base_url: str, field: str) -> None:
    spec = DeploymentSpec(provider="openai", base_url=base_url, upstream_model="gpt-x")
    model = OpenAIModel("d", spec, Transport())
    request = ChatRequest.model_validate(
        {"model": "r", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]}
    )
    body = model.request_body(request, stream=False)
    assert body[field] == 9
    assert set(body) & {"max_tokens", "max_completion_tokens"} == {field}
