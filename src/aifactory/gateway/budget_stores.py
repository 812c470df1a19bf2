"""Budget counters: where spend and reservations live, in this process or in Redis.

A store keeps, per budget and window (a `Slot`), the settled spend and the reservations held, in
integer nano-dollars, and answers all-or-nothing reservations over several slots at once. The Redis
store does so in Lua scripts, so several replicas share one budget without ever overspending it.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from aifactory.gateway.shared_counters import classified

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BudgetStore", "InProcessBudgetStore", "RedisBudgetStore", "Slot", "StoreOutcome"]

log = logging.getLogger(__name__)


# --- stores ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One budget's counter in one window, as a store sees it."""

    name: str
    limit: int
    expires_at: float
    """Unix time after which the store may forget the counter (a while after the window ends)."""


@dataclass(frozen=True)
class StoreOutcome:
    """What a store did: nothing for want of seeds, refused for want of room, or done."""

    unseeded: tuple[int, ...] = ()
    """Slots (by position) that have no counter yet: seed them and ask again."""
    short: tuple[tuple[int, int, int], ...] = ()
    """Slots without room for the amount: (position, spent, reserved)."""
    held: int = 0
    """On settle: how many slots still held the reservation (fewer: it had lapsed)."""


class BudgetStore(Protocol):
    """Counters of spend and reservations per slot, in nano-dollars; atomic across slots."""

    async def reserve(self, slots: Sequence[Slot], reservation: str, nanos: int, ttl: float) -> StoreOutcome:
        """Reserve `nanos` in every slot if each has room (`spent + reserved + nanos <= limit`), else none."""
        ...

    async def settle(self, slots: Sequence[Slot], reservation: str, nanos: int, actual: int) -> StoreOutcome:
        """Drop the reservation (if it has not lapsed) and add `actual` to the spend of every slot."""
        ...

    async def release(self, slots: Sequence[Slot], reservation: str, nanos: int) -> None:
        """Drop the reservation without spending."""
        ...

    async def seed(self, slot: Slot, spent: int) -> None:
        """Start a slot's counter at `spent`, unless it already has one."""
        ...

    async def balance(self, slot: Slot) -> tuple[int, int] | None:
        """(spent, reserved) of a slot, lapsed reservations dropped; None when it has no counter."""
        ...


class _Counter:
    __slots__ = ("deadlines", "expires_at", "holds", "reserved", "spent")

    def __init__(self, spent: int, expires_at: float) -> None:
        self.spent = spent
        self.reserved = 0
        self.holds: dict[str, int] = {}
        self.deadlines: list[tuple[float, str]] = []  # a heap: lapsing costs O(log n), not a scan
        self.expires_at = expires_at

    def hold(self, reservation: str, nanos: int, deadline: float) -> None:
        self.reserved += nanos
        self.holds[reservation] = nanos
        heapq.heappush(self.deadlines, (deadline, reservation))

    def drop(self, reservation: str) -> bool:
        nanos = self.holds.pop(reservation, None)
        if nanos is not None:
            self.reserved -= nanos
        return nanos is not None

    def purge(self, now: float) -> None:
        while self.deadlines and self.deadlines[0][0] <= now:
            self.drop(heapq.heappop(self.deadlines)[1])
        if len(self.deadlines) > 2 * len(self.holds) + 64:  # settled entries linger in the heap
            self.deadlines = [entry for entry in self.deadlines if entry[1] in self.holds]
            heapq.heapify(self.deadlines)


