"""How fast a kill switch flipped on one replica is in force on another (PostgreSQL, two processes).

Two `aifactory` server processes share one PostgreSQL schema. Each round flips a use-case switch to
`off` on replica A over HTTP, then asks replica B for a chat completion in that use case as fast as
it answers, until B refuses it (503); then clears the switch on A and waits until B lets the call
through again (404 here: the route does not exist, which is all B says once it is not stopped). The
time counted is from A's answer to the flip (committed) to B's first answer that shows it.

Run: `.venv/bin/python bench/kill_switch_propagation.py [rounds] [postgres-url]`. Goal: max < 1 s.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from _processes import free_port, wait_until
from sqlalchemy import create_engine, text

from aifactory.bootstrap import initialize
from aifactory.settings import Settings

POSTGRES_URL = os.environ.get(
    "AIFACTORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextlib.contextmanager
def schema(url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards; the URL that uses it."""
    name = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


@contextlib.contextmanager
def replica(data_dir: Path, database_url: str) -> Iterator[str]:
    """One server process (default `change_poll_interval`), stopped by its PID."""
    port = free_port()
    env = os.environ | {"AIFACTORY_DATA_DIR": str(data_dir), "AIFACTORY_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "uvicorn", "aifactory.server.app:create_app", "--factory"]
    proc = subprocess.Popen([*command, "--port", str(port), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, "replica", 60, lambda: proc.poll() is None)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def observe(b: httpx.Client, status: int, deadline: float = 10) -> float:
    """Seconds until replica B answers the probe call with `status`."""
    probe = {"model": "no-such-route", "messages": [{"role": "user", "content": "hi"}]}
    start = time.perf_counter()
    while (answer := b.post("/v1/chat/completions", json=probe)).status_code != status:
        if time.perf_counter() - start > deadline:
            raise RuntimeError(
                f"replica B never answered {status} (last: {answer.status_code} {answer.text[:200]})"
            )
    return time.perf_counter() - start


def rounds(a: httpx.Client, b: httpx.Client, count: int) -> list[float]:
    """Propagation delays of `count` flips (off and clear alternate: 2 * count samples)."""
    samples = []
    flip = {"scope": "use_case", "value": "bench", "level": "off", "reason": "benchmark"}
    for _ in range(count):
        a.post("/v1/kill-switches", json=flip).raise_for_status()
        samples.append(observe(b, 503))
        a.delete("/v1/kill-switches/use_case:bench", params={"reason": "benchmark"}).raise_for_status()
        samples.append(observe(b, 404))
    return samples


def report(samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    machine = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs"
    print(f"{machine}, Python {platform.python_version()}")
    print(f"flips observed on the other replica: {len(ms)}")
    print(f"p50 {statistics.median(ms):.1f} ms  p95 {p95:.1f} ms  max {ms[-1]:.1f} ms  min {ms[0]:.1f} ms")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    url = sys.argv[2] if len(sys.argv) > 2 else POSTGRES_URL
    with tempfile.TemporaryDirectory() as tmp, schema(url) as database_url:
        settings = Settings(data_dir=Path(tmp), database_url=database_url)
        key = initialize(settings).admin_key
        headers = {"Authorization": f"Bearer {key}", "X-Aifactory-Use-Case": "bench"}
        with (
            replica(Path(tmp), database_url) as url_a,
            replica(Path(tmp), database_url) as url_b,
            httpx.Client(base_url=url_a, headers=headers) as a,
            httpx.Client(base_url=url_b, headers=headers) as b,
        ):
            observe(b, 404, deadline=60)  # B has started and knows the key
            report(rounds(a, b, count))


if __name__ == "__main__":
    main()
