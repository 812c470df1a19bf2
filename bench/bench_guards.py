"""Cost of the output guard in-process: per stream event at several chunk sizes, and per character of
a whole response, with PII detection (four types) and three content rules.

Run: `.venv/bin/python bench/bench_guards.py [characters]`. Goal: the guard adds well under 100 µs
per streamed event on average.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator

from aifactory.gateway.types import ChatResponse, Delta, StreamEnd, StreamEvent, Usage
from aifactory.policy.decision import ContentRule, Obligations
from aifactory.policy.guards import OutputGuard
from aifactory.policy.pii import default_detector

OBLIGATIONS = Obligations(
    redact={"EMAIL_ADDRESS": "mask"},
    output_pii=frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE"}),
    content_rules=(
        ContentRule("curse", "words", ("darn", "heck", "blast"), "redact"),
        ContentRule("key", "regex", r"sk-[A-Za-z0-9]{32}", "block"),
        ContentRule("ticket", "regex", r"\bTCK-\d{6}\b", "redact"),
    ),
)
SENTENCE = "The quick brown fox jumps over the lazy dog; write to bob@example.org about TCK-123456. "


async def _events(text: str, size: int) -> AsyncIterator[StreamEvent]:
    for i in range(0, len(text), size):
        yield Delta([{"index": 0, "delta": {"content": text[i : i + size]}}])
    yield StreamEnd(Usage())


async def _drain(guard: OutputGuard, text: str, size: int) -> None:
    async for _ in guard.stream(_events(text, size)):
        pass


def per_event(text: str, size: int, runs: int = 5) -> float:
    """Median µs the guard adds per event (guarded minus unguarded), over `runs` runs."""
    detector = default_detector()
    costs = []
    for _ in range(runs):
        start = time.perf_counter()
        asyncio.run(_drain(OutputGuard(Obligations(), None), text, size))
        bare = time.perf_counter() - start
        start = time.perf_counter()
        asyncio.run(_drain(OutputGuard(OBLIGATIONS, detector), text, size))
        costs.append((time.perf_counter() - start - bare) / (len(text) / size + 1))
    return statistics.median(costs) * 1e6


def whole(text: str) -> float:
    """MB of text per second through the guard, whole."""
    guard = OutputGuard(OBLIGATIONS, default_detector())
    response = ChatResponse([{"index": 0, "message": {"role": "assistant", "content": text}}], Usage())
    start = time.perf_counter()
    guard.response(response)
    return len(text) / (time.perf_counter() - start) / 1e6


def main() -> None:
    characters = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    text = (SENTENCE * (characters // len(SENTENCE) + 1))[:characters]
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{characters:,} characters; hold-back 64")
    for size in (1, 4, 16, 64):
        print(f"chunks of {size:>2} characters: {per_event(text, size):7.1f} µs per event")
    print(f"whole response: {whole(text * 20):.1f} MB/s")


if __name__ == "__main__":
    main()