class InProcessBudgetStore:
    """Counters in this process's memory: for one server process. Thread-safe; never blocks long."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, _Counter] = {}
        self._swept = time.time()

    async def reserve(self, slots: Sequence[Slot], reservation: str, nanos: int, ttl: float) -> StoreOutcome:
        """Reserve in every slot, or in none."""
        with self._lock:
            now = time.monotonic()
            counters = [self._counters.get(slot.name) for slot in slots]
            unseeded = tuple(i for i, counter in enumerate(counters) if counter is None)
            if unseeded:
                return StoreOutcome(unseeded=unseeded)
            ready = [c for c in counters if c is not None]
            for counter in ready:
                counter.purge(now)
            short = tuple(
                (i, c.spent, c.reserved)
                for i, (slot, c) in enumerate(zip(slots, ready, strict=True))
                if nanos > slot.limit - c.spent - c.reserved
            )
            if short:
                return StoreOutcome(short=short)
            for counter in ready:
                counter.hold(reservation, nanos, now + ttl)
            return StoreOutcome()

    async def settle(self, slots: Sequence[Slot], reservation: str, nanos: int, actual: int) -> StoreOutcome:
        """Turn the reservation into spend."""
        with self._lock:
            unseeded = tuple(i for i, slot in enumerate(slots) if slot.name not in self._counters)
            if unseeded:
                return StoreOutcome(unseeded=unseeded)
            held = 0
            for slot in slots:
                counter = self._counters[slot.name]
                held += counter.drop(reservation)
                counter.spent += actual
            return StoreOutcome(held=held)

    async def release(self, slots: Sequence[Slot], reservation: str, nanos: int) -> None:
        """Drop the reservation."""
        with self._lock:
            for slot in slots:
                counter = self._counters.get(slot.name)
                if counter is not None:
                    counter.drop(reservation)

    async def seed(self, slot: Slot, spent: int) -> None:
        """Start a counter unless one exists; forget counters of windows long over."""
        with self._lock:
            self._counters.setdefault(slot.name, _Counter(spent, slot.expires_at))
            now = time.time()
            if now - self._swept > 60:
                self._swept = now
                old = [k for k, c in self._counters.items() if c.expires_at < now and not c.holds]
                for key in old:
                    del self._counters[key]

    async def balance(self, slot: Slot) -> tuple[int, int] | None:
        """(spent, reserved) of a slot."""
        with self._lock:
            counter = self._counters.get(slot.name)
            if counter is None:
                return None
            counter.purge(time.monotonic())
            return counter.spent, counter.reserved


_LUA_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Drop lapsed reservations (members are "id:amount", scored by deadline); return spent, reserved.
local function purge(counter, holds, now)
  local lapsed = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  if #lapsed > 0 then
    local total = 0
    for _, member in ipairs(lapsed) do
      total = total + tonumber(string.match(member, ':(%d+)$'))
    end
    redis.call('ZREMRANGEBYSCORE', holds, '-inf', now)
    if total > 0 and redis.call('EXISTS', counter) == 1 then
      redis.call('HINCRBY', counter, 'reserved', string.format('%.0f', -total))
    end
  end
  local values = redis.call('HMGET', counter, 'spent', 'reserved')
  return tonumber(values[1]) or 0, tonumber(values[2]) or 0
end
local function unseeded()
  local missing = {}
  for i = 1, #KEYS / 2 do
    if redis.call('HEXISTS', KEYS[2 * i - 1], 'spent') == 0 then table.insert(missing, i) end
  end
  return missing
end
"""

# KEYS[2i-1], KEYS[2i]: counter hash {spent, reserved} and holds zset of budget i.
# ARGV: reservation id, amount, ttl (ms), then per budget: limit, expire-at (unix s).
# Checks every budget before touching any, so it reserves in all or in none.
_RESERVE = (
    _LUA_PRELUDE
    + """
local missing = unseeded()
if #missing > 0 then return {-1, missing} end
local now = now_ms()
local amount = tonumber(ARGV[2])
local short = {}
for i = 1, #KEYS / 2 do
  local spent, reserved = purge(KEYS[2 * i - 1], KEYS[2 * i], now)
  if amount > tonumber(ARGV[2 + 2 * i]) - spent - reserved then
    table.insert(short, {i, spent, reserved})
  end
end
if #short > 0 then return {0, short} end
local deadline = string.format('%.0f', now + tonumber(ARGV[3]))
for i = 1, #KEYS / 2 do
  redis.call('HINCRBY', KEYS[2 * i - 1], 'reserved', ARGV[2])
  redis.call('ZADD', KEYS[2 * i], deadline, ARGV[1] .. ':' .. ARGV[2])
  redis.call('EXPIREAT', KEYS[2 * i - 1], ARGV[3 + 2 * i])
  redis.call('EXPIREAT', KEYS[2 * i], ARGV[3 + 2 * i])
end
return {1}
"""
)

