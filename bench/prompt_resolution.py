"""Prompt resolution from the in-memory snapshot, and rollback, measured in process on SQLite.

1. `Prompts.resolve` (the server-side work of `GET /v1/prompts/{name}`): 200 prompts, each with 5
   versions, a `production` label, and on half of them a 10% canary; every call by label with a new
   subject (so the canary split is computed each time). Goal: p99 < 1 ms.
2. The same, then render (variables validated, includes from the pins, sandboxed Jinja2).
3. `GET /v1/prompts/{name}` over HTTP on loopback (auth, Cedar, resolution, JSON), from one client.
4. Rollback (`POST .../labels/{label}/rollback` without the HTTP layer): one write transaction with
   its ledger entry and change-feed bump. Goal: p99 < 50 ms.

Run: `.venv/bin/python bench/prompt_resolution.py [calls]`.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from _processes import free_port

from aifactory.bootstrap import initialize
from aifactory.catalog.records import AssetIn, CanaryIn
from aifactory.prompts.resolution import Selector
from aifactory.prompts.usage import Consumer
from aifactory.runtime import Runtime
from aifactory.server.app import create_app
from aifactory.settings import Settings

PROMPTS = 200
VERSIONS = 5


def _percentiles(samples: list[float], unit: str = "µs") -> str:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=1000)
    return (
        f"p50 {q[499]:.1f} {unit}, p99 {q[989]:.1f} {unit}, max {ordered[-1]:.1f} {unit} (n={len(ordered)})"
    )


def _seed(runtime: Runtime, admin: str) -> None:
    catalog = runtime.catalog
    tone = catalog.create(AssetIn(kind="prompt", name="tone"), admin)
    catalog.push(tone.id, {"text": "Be brief."}, admin)
    catalog.move_label(tone.id, "staging", 1, admin)
    for n in range(PROMPTS):
        asset = catalog.create(AssetIn(kind="prompt", name=f"p{n}"), admin)
        for v in range(VERSIONS):
            content = {
                "messages": [
                    {"role": "system", "content": f'v{v}. {{% include "tone@staging" %}}'},
                    {"role": "user", "content": "Hello {{ customer }}, about ticket {{ ticket }}."},
                ],
                "variables": {
                    "type": "object",
                    "required": ["customer"],
                    "properties": {"customer": {"type": "string"}, "ticket": {"type": "integer"}},
                },
            }
            catalog.push(asset.id, content, admin)
        catalog.move_label(asset.id, "staging", VERSIONS - 1, admin)
        if n % 2 == 0:
            catalog.releases.canary(asset.id, "staging", CanaryIn(version=VERSIONS, percent=10), admin)
    runtime.prompts.refresh()


def _resolve(runtime: Runtime, calls: int) -> tuple[list[float], list[float]]:
    prompts, consumer = runtime.prompts, Consumer("key_bench", "bench")
    select = Selector(label="staging")
    resolved, rendered = [], []
    for i in range(calls):
        name = f"p{i % PROMPTS}"
        start = time.perf_counter()
        found = prompts.resolve(name, select, consumer, subject=f"subject-{i}")
        middle = time.perf_counter()
        prompts.render(found, {"customer": "Ada", "ticket": i})
        end = time.perf_counter()
        resolved.append((middle - start) * 1e6)
        rendered.append((end - start) * 1e6)
    return resolved, rendered


def _http(settings: Settings, key: str, calls: int) -> list[float]:
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    samples = []
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        ) as c:
            for i in range(calls):
                start = time.perf_counter()
                c.get(
                    f"/v1/prompts/p{i % PROMPTS}", params={"label": "staging", "subject": str(i)}
                ).raise_for_status()
                samples.append((time.perf_counter() - start) * 1e6)
    finally:
        server.should_exit = True
        thread.join(30)
    return samples


def _rollbacks(runtime: Runtime, admin: str, rounds: int) -> list[float]:
    catalog, samples = runtime.catalog, []
    for i in range(rounds):
        ref = f"prompt:p{1 + 2 * (i % (PROMPTS // 2))}"  # odd prompts have no canary
        catalog.move_label(ref, "staging", VERSIONS, admin)
        start = time.perf_counter()
        catalog.releases.rollback(ref, "staging", admin, "bench")
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), label_gates={}, change_poll_interval=3600)
        admin_key = initialize(settings).admin_key
        runtime = Runtime.open(settings)
        runtime.ledger.start()
        try:
            admin = runtime.directory.identify(admin_key)[0].id
            _seed(runtime, admin)
            _resolve(runtime, 2_000)  # warm up
            resolved, rendered = _resolve(runtime, calls)
            rollbacks = _rollbacks(runtime, admin, 200)
        finally:
            runtime.close()
        http = _http(settings, admin_key, min(calls, 3_000))
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"resolve (snapshot, canary split):       {_percentiles(resolved)}")
    print(f"resolve + render (pinned include):      {_percentiles(rendered)}")
    print(f"GET /v1/prompts/{{name}} over loopback:  {_percentiles(http)}")
    print(f"rollback (transaction + ledger entry):  {_percentiles([s / 1000 for s in rollbacks], 'ms')}")


if __name__ == "__main__":
    main()
