"""How soon an SDK client serves a prompt version after its label moved.

Each round moves `staging` of one prompt to the other of two versions over HTTP, then asks the
SDK's `client.prompts.get(...)` every 5 ms until it returns the new version. The time counted is
from the mover's answer (the move is committed) to the first `get` that shows it. Three setups:

- `watch`: one server (SQLite), the client follows label events (`client.prompts.watch()`);
- `etag`: the same server, no watch: the cache revalidates with `If-None-Match` after 1 s;
- `replicas` (with PostgreSQL): the move goes to replica A, the client watches replica B.

Run: `.venv/bin/python bench/prompt_convergence.py [rounds] [postgres-url]`. Goal: p95 < 5 s.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from kill_switch_propagation import POSTGRES_URL, replica, schema

from aifactory.bootstrap import initialize
from aifactory.client import Client
from aifactory.settings import Settings

NAME = "convergence"


def _seed(url: str, key: str) -> None:
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    for n in (1, 2):
        spec = {"messages": [{"role": "user", "content": f"version {n}"}]}
        admin.post("/v1/prompts", json={"name": NAME, "spec": spec}).raise_for_status()
    admin.put(f"/v1/assets/prompt:{NAME}/labels/staging", json={"version": 1}).raise_for_status()


def _rounds(mover: str, reader: str, key: str, rounds: int, *, watch: bool) -> list[float]:
    admin = httpx.Client(base_url=mover, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    samples = []
    with Client(reader, key) as client:
        if watch:
            client.prompts.watch([NAME])
        current = client.prompts.get(NAME, label="staging").version
        for _ in range(rounds):
            target = 2 if current == 1 else 1
            admin.put(f"/v1/assets/prompt:{NAME}/labels/staging", json={"version": target}).raise_for_status()
            moved = time.perf_counter()
            while client.prompts.get(NAME, label="staging").version != target:
                time.sleep(0.005)
            samples.append(time.perf_counter() - moved)
            current = target
            time.sleep(0.05)
    return samples


def _report(what: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100)
    print(
        f"{what:9} p50 {q[49] * 1000:7.1f} ms  p95 {q[94] * 1000:7.1f} ms  "
        f"max {ordered[-1] * 1000:7.1f} ms  (n={len(ordered)})"
    )


def _initialised(data_dir: Path, database_url: str | None = None) -> tuple[Settings, str]:
    settings = Settings(data_dir=data_dir, database_url=database_url)
    key = initialize(settings).admin_key
    assert key is not None
    return settings, key


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    postgres = sys.argv[2] if len(sys.argv) > 2 else POSTGRES_URL
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        settings, key = _initialised(Path(tmp) / "single")
        with replica(settings.data_dir, settings.resolved_database_url) as url:
            _seed(url, key)
            _report("watch", _rounds(url, url, key, rounds, watch=True))
            _report("etag", _rounds(url, url, key, rounds // 2, watch=False))
        with schema(postgres) as database_url:
            settings, key = _initialised(Path(tmp) / "pg", database_url)
            with replica(settings.data_dir, database_url) as a, replica(settings.data_dir, database_url) as b:
                _seed(a, key)
                _report("replicas", _rounds(a, b, key, rounds, watch=True))


if __name__ == "__main__":
    main()
