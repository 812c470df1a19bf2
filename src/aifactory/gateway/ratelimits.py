"""Requests and tokens per minute per API key, team and deployment, checked all at once.

Each limit is a GCRA (generic cell rate algorithm): a leaky bucket holding one minute's allowance.
An idle subject may burst its whole per-minute limit at once; after that it earns one request (or
token) back every 60/limit seconds. Unlike a fixed window there is no double burst at a window's
edge; unlike a sliding log it keeps one number per limit, the theoretical arrival time (TAT, in
microseconds). A call is admitted only if every limit admits it, and then charged to all of them.

Tokens per minute are charged with an estimate before the call (prompt plus output limit) and
corrected by `adjust` once the actual count is known, refunds included. A refused call gets
`RateLimitExceededError` with `retry_after`: the seconds until the binding limit has room.

Two stores: `InProcessRateStore` (one server process) and `RedisRateStore` (one Lua script per
call, Redis server time, so replicas agree; `CounterUnavailableError` when Redis does not answer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from aifactory.errors import RateLimitExceededError
from aifactory.gateway.shared_counters import classified

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "PERIOD_US",
    "Cell",
    "InProcessRateStore",
    "Permit",
    "RateLimit",
    "RateLimiter",
    "RateStore",
    "RedisRateStore",
]

PERIOD_US = 60_000_000
"""A minute in microseconds: the window every limit is expressed over."""


@dataclass(frozen=True)
class RateLimit:
    """Per-minute limits for one subject, e.g. `key:key_ab12`, `team:team_x`, `deployment:gpt-4o-eu`."""

    subject: str
    rpm: int | None = None
    tpm: int | None = None

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} of {self.subject} must be at least 1")


@dataclass(frozen=True)
class Cell:
    """One GCRA: a subject's requests or tokens, and its per-minute limit."""

    subject: str
    metric: str
    limit: int

    @property
    def key(self) -> str:
        """Where the cell's state lives: `<subject>:<metric>:<limit>`. A changed limit starts afresh
        rather than inheriting a debt run up at the old rate (lifting a limit takes effect at once)."""
        return f"{self.subject}:{self.metric}:{self.limit}"

    def cost(self, units: int) -> int:
        """Microseconds of allowance that `units` requests or tokens use (rounded up)."""
        return -(-units * PERIOD_US // self.limit)


@dataclass(eq=False)
class Permit:
    """An admitted call: what was charged for tokens, so `adjust` can correct it."""

    tokens: int
    cells: tuple[Cell, ...]
    adjusted: bool = False


class RateStore(Protocol):
    """GCRA state per cell; `acquire` is atomic across cells."""

    async def acquire(self, charges: Sequence[tuple[Cell, int]]) -> tuple[int, int] | None:
        """Charge every cell its cost (µs) if all have room: None; else (position, µs to wait)."""
        ...

    async def adjust(self, charges: Sequence[tuple[Cell, int]]) -> None:
        """Add a signed correction (µs) to each cell's TAT."""
        ...


class RateLimiter:
    """Admits calls under every applicable RPM and TPM limit, or refuses them with `retry_after`."""

    def __init__(self, store: RateStore) -> None:
        self.store = store

    async def acquire(self, limits: Sequence[RateLimit], tokens_estimate: int) -> Permit:
        """Charge one request and `tokens_estimate` tokens against every limit, or raise."""
        charges: list[tuple[Cell, int]] = []
        token_cells: list[Cell] = []
        for limit in limits:
            if limit.rpm is not None:
                charges.append((Cell(limit.subject, "requests", limit.rpm), 1))
            if limit.tpm is not None:
                token_cells.append(cell := Cell(limit.subject, "tokens", limit.tpm))
                charges.append((cell, tokens_estimate))
        costs = [(cell, cell.cost(units)) for cell, units in charges]
        for cell, cost in costs:
            if cost > PERIOD_US:
                raise RateLimitExceededError(
                    f"{cell.subject}: this call needs about {tokens_estimate} {cell.metric}, more than its "
                    f"whole limit of {cell.limit} per minute; it can never be admitted",
                    retry_after=None,
                    subject=cell.subject,
                    limit=f"{cell.metric}_per_minute",
                )
        if costs:
            refused = await self.store.acquire(costs)
            if refused is not None:
                raise _refusal(costs[refused[0]][0], refused[1])
        return Permit(tokens_estimate, tuple(token_cells))

    async def adjust(self, permit: Permit, actual_tokens: int) -> None:
        """Correct the tokens charged to the actual count (once; later calls do nothing)."""
        if permit.adjusted or actual_tokens == permit.tokens or not permit.cells:
            permit.adjusted = True
            return
        permit.adjusted = True
        await self.store.adjust(
            [(cell, cell.cost(actual_tokens) - cell.cost(permit.tokens)) for cell in permit.cells]
        )


def _refusal(cell: Cell, wait_us: int) -> RateLimitExceededError:
    retry_after = -(-wait_us // 1000) / 1000  # seconds, rounded up to the millisecond
    return RateLimitExceededError(
        f"{cell.subject}: the limit of {cell.limit} {cell.metric} per minute is reached; "
        f"retry in {retry_after:.3f} s",
        retry_after=retry_after,
        subject=cell.subject,
        limit=f"{cell.metric}_per_minute",
    )


class InProcessRateStore:
    """GCRA state in this process's memory (one server process). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tats: dict[str, int] = {}
        self._swept = time.monotonic()

    async def acquire(self, charges: Sequence[tuple[Cell, int]]) -> tuple[int, int] | None:
        """Charge every cell, or none."""
        with self._lock:
            now = time.monotonic_ns() // 1000
            self._sweep(now)
            wait, which, tats = 0, -1, []
            for i, (cell, cost) in enumerate(charges):
                tat = max(self._tats.get(cell.key, now), now) + cost
                if tat - now - PERIOD_US > wait:
                    wait, which = tat - now - PERIOD_US, i
                tats.append(tat)
            if which >= 0:
                return which, wait
            for (cell, _), tat in zip(charges, tats, strict=True):
                self._tats[cell.key] = tat
            return None

    async def adjust(self, charges: Sequence[tuple[Cell, int]]) -> None:
        """Correct each cell's TAT."""
        with self._lock:
            now = time.monotonic_ns() // 1000
            for cell, delta in charges:
                key = cell.key
                base = self._tats.get(key, now)
                tat = (max(base, now) if delta > 0 else base) + delta
                if tat <= now:
                    self._tats.pop(key, None)
                else:
                    self._tats[key] = tat

    def _sweep(self, now: int) -> None:
        if now - self._swept < PERIOD_US or len(self._tats) < 1024:
            return
        self._swept = now
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]


# KEYS: one per cell. ARGV[i]: cell i's cost (µs); ARGV[#KEYS + 1]: the period (µs).
# Reads every TAT first and writes only if all admit: all or none.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[#KEYS + 1])
local tats, wait, which = {}, 0, 0
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  tat = tat + tonumber(ARGV[i])
  if tat - now - period > wait then wait, which = tat - now - period, i end
  tats[i] = tat
end
if which > 0 then return {which, wait} end
for i = 1, #KEYS do
  local expire = string.format('%.0f', math.ceil(tats[i] / 1000) + 1)
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PXAT', expire)
end
return {0, 0}
"""

# KEYS: one per cell. ARGV[i]: signed correction (µs).
_ADJUST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #KEYS do
  local delta = tonumber(ARGV[i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if delta > 0 and tat < now then tat = now end
  tat = tat + delta
  if tat <= now then
    redis.call('DEL', KEYS[i])
  else
    local expire = string.format('%.0f', math.ceil(tat / 1000) + 1)
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PXAT', expire)
  end
end
return 1
"""


class RedisRateStore:
    """GCRA state in Redis, shared by replicas: key `<prefix><subject>:<metric>:<limit>` holds the TAT in
    µs of Redis server time and expires once it is in the past. The default prefix carries a hash
    tag so a multi-cell script stays in one Redis Cluster slot. A Redis failure raises
    `CounterUnavailableError`."""

    def __init__(self, redis: Redis, *, prefix: str = "aifactory:{rates}:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._adjust = redis.register_script(_ADJUST)

    def _key(self, cell: Cell) -> str:
        return self.prefix + cell.key

    async def acquire(self, charges: Sequence[tuple[Cell, int]]) -> tuple[int, int] | None:
        """Charge every cell, or none (one script)."""
        args = [cost for _, cost in charges] + [PERIOD_US]
        with classified(self.redis):
            reply = cast(list[int], await self._acquire(keys=[self._key(c) for c, _ in charges], args=args))
        which, wait = int(reply[0]), int(reply[1])
        return None if which == 0 else (which - 1, wait)

    async def adjust(self, charges: Sequence[tuple[Cell, int]]) -> None:
        """Correct each cell's TAT (one script)."""
        with classified(self.redis):
            await self._adjust(keys=[self._key(c) for c, _ in charges], args=[delta for _, delta in charges])
