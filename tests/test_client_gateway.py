"""The SDK's gateway namespaces against a real server on loopback and the fault-injecting fake upstream:
deployments and routes published through the catalog (a second person approves), then chat, streamed
chat, embeddings, models and run records, with errors classified into the tree."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from aifactory.client import AsyncClient, ChatResult, ChatStream, Client
from aifactory.client._problems import error_from_event
from aifactory.client.gateway import delta_text
from aifactory.errors import (
    AifactoryError,
    BudgetExceededError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    UpstreamError,
    UpstreamUnavailableError,
)
from aifactory.testing import FakeProvider
from aifactory.testing.embeddings import embed
from conftest import LiveServer
from gateway_helpers import app_key, deployment

T = TypeVar("T")


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def run(live: LiveServer, action: Callable[[AsyncClient], Awaitable[T]], key: str | None = None) -> T:
    """Run `action` with an AsyncClient on the live server (the admin's, or `key`'s), closed afterwards."""

    async def main() -> T:
        async with AsyncClient(live.url, live.admin_key if key is None else key) as client:
            return await action(client)

    return asyncio.run(main())


async def release(
    admin: AsyncClient, reviewer: AsyncClient, kind: str, name: str, spec: dict[str, Any]
) -> int:
    """Push a spec through the SDK, approve it as a second person, promote it to production."""
    specs = admin.deployments if kind == "deployment" else admin.routes
    version = await specs.create(name, spec, message="test")
    await reviewer.assets.approve(f"{kind}:{name}", version.number)
    await admin.assets.move_label(f"{kind}:{name}", "production", version.number)
    return version.number


async def wait_for_models(client: AsyncClient, *aliases: str, deadline: float = 5) -> None:
    """Wait until the gateway serves every alias (it sees catalog changes through the change feed)."""
    end = time.monotonic() + deadline
    while not set(aliases) <= set(await client.gateway.models()):
        assert time.monotonic() < end, f"routes {aliases} never served"
        await asyncio.sleep(0.05)


@pytest.fixture
def caller(live_server: LiveServer, fake: FakeProvider) -> str:
    """Publish chat and embedding deployments and routes through the SDK; an app's key that calls them."""

    async def publish(admin: AsyncClient) -> None:
        await admin.principals.create("gw-reviewer", kind="person", roles=["reviewer"])
        reviewer_key = (await admin.keys.create("review", principal="gw-reviewer")).key
        async with AsyncClient(admin.base_url, reviewer_key) as reviewer:
            await release(admin, reviewer, "deployment", "fake-a", deployment(fake.url))
            embedder = deployment(fake.url, model="fake-embedding", operation="embeddings")
            await release(admin, reviewer, "deployment", "fake-embed", embedder)
            await release(admin, reviewer, "route", "chat-fake", {"candidates": [{"deployment": "fake-a"}]})
            embed_route = {"operation": "embeddings", "candidates": [{"deployment": "fake-embed"}]}
            await release(admin, reviewer, "route", "embed-default", embed_route)

    run(live_server, publish)
    key = app_key(live_server)
    run(live_server, lambda c: wait_for_models(c, "chat-fake", "embed-default"), key)
    return key


def test_chat_streamed_chat_embeddings_and_runs(live_server: LiveServer, caller: str) -> None:
    async def flow(client: AsyncClient) -> None:
        assert {"chat-fake", "embed-default"} <= set(await client.gateway.models())

        result = await client.gateway.chat(
            "chat-fake",
            "hello there",
            use_case="support",
            jurisdiction="EU",
            subject="user-7",
            max_tokens=50,
        )
        assert isinstance(result, ChatResult)
        assert result.text == "echo: hello there"
        assert result.completion["object"] == "chat.completion"
        assert result.completion["id"] == f"chatcmpl-{result.run_id}"
        record = await client.gateway.run(result.run_id)
        assert (record["deployment"], record["status"], record["stream"]) == ("fake-a", "ok", False)
        assert (record["use_case"], record["jurisdiction"]) == ("support", "EU")
        assert record["subject_hash"] not in (None, "user-7")
        assert (record["prompt_tokens"], record["completion_tokens"]) == (2, 3)

        system = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one two three"}]
        async with client.gateway.chat_stream("chat-fake", system, surface="cli") as stream:
            chunks = [chunk async for chunk in stream]
        assert "".join(delta_text(chunk) for chunk in chunks) == "echo: one two three"
        assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
        assert stream.run_id is not None
        streamed = await client.gateway.run(stream.run_id)
        assert (streamed["stream"], streamed["surface"], streamed["status"]) == (True, "cli", "ok")

        vectors = await client.gateway.embeddings("embed-default", ["alpha", "beta"])
        assert [len(v) for v in vectors] == [16, 16]
        assert vectors[0] == pytest.approx(embed("alpha", 16))
        assert await client.gateway.embeddings("embed-default", "alpha") == [vectors[0]]

    run(live_server, flow, caller)


async def read_text(stream: ChatStream, received: list[str]) -> None:
    """Read a stream to its end, keeping each piece of content as it arrives."""
    async for chunk in stream:
        received.append(delta_text(chunk))


