"""Rate limits: RPM and TPM per key, team and deployment (GCRA), in process and on a real Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import redis
from redis.asyncio import Redis

from aifactory.errors import RateLimitExceededError
from aifactory.gateway.ratelimits import (
    InProcessRateStore,
    Permit,
    RateLimit,
    RateLimiter,
    RateStore,
    RedisRateStore,
)

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _redis_available() -> bool:
    try:
        with redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


_REDIS = _redis_available()
if not _REDIS and os.environ.get("CI"):
    raise RuntimeError(f"Redis is required in CI and is not reachable at {REDIS_HOST}:{REDIS_PORT}")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the real Redis; its keys are deleted afterwards."""
    if not _REDIS:
        pytest.skip(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}")
    prefix = f"test:{uuid.uuid4().hex}:{{rates}}:"
    yield prefix
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT) as client:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which rate store a test runs on."""
    return str(request.param)


@pytest.fixture
def prefix(store_kind: str, request: pytest.FixtureRequest) -> str:
    """The Redis prefix for redis-backed tests (unused in memory)."""
    return "" if store_kind == "memory" else str(request.getfixturevalue("redis_prefix"))


@asynccontextmanager
async def open_limiter(kind: str, prefix: str) -> AsyncIterator[RateLimiter]:
    """A rate limiter on this event loop."""
    if kind == "memory":
        yield RateLimiter(InProcessRateStore())
        return
    client = Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        store: RateStore = RedisRateStore(client, prefix=prefix)
        yield RateLimiter(store)
    finally:
        await client.aclose()


async def outcomes(
    limiter: RateLimiter, limits: list[RateLimit], tokens: int, count: int
) -> list[float | None]:
    """Try `count` calls in a row: None for admitted, else the retry_after of the refusal."""
    found: list[float | None] = []
    for _ in range(count):
        try:
            await limiter.acquire(limits, tokens)
            found.append(None)
        except RateLimitExceededError as refused:
            found.append(refused.extra["retry_after"])
    return found


def test_requests_per_minute_are_refused_with_a_retry_after(store_kind: str, prefix: str) -> None:
    async def scenario() -> None:
        async with open_limiter(store_kind, prefix) as limiter:
            result = await outcomes(limiter, [RateLimit("key:k1", rpm=5)], 0, 7)
            assert result[:5] == [None] * 5
            for retry_after in result[5:]:
                assert retry_after is not None
                assert 11.5 < retry_after <= 12.0  # one request back every 60/5 seconds
            with pytest.raises(RateLimitExceededError, match="key:k1: the limit of 5 requests per minute"):
                await limiter.acquire([RateLimit("key:k1", rpm=5)], 0)

    asyncio.run(scenario())


def test_tokens_per_minute_are_charged_up_front_and_corrected_after(store_kind: str, prefix: str) -> None:
    limits = [RateLimit("deployment:gpt-4o-eu", tpm=1000)]

    async def scenario() -> None:
        async with open_limiter(store_kind, prefix) as limiter:
            first = await limiter.acquire(limits, 400)
            await limiter.acquire(limits, 400)
            with pytest.raises(RateLimitExceededError) as caught:
                await limiter.acquire(limits, 400)
            assert 11.5 < caught.value.extra["retry_after"] <= 12.0  # 200 tokens short: 12 s
            assert caught.value.extra["limit"] == "tokens_per_minute"
            await limiter.adjust(first, 100)  # the call used far less than estimated
            third = await limiter.acquire(limits, 400)
            await limiter.adjust(third, 1000)  # and this one far more: the bucket is in debt
            with pytest.raises(RateLimitExceededError) as caught:
                await limiter.acquire(limits, 1)
            assert 29.5 < caught.value.extra["retry_after"] <= 30.06

    asyncio.run(scenario())


def test_a_call_is_admitted_by_every_limit_or_charged_to_none(store_kind: str, prefix: str) -> None:
    key, team = RateLimit("key:k1", rpm=100, tpm=100_000), RateLimit("team:t1", rpm=2)

    async def scenario() -> None:
        async with open_limiter(store_kind, prefix) as limiter:
            assert await outcomes(limiter, [key, team], 10, 2) == [None, None]
            with pytest.raises(RateLimitExceededError) as caught:
                await limiter.acquire([key, team], 10)
            assert caught.value.extra["subject"] == "team:t1"
            # The refused call took nothing from the key: it still has 98 requests this minute.
            result = await outcomes(limiter, [RateLimit("key:k1", rpm=100)], 0, 99)
            assert result[:98] == [None] * 98
            assert result[98] is not None

    asyncio.run(scenario())


def test_a_call_larger_than_the_whole_limit_is_refused_for_good(store_kind: str, prefix: str) -> None:
    async def scenario() -> None:
        async with open_limiter(store_kind, prefix) as limiter:
            with pytest.raises(RateLimitExceededError, match="can never be admitted") as caught:
                await limiter.acquire([RateLimit("key:k1", tpm=100)], 101)
            assert caught.value.extra["retry_after"] is None
            await limiter.acquire([RateLimit("key:k1", tpm=100)], 100)

    asyncio.run(scenario())


def test_allowance_comes_back_continuously(store_kind: str, prefix: str) -> None:
    limits = [RateLimit("key:k1", rpm=120)]  # one request every 0.5 s after a burst of 120

    async def scenario() -> None:
        async with open_limiter(store_kind, prefix) as limiter:
            result = await outcomes(limiter, limits, 0, 121)
            assert result[:120] == [None] * 120
            retry_after = result[120]
            assert retry_after is not None
            assert 0.3 < retry_after <= 0.5
            await asyncio.sleep(retry_after + 0.05)
            assert await outcomes(limiter, limits, 0, 2) == [None, pytest.approx(0.5, abs=0.1)]

    asyncio.run(scenario())


def test_concurrent_calls_never_exceed_the_limit(store_kind: str, prefix: str) -> None:
    async def scenario() -> None:
        async with open_limiter(store_kind, prefix) as limiter:

            async def call() -> bool:
                try:
                    await limiter.acquire([RateLimit("team:t1", rpm=30)], 0)
                    return True
                except RateLimitExceededError:
                    return False

            admitted = await asyncio.gather(*(call() for _ in range(100)))
            assert sum(admitted) == 30

    asyncio.run(scenario())


def test_redis_and_in_process_agree(redis_prefix: str) -> None:
    limits = [RateLimit("key:k1", rpm=8, tpm=5000), RateLimit("team:t1", rpm=20, tpm=3000)]

    async def script(limiter: RateLimiter) -> list[float | None]:
        found: list[float | None] = []
        permits: list[Permit] = []
        for tokens in (500, 800, 300, 1200, 100, 50, 900, 10, 10, 10, 10):
            try:
                permits.append(await limiter.acquire(limits, tokens))
                found.append(None)
            except RateLimitExceededError as refused:
                found.append(refused.extra["retry_after"])
            if len(permits) == 2:
                await limiter.adjust(permits[0], 50)
        return found

    async def scenario() -> tuple[list[float | None], list[float | None]]:
        async with open_limiter("memory", "") as memory, open_limiter("redis", redis_prefix) as shared:
            return await script(memory), await script(shared)

    local, remote = asyncio.run(scenario())
    assert [r is None for r in local] == [r is None for r in remote]
    assert any(r is not None for r in local)
    for mine, theirs in zip(local, remote, strict=True):
        if mine is not None and theirs is not None:
            assert abs(mine - theirs) < 0.1


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rpm of key:k1"):
        RateLimit("key:k1", rpm=0)


def test_a_changed_limit_starts_afresh(store_kind: str, prefix: str) -> None:
    async def scenario() -> None:
        async with open_limiter(store_kind, prefix) as limiter:
            tight = await outcomes(limiter, [RateLimit("key:k1", rpm=2)], 0, 3)
            assert [r is None for r in tight] == [True, True, False]
            # An admin lifts the limit: no debt run up at the old rate is carried over.
            assert await outcomes(limiter, [RateLimit("key:k1", rpm=100)], 0, 1) == [None]

    asyncio.run(scenario())
