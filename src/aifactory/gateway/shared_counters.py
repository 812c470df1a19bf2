"""Redis as the home of counters shared by replicas (budgets, rate limits): the client, and the one
place where its failures are classified.

A dead Redis must not hang requests: the client gives up after `timeout` seconds to connect or to
answer, and retries once (a pooled connection may have gone stale while Redis restarted). Any Redis
failure becomes `CounterUnavailableError` (503), naming the store, so calls that need the counters
are refused rather than let through uncounted (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aifactory.errors import CounterUnavailableError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["classified", "connect", "describe"]


def connect(url: str, *, timeout: float) -> Redis:
    """A Redis client for `url` that fails within `timeout` seconds (twice that with its one retry)."""
    import redis.asyncio as redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 1)
    )


def describe(client: Redis) -> str:
    """Where the client connects, as a URL without credentials (`redis://127.0.0.1:6379/0`)."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


@contextmanager
def classified(client: Redis) -> Iterator[None]:
    """Turn a Redis failure inside the block into `CounterUnavailableError`, naming the store."""
    from redis.exceptions import ConnectionError, RedisError, TimeoutError

    try:
        yield
    except (ConnectionError, TimeoutError) as exc:
        raise _unavailable(client, "is unreachable", exc) from exc
    except RedisError as exc:
        raise _unavailable(client, "failed", exc) from exc


def _unavailable(client: Redis, what: str, exc: Exception) -> CounterUnavailableError:
    where = describe(client)
    return CounterUnavailableError(
        f"the budget and rate-limit store at {where} {what} ({type(exc).__name__}: {exc}); calls under a "
        "budget or rate limit are refused until it is back",
        store=where,
    )