def test_a_streamed_error_event_raises_the_classified_error(
    live_server: LiveServer, caller: str, fake: FakeProvider
) -> None:
    fake.plan("fake-chat", faults=["error_event_after_first_chunk"])

    async def flow(client: AsyncClient) -> tuple[str, str | None]:
        received: list[str] = []
        stream = client.gateway.chat_stream("chat-fake", "a b c d")
        with pytest.raises(UpstreamUnavailableError) as failed:
            await read_text(stream, received)
        assert failed.value.extra["code"] == "upstream_unavailable"
        assert "error while streaming" in failed.value.detail
        return "".join(received), stream.run_id

    received, run_id = run(live_server, flow, caller)
    assert received.startswith("echo:")
    assert run_id is not None
    record = run(live_server, lambda c: c.gateway.run(run_id))
    assert (record["status"], record["error_type"]) == ("error", "UpstreamUnavailableError")


def test_openai_shaped_errors_map_to_the_error_tree(
    live_server: LiveServer, caller: str, fake: FakeProvider
) -> None:
    async def flow(client: AsyncClient) -> None:
        with pytest.raises(NotFoundError, match="no route 'nope'") as missing:
            await client.gateway.chat("nope", "x")
        assert missing.value.extra["openai_type"] == "not_found_error"
        assert missing.value.extra["request_id"]
        with pytest.raises(NotFoundError):
            async for _ in client.gateway.chat_stream("nope", "x"):
                pass
        with pytest.raises(InvalidInputError, match="serves embeddings, not chat"):
            await client.gateway.chat("embed-default", "x")
        with pytest.raises(InvalidInputError, match="serves chat, not embeddings"):
            await client.gateway.embeddings("chat-fake", "x")
        fake.plan("fake-chat", faults=["503", "503"])
        with pytest.raises(UpstreamUnavailableError) as unavailable:
            await client.gateway.chat("chat-fake", "x")
        assert unavailable.value.extra["deployment"] == "fake-a"

    run(live_server, flow, caller)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {"message": "over budget", "type": "rate_limit_error", "code": "budget_exceeded"},
            BudgetExceededError,
        ),
        ({"message": "slow down", "type": "rate_limit_error"}, LimitExceededError),
        ({"message": "overloaded", "type": "server_error"}, UpstreamUnavailableError),
        ({"message": "no such route", "type": "not_found_error", "code": "not_found"}, NotFoundError),
        ({"message": "something broke"}, UpstreamError),
        ("a bare string", UpstreamError),
    ],
)
def test_error_events_are_classified_by_code_then_type(event: Any, expected: type[AifactoryError]) -> None:
    error = error_from_event(event)
    assert type(error) is expected
    assert error.detail in (
        "over budget",
        "slow down",
        "overloaded",
        "no such route",
        "something broke",
        "a bare string",
    )


def test_bad_specs_are_refused_naming_the_field(
    live_server: LiveServer, caller: str, fake: FakeProvider
) -> None:
    async def flow(admin: AsyncClient) -> None:
        with pytest.raises(InvalidInputError, match="base_url"):
            await admin.deployments.create("no-url", {"provider": "openai", "upstream_model": "m"})
        with pytest.raises(NotFoundError):
            await admin.assets.get("deployment:no-url")  # refused before anything was registered
        with pytest.raises(InvalidInputError, match="strategy"):  # the server's own refusal
            await admin.routes.create(
                "chat-fake", {"strategy": "cheapest", "candidates": [{"deployment": "x"}]}
            )
        unchanged = await admin.deployments.create("fake-a", deployment(fake.url))
        assert (unchanged.number, unchanged.created) == (1, False)

    run(live_server, flow)


def test_show_and_labelled_specs(live_server: LiveServer, caller: str, fake: FakeProvider) -> None:
    async def flow(admin: AsyncClient) -> None:
        asset, labelled = await admin.deployments.show("fake-a")
        assert (asset.kind, asset.name, asset.labels) == ("deployment", "fake-a", {"production": 1})
        assert labelled["production"].content == deployment(fake.url)
        draft = await admin.deployments.create("fake-a", deployment(fake.url, region="eu-west-1"))
        assert (draft.number, draft.created) == (2, True)
        assert (await admin.deployments.show("fake-a")).labelled["production"].number == 1
        assert {"fake-a", "fake-embed"} <= {a.name for a in await admin.deployments.list()}
        assert {"chat-fake", "embed-default"} <= set(await admin.routes.labelled("production"))
        assert await admin.routes.labelled("staging") == {}

    run(live_server, flow)


def test_the_blocking_client_streams_too(live_server: LiveServer, caller: str) -> None:
    with Client(live_server.url, caller) as client:
        assert client.gateway.chat("chat-fake", "hi").text == "echo: hi"
        stream = client.gateway.chat_stream("chat-fake", "one two")
        assert "".join(delta_text(chunk) for chunk in stream) == "echo: one two"
        assert client.gateway.run(stream.run_id)["stream"] is True
        assert {"chat-fake", "embed-default"} <= set(client.gateway.models())


def test_closing_a_stream_early_keeps_the_gateway_recording(live_server: LiveServer, caller: str) -> None:
    with Client(live_server.url, caller) as client:
        with client.gateway.chat_stream("chat-fake", "stop early please") as early:
            assert next(iter(early))["object"] == "chat.completion.chunk"
        # the server notices the client left and records the run a moment later
        deadline = time.monotonic() + 5
        while True:
            try:
                assert client.gateway.run(early.run_id)["stream"] is True
                break
            except NotFoundError:
                assert time.monotonic() < deadline, "the abandoned stream's run was never recorded"
                time.sleep(0.05)
        assert client.gateway.chat("chat-fake", "still there?").text == "echo: still there?"
