"""When the Redis that holds budget and rate-limit counters dies or stalls, calls that need it are refused
with a 503 that names it (fail closed), calls that do not go on, a call already made is still recorded,
and its spend reaches the budget once Redis is back. Against a private `redis-server`, killed and
stopped by its PID."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis

from aifactory.errors import CounterUnavailableError
from aifactory.gateway.budgets import Budget, BudgetCounter, RedisBudgetStore
from aifactory.gateway.ratelimits import RateLimit, RateLimiter, RedisRateStore
from aifactory.gateway.shared_counters import connect
from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import LiveServer, free_port, run_server
from gateway_helpers import app_key, deployment, publish, wait_for_route

ROUTE = "chat-counted"
TIMEOUT = 0.3


@dataclass
class PrivateRedis:
    """A `redis-server` of this test's own on loopback, without persistence."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        with redis.Redis(port=self.port, socket_connect_timeout=0.5) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.02)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stall(self) -> None:
        """Freeze the process: connections are accepted by the kernel, nothing is answered."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.resume()
            server.kill()


def budget(limit: str) -> Budget:
    return Budget.model_validate(
        {
            "id": f"bud_{uuid.uuid4().hex[:16]}",
            "scope": "key",
            "subject": "key_1",
            "limit_usd": Decimal(limit),
            "window": "day",
            "timezone": "UTC",
            "created_by": None,
            "created_at": datetime.now(UTC),
        }
    )


def nothing_spent(*_: Any) -> Decimal:
    return Decimal(0)


# --- the stores ------------------------------------------------------------------------------------


def test_a_dead_redis_is_a_counter_unavailable_error_naming_it(private_redis: PrivateRedis) -> None:
    limit = budget("1")

    async def scenario() -> None:
        client = connect(private_redis.url, timeout=TIMEOUT)
        counter = BudgetCounter(RedisBudgetStore(client), nothing_spent)
        limiter = RateLimiter(RedisRateStore(client))
        held = await counter.reserve([limit], Decimal("0.1"))
        await limiter.acquire([RateLimit("key:k1", rpm=10)], 0)
        private_redis.kill()
        for attempt in (
            counter.reserve([limit], Decimal("0.1")),
            counter.balance(limit),
            limiter.acquire([RateLimit("key:k1", rpm=10)], 0),
            counter.release(held),
        ):
            with pytest.raises(CounterUnavailableError) as caught:
                await attempt
            assert caught.value.extra["store"] == private_redis.url
            assert (
                f"the budget and rate-limit store at {private_redis.url} is unreachable"
                in caught.value.detail
            )
            assert "refused until it is back" in caught.value.detail
        await client.aclose()

    asyncio.run(scenario())


def test_a_settle_that_fails_is_recorded_once_redis_answers_again(private_redis: PrivateRedis) -> None:
    limit = budget("1")

    async def scenario() -> None:
        client = connect(private_redis.url, timeout=TIMEOUT)
        counter = BudgetCounter(RedisBudgetStore(client), nothing_spent)
        reservation = await counter.reserve([limit], Decimal("0.5"))
        private_redis.stall()
        try:
            with pytest.raises(CounterUnavailableError, match="unreachable"):
                await counter.settle(reservation, Decimal("0.2"))
            assert counter.unsettled == 1
            with pytest.raises(CounterUnavailableError):
                await counter.settle_unsettled()
            assert counter.unsettled == 1
        finally:
            private_redis.resume()
        await counter.settle_unsettled()
        assert counter.unsettled == 0
        balance = await counter.balance(limit)
        assert balance.reserved == 0
        # A stalled Redis may still run a script whose answer we gave up on: counted once or more,
        # never less, so the budget is never overspent.
        assert balance.spent >= Decimal("0.2")
        assert balance.spent in (Decimal("0.2"), Decimal("0.4"), Decimal("0.6"), Decimal("0.8"))
        await client.aclose()

    asyncio.run(scenario())


# --- end to end ------------------------------------------------------------------------------------


@pytest.fixture
def counted(
    settings: Settings, admin_key: str, private_redis: PrivateRedis
) -> Iterator[tuple[LiveServer, FakeProvider, dict[str, str]]]:
    """A server counting in the private Redis, a route to the fake, and three app keys: one under a
    budget, one under a rate limit of its own, one under neither."""
    update = {"redis_url": private_redis.url, "redis_timeout": TIMEOUT}
    with FakeProvider() as fake:
        server, thread, url = run_server(settings.model_copy(update=update))
        live = LiveServer(url, admin_key, settings)
        try:
            publish(live, "deployment", "fake-counted", deployment(fake.url))
            publish(live, "route", ROUTE, {"candidates": [{"deployment": "fake-counted"}]})
            keys = {name: app_key(live, f"{name}-app") for name in ("budgeted", "limited", "free")}
            admin = live.client()
            ids = {k["name"]: k["id"] for k in admin.get("/v1/keys").json()}
            created = admin.post(
                "/v1/budgets",
                json={"scope": "key", "subject": ids["budgeted-app"], "limit_usd": "10", "window": "day"},
            )
            assert created.status_code == 201, created.text
            keys["budget_id"] = created.json()["id"]
            admin.patch(f"/v1/keys/{ids['limited-app']}", json={"rpm_limit": 1000}).raise_for_status()
            wait_for_route(live, keys["free"], ROUTE)
            yield live, fake, keys
        finally:
            live.close()
            server.should_exit = True
            thread.join(timeout=30)


def chat(live: LiveServer, key: str, *, stream: bool = False) -> httpx.Response:
    body = {
        "model": ROUTE,
        "max_tokens": 5,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    return live.client(key).post("/v1/chat/completions", json=body)


def test_calls_that_need_a_dead_redis_get_503_and_the_others_go_on(
    counted: tuple[LiveServer, FakeProvider, dict[str, str]], private_redis: PrivateRedis
) -> None:
    live, _fake, keys = counted
    for name in ("budgeted", "limited", "free"):
        assert chat(live, keys[name]).status_code == 200
    private_redis.kill()
    for name in ("budgeted", "limited"):
        for stream in (False, True):
            refused = chat(live, keys[name], stream=stream)
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["code"] == "counter_unavailable"
            assert error["type"] == "api_error"
            assert (
                f"the budget and rate-limit store at {private_redis.url} is unreachable" in error["message"]
            )
            run_id = refused.headers["x-aifactory-run-id"]
            assert error["run_id"] == run_id
            run = live.client().get(f"/v1/runs/{run_id}").json()
            assert (run["status"], run["error_type"]) == ("refused", "CounterUnavailableError")
    assert chat(live, keys["free"]).status_code == 200  # no budget, no limit: no counter needed

    balance = live.client().get(f"/v1/budgets/{keys['budget_id']}")
    assert balance.status_code == 503
    assert balance.headers["content-type"] == "application/problem+json"
    assert balance.json()["title"] == "Counters unavailable"
    assert balance.json()["store"] == private_redis.url

    private_redis.start()  # back, empty: the budget's counter is rebuilt from the run records
    for name in ("budgeted", "limited", "free"):
        assert chat(live, keys[name]).status_code == 200
    current = live.client().get(f"/v1/budgets/{keys['budget_id']}").json()["current"]
    assert Decimal(current["spent_usd"]) > 0
    assert Decimal(current["reserved_usd"]) == 0


def test_a_call_made_before_redis_stalled_is_recorded_and_its_spend_counted_later(
    counted: tuple[LiveServer, FakeProvider, dict[str, str]], private_redis: PrivateRedis
) -> None:
    live, fake, keys = counted
    fake.plan("fake-chat", ["slow:2"])
    seen = len(fake.calls)
    answer: list[httpx.Response] = []
    call = threading.Thread(target=lambda: answer.append(chat(live, keys["budgeted"])))
    call.start()
    deadline = time.monotonic() + 10
    while len(fake.calls) == seen:  # admitted (reserved in Redis) and sent upstream
        assert time.monotonic() < deadline, "the call never reached the upstream"
        time.sleep(0.01)
    private_redis.stall()
    try:
        call.join(timeout=30)
        assert len(answer) == 1
        assert answer[0].status_code == 200, answer[0].text
        run_id = answer[0].headers["x-aifactory-run-id"]
        run = live.client().get(f"/v1/runs/{run_id}").json()
        assert run["status"] == "ok"
        assert Decimal(run["cost_usd"]) > 0
        metrics = live.client().get("/metrics").text
        assert 'aifactory_gateway_counter_failures_total{operation="settle"} 1.0' in metrics
    finally:
        private_redis.resume()
    # The background retry settles it: the reservation is gone and the spend is in the budget.
    deadline = time.monotonic() + 20
    while True:
        current: dict[str, Any] = live.client().get(f"/v1/budgets/{keys['budget_id']}").json()["current"]
        if Decimal(current["reserved_usd"]) == 0 and Decimal(current["spent_usd"]) >= Decimal(
            run["cost_usd"]
        ):
            break
        assert time.monotonic() < deadline, current
        time.sleep(0.1)
