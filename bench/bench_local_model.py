"""Local model benchmarks: cold load (GGUF, dequantize, fill the cache), warm load (from the cache),
time to first token and tokens/s through `LocalChatModel.stream`, and embeddings/s.

    python bench/bench_local_model.py
    python bench/bench_local_model.py --threads 1 --rounds 5 --max-tokens 128

Other processes competing for the CPU change every figure here: note the load average it prints.
Results go in docs/benchmarks.md (with the machine and the date).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from aifactory.gateway.providers.local import LocalChatModel, LocalEmbeddingModel
from aifactory.gateway.types import ChatRequest, Delta, EmbeddingRequest, Message, StreamEnd

PROMPT = "Write a short story about a dragon who learns to bake bread."
SENTENCES = [f"Sentence number {i} is about {topic}." for i, topic in enumerate(["cats", "tax", "rain"] * 22)]


def bench_loads(cache: Path) -> dict[str, float]:
    """Import, then a cold load (no cache) and a warm load (cache), in this process."""
    started = time.perf_counter()
    from aifactory.gateway.providers._local_chat import load_chat

    imported = time.perf_counter()
    cold = load_chat(cache)
    loaded_cold = time.perf_counter()
    warm = load_chat(cache)
    loaded_warm = time.perf_counter()
    assert (cold.source, warm.source) == ("gguf", "cache")
    return {
        "import_s": imported - started,
        "cold_load_s": loaded_cold - imported,
        "warm_load_s": loaded_warm - loaded_cold,
    }


async def bench_generation(model: LocalChatModel, rounds: int, max_tokens: int) -> dict[str, float]:
    """Greedy streams of a short prompt: time to first token, and decode tokens/s after it."""
    request = ChatRequest(
        model="bench", messages=[Message(role="user", content=PROMPT)], max_tokens=max_tokens
    )
    await model.complete(request.model_copy(update={"max_tokens": 1}))  # warm-up
    first_tokens, rates, totals = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        first: float | None = None
        async for event in model.stream(request):
            if isinstance(event, Delta) and first is None:
                first = time.perf_counter()
            if isinstance(event, StreamEnd):
                ended = time.perf_counter()
                tokens = event.usage.completion_tokens
        assert first is not None
        first_tokens.append(first - started)
        rates.append((tokens - 1) / (ended - first))
        totals.append(tokens / (ended - started))
    return {
        "ttft_ms_median": statistics.median(first_tokens) * 1000,
        "decode_tok_s_median": statistics.median(rates),
        "overall_tok_s_median": statistics.median(totals),
        "completion_tokens": tokens,
    }


async def bench_embeddings(model: LocalEmbeddingModel, rounds: int) -> dict[str, float]:
    """Batches of short sentences, as a retrieval index would send them."""
    load_started = time.perf_counter()
    await model.load()
    loaded = time.perf_counter()
    request = EmbeddingRequest(model="bench", input=SENTENCES)
    await model.embed(request)  # warm-up
    started = time.perf_counter()
    for _ in range(rounds):
        await model.embed(request)
    elapsed = time.perf_counter() - started
    return {"embed_load_s": loaded - load_started, "embeddings_per_s": rounds * len(SENTENCES) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the provider's default)")
    args = parser.parse_args()
    if args.threads:  # read by torch when it starts, and the provider then leaves the count alone
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    load_average = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        cache = Path(work) / "models"
        results = bench_loads(cache)
        import torch

        chat = LocalChatModel("bench-chat", cache)
        asyncio.run(chat.load())
        results |= asyncio.run(bench_generation(chat, args.rounds, args.max_tokens))
        results |= asyncio.run(bench_embeddings(LocalEmbeddingModel("bench-embed"), args.rounds * 5))
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": round(load_average, 2),
    }
    print(json.dumps(machine))
    for name, value in results.items():
        print(f"{name:24} {value:10.3f}")


if __name__ == "__main__":
    main()
