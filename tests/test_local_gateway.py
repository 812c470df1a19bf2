"""Done-when: the openai SDK, pointed at aifactory, gets answers from the bundled local model
offline, through the `chat-default` and `embeddings-default` routes a new install serves."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from conftest import LiveServer
from gateway_helpers import app_key, wait_for_route

pytest.importorskip("torch", reason="the local model runtime is the `local` extra")


@pytest.fixture
def local_sdk(live_server: LiveServer) -> Iterator[openai.OpenAI]:
    if not live_server.settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("the local model is exercised once, on the embedded default (SQLite)")
    key = app_key(live_server)
    wait_for_route(live_server, key, "chat-default")
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=300) as client:
        yield client


def test_the_bundled_model_answers_through_the_openai_sdk(
    local_sdk: openai.OpenAI, live_server: LiveServer
) -> None:
    raw = local_sdk.chat.completions.with_raw_response.create(
        model="chat-default",
        max_tokens=8,
        temperature=0,
        messages=[{"role": "user", "content": "Say hello."}],
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0
    run = live_server.client().get(f"/v1/runs/{raw.headers['x-aifactory-run-id']}").json()
    assert run["deployment"] == "local-smollm2"
    assert run["price_known"] is True

    stream = local_sdk.chat.completions.create(
        model="chat-default",
        max_tokens=8,
        temperature=0,
        stream=True,
        messages=[{"role": "user", "content": "Say hello."}],
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed == completion.choices[0].message.content

    vectors = local_sdk.embeddings.create(model="embeddings-default", input=["a cat", "a kitten"])
    assert len(vectors.data) == 2
    assert len(vectors.data[0].embedding) == 384