# ARGV: member ("id:amount"), minus the amount, the actual cost, then per budget: expire-at.
_SETTLE = (
    _LUA_PRELUDE
    + """
local missing = unseeded()
if #missing > 0 then return {-1, missing} end
local held = 0
for i = 1, #KEYS / 2 do
  if redis.call('ZREM', KEYS[2 * i], ARGV[1]) == 1 then
    redis.call('HINCRBY', KEYS[2 * i - 1], 'reserved', ARGV[2])
    held = held + 1
  end
  redis.call('HINCRBY', KEYS[2 * i - 1], 'spent', ARGV[3])
  redis.call('EXPIREAT', KEYS[2 * i - 1], ARGV[3 + i])
end
return {1, held}
"""
)

# ARGV: member, minus the amount.
_RELEASE = """
for i = 1, #KEYS / 2 do
  if redis.call('ZREM', KEYS[2 * i], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[2 * i - 1]) == 1 then
    redis.call('HINCRBY', KEYS[2 * i - 1], 'reserved', ARGV[2])
  end
end
return 1
"""

# KEYS: counter; ARGV: spent, expire-at. Only a counter that does not exist yet is seeded.
_SEED = """
if redis.call('HSETNX', KEYS[1], 'spent', ARGV[1]) == 1 then
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
end
return 1
"""

_BALANCE = (
    _LUA_PRELUDE
    + """
if redis.call('HEXISTS', KEYS[1], 'spent') == 0 then return {-1} end
local spent, reserved = purge(KEYS[1], KEYS[2], now_ms())
return {1, spent, reserved}
"""
)


class RedisBudgetStore:
    """Counters in Redis, shared by every replica; each operation is one atomic Lua script.

    Keys: `<prefix><budget id>:<window key>` (hash: spent, reserved) and the same with `:holds`
    (sorted set of reservations by deadline, in Redis server time). They expire an hour plus the
    reservation TTL after their window ends. The default prefix carries a hash tag, so on a Redis
    Cluster every key of a multi-budget script lands in one slot. A Redis failure raises
    `CounterUnavailableError`.
    """

    def __init__(self, redis: Redis, *, prefix: str = "aifactory:{budgets}:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._release = redis.register_script(_RELEASE)
        self._seed = redis.register_script(_SEED)
        self._balance = redis.register_script(_BALANCE)

    def _keys(self, slots: Sequence[Slot]) -> list[str]:
        return [key for slot in slots for key in (self.prefix + slot.name, f"{self.prefix}{slot.name}:holds")]

    async def reserve(self, slots: Sequence[Slot], reservation: str, nanos: int, ttl: float) -> StoreOutcome:
        """Reserve in every slot, or in none (one script)."""
        args: list[str | int] = [reservation, nanos, int(ttl * 1000)]
        for slot in slots:
            args += [slot.limit, int(slot.expires_at)]
        with classified(self.redis):
            return _outcome(await self._reserve(keys=self._keys(slots), args=args))

    async def settle(self, slots: Sequence[Slot], reservation: str, nanos: int, actual: int) -> StoreOutcome:
        """Turn the reservation into spend (one script)."""
        args: list[str | int] = [f"{reservation}:{nanos}", -nanos, actual]
        args += [int(slot.expires_at) for slot in slots]
        with classified(self.redis):
            return _outcome(await self._settle(keys=self._keys(slots), args=args))

    async def release(self, slots: Sequence[Slot], reservation: str, nanos: int) -> None:
        """Drop the reservation (one script)."""
        with classified(self.redis):
            await self._release(keys=self._keys(slots), args=[f"{reservation}:{nanos}", -nanos])

    async def seed(self, slot: Slot, spent: int) -> None:
        """Start a counter unless one exists (HSETNX)."""
        with classified(self.redis):
            await self._seed(keys=[self.prefix + slot.name], args=[spent, int(slot.expires_at)])

    async def balance(self, slot: Slot) -> tuple[int, int] | None:
        """(spent, reserved) of a slot."""
        with classified(self.redis):
            reply = await self._balance(keys=self._keys([slot]))
        return None if int(reply[0]) < 0 else (int(reply[1]), int(reply[2]))


def _outcome(reply: list[object]) -> StoreOutcome:
    status = int(cast(int, reply[0]))
    if status < 0:
        return StoreOutcome(unseeded=tuple(int(i) - 1 for i in cast(list[int], reply[1])))
    if status == 0:
        short = cast(list[list[int]], reply[1])
        return StoreOutcome(short=tuple((int(i) - 1, int(spent), int(res)) for i, spent, res in short))
    return StoreOutcome(held=int(cast(int, reply[1])) if len(reply) > 1 else 0)
