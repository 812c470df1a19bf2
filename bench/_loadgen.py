"""The benchmark's load generator, a process of its own: asyncio + httpx, driven over stdin/stdout.

Each line on stdin is a JSON command; each answer is one JSON line on stdout. It exits at EOF.

- `{"op": "open", "target": {...}, "rate": 200, "seconds": 5, "warmup": 1, "seed": 1}`: open loop.
  Requests arrive as a Poisson process at `rate`/s whatever the answers do (a slow server gets a
  queue, not fewer requests); latency runs from each request's *scheduled* time, so a late
  generator shows up as latency too, and separately as `lag` (actual send minus scheduled).
- `{"op": "closed", "target": {...}, "requests": 10000, "concurrency": 8}`: closed loop, as fast
  as the server answers (for soaking: many requests, quickly).

Every answer carries `cpu_share`: this process's CPU seconds over wall seconds (near 1.0 means the
generator itself, not the server, may be the limit).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

import httpx

MAX_IN_FLIGHT = 512
TIMEOUT = 10.0
PROMPT = "hello from the gateway benchmark"


class Generator:
    """Keep-alive clients per base URL, kept across commands so connections stay warm."""

    def __init__(self) -> None:
        self.clients: dict[str, httpx.AsyncClient] = {}

    def client(self, target: dict[str, Any]) -> httpx.AsyncClient:
        """The client for `target` (created on first use)."""
        base = target["base_url"]
        if base not in self.clients:
            headers = {"content-type": "application/json"}
            if target.get("key"):
                headers["authorization"] = f"Bearer {target['key']}"
            limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
            self.clients[base] = httpx.AsyncClient(
                base_url=base, headers=headers, limits=limits, timeout=TIMEOUT
            )
        return self.clients[base]

    async def close(self) -> None:
        """Close every client."""
        for client in self.clients.values():
            await client.aclose()


def _body(target: dict[str, Any]) -> bytes:
    message = {"role": "user", "content": PROMPT}
    return json.dumps({"model": target["model"], "messages": [message], "max_tokens": 16}).encode()


async def _send(client: httpx.AsyncClient, body: bytes) -> bool:
    try:
        response = await client.post("/chat/completions", content=body)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _stats(latencies: list[float]) -> dict[str, float]:
    """p50, p99 (nearest rank) and max in milliseconds; empty when there is nothing to rank."""
    if not latencies:
        return {}
    ordered = sorted(latencies)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": ordered[-1] * 1000}


async def open_loop(gen: Generator, command: dict[str, Any]) -> dict[str, Any]:
    """Poisson arrivals at `rate` for `warmup` + `seconds`; only the last `seconds` are recorded."""
    client, body = gen.client(command["target"]), _body(command["target"])
    rate, seconds, warmup = float(command["rate"]), float(command["seconds"]), float(command["warmup"])
    rng = random.Random(command.get("seed", 1))
    loop = asyncio.get_running_loop()
    scheduled = loop.time()
    recorded_from = scheduled + warmup
    end = recorded_from + seconds
    latencies: list[float] = []
    lags: list[float] = []
    counts = {"sent": 0, "errors": 0, "dropped": 0}
    in_flight: set[asyncio.Task[None]] = set()

    async def one(at: float) -> None:
        sent = loop.time()
        ok = await _send(client, body)
        if at < recorded_from:
            return
        if ok:
            latencies.append(loop.time() - at)
            lags.append(sent - at)
        else:
            counts["errors"] += 1

    while (scheduled := scheduled + rng.expovariate(rate)) < end:
        if (delay := scheduled - loop.time()) > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= MAX_IN_FLIGHT:
            counts["dropped"] += scheduled >= recorded_from
            continue
        counts["sent"] += scheduled >= recorded_from
        task = asyncio.create_task(one(scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        _, late = await asyncio.wait(in_flight, timeout=TIMEOUT + 1)
        for task in late:
            task.cancel()
        counts["errors"] += len(late)
    return {
        "rate": rate,
        "seconds": seconds,
        **counts,
        "ok": len(latencies),
        "achieved_rate": len(latencies) / seconds,
        **_stats(latencies),
        "lag_p99_ms": _stats(lags).get("p99_ms", 0.0),
    }


async def closed_loop(gen: Generator, command: dict[str, Any]) -> dict[str, Any]:
    """`requests` requests from `concurrency` workers, each sending its next as soon as one returns."""
    client, body = gen.client(command["target"]), _body(command["target"])
    remaining = int(command["requests"])
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            if await _send(client, body):
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(int(command["concurrency"]))))
    elapsed = time.perf_counter() - started
    return {"ok": len(latencies), "errors": errors, "seconds": elapsed, "rate": len(latencies) / elapsed}


async def serve() -> None:
    """Answer commands from stdin until EOF."""
    gen = Generator()
    loop = asyncio.get_running_loop()
    operations = {"open": open_loop, "closed": closed_loop}
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            wall, cpu = time.perf_counter(), time.process_time()
            result = await operations[command["op"]](gen, command)
            result["cpu_share"] = (time.process_time() - cpu) / (time.perf_counter() - wall)
            print(json.dumps(result), flush=True)
    finally:
        await gen.close()


if __name__ == "__main__":
    asyncio.run(serve())
