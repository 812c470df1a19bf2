"""Sequential latency: interleaved rounds of chat completions (whole or streamed) to every target.

One keep-alive httpx client per target, one request in flight at a time, targets taken round-robin
per request (the starting target rotates every round), so machine drift hits every target alike.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import httpx
from _gateways import Target

__all__ = ["Samples", "chat_body", "overhead", "rounds", "summary"]


def chat_body(target: Target, *, stream: bool = False) -> bytes:
    """A small chat request (the fake answers `echo: <prompt>`: 7 tokens for the default prompt)."""
    body: dict[str, object] = {
        "model": target.model,
        "messages": [{"role": "user", "content": target.prompt}],
        "max_tokens": 16,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


@dataclass
class Samples:
    """Latencies in seconds of one target, by round (a failed request leaves its round out)."""

    by_round: dict[int, float] = field(default_factory=dict)
    errors: int = 0

    @property
    def values(self) -> list[float]:
        """The latencies, in round order."""
        return list(self.by_round.values())


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (0 < q < 1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    """Count, p50, p99, mean and max, in milliseconds."""
    if not values:
        return {"n": 0}
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 0.50),
        "p99_ms": percentile(ms, 0.99),
        "mean_ms": sum(ms) / len(ms),
        "max_ms": max(ms),
    }


def overhead(direct: Samples, via: Samples) -> dict[str, float]:
    """Via minus direct: of the distributions' percentiles, and percentiles of the per-round differences."""
    paired = [via.by_round[r] - direct.by_round[r] for r in via.by_round.keys() & direct.by_round.keys()]
    if not paired:
        return {}
    d, v = direct.values, via.values
    return {
        "p50_ms": (percentile(v, 0.50) - percentile(d, 0.50)) * 1000,
        "p99_ms": (percentile(v, 0.99) - percentile(d, 0.99)) * 1000,
        "paired_p50_ms": percentile(paired, 0.50) * 1000,
        "paired_p99_ms": percentile(paired, 0.99) * 1000,
    }


def _is_content(line: str) -> bool:
    """Whether an SSE line is a chunk carrying some answer text."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


def _whole(client: httpx.Client, body: bytes) -> float | None:
    started = time.perf_counter()
    response = client.post("/chat/completions", content=body)
    elapsed = time.perf_counter() - started
    return elapsed if response.status_code == 200 else None


def _first_token(client: httpx.Client, body: bytes) -> float | None:
    started = time.perf_counter()
    first = None
    with client.stream("POST", "/chat/completions", content=body) as response:
        for line in response.iter_lines():
            if first is None and _is_content(line):
                first = time.perf_counter() - started
    return first if response.status_code == 200 else None


def rounds(targets: list[Target], count: int, warmup: int, *, stream: bool = False) -> dict[str, Samples]:
    """`warmup` unrecorded then `count` recorded rounds; latency to the whole answer, or (`stream`)
    to the first content chunk (the rest of the stream is read before the next request)."""
    measure = _first_token if stream else _whole
    clients = [httpx.Client(base_url=t.base_url, headers=t.headers, timeout=30) for t in targets]
    bodies = [chat_body(t, stream=stream) for t in targets]
    samples = {t.name: Samples() for t in targets}
    try:
        for number in range(-warmup, count):
            shift = number % len(targets)
            for i in [*range(shift, len(targets)), *range(shift)]:
                try:
                    latency = measure(clients[i], bodies[i])
                except httpx.HTTPError:
                    latency = None
                if number < 0:
                    continue
                if latency is None:
                    samples[targets[i].name].errors += 1
                else:
                    samples[targets[i].name].by_round[number] = latency
    finally:
        for client in clients:
            client.close()
    return samples
