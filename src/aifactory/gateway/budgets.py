"""Hard budgets per API key, team or use case over calendar windows, enforced by reservation.

Before a call, its worst-case cost is reserved against every budget that applies (key, team and use
case at once: all or none), and the call is refused with `BudgetExceededError` (429) if any budget
would go over. After the call the reservation is settled to the actual cost, or released if the call
failed. A reservation neither settled nor released within its TTL lapses by itself, so a crashed
worker cannot block a budget; the TTL must outlast the whole-request deadline.

Counters live in a `BudgetStore`: `InProcessBudgetStore` for one server process,
`RedisBudgetStore` when replicas share budgets. Amounts are integer nano-dollars,
rounded up, so counters are exact and never below the true spend; limits are rounded down. A
window's counter starts from the spend recorded in `runs` (seeded on first use of the window, so
spend survives restarts).

Unknown prices: a call whose price is unknown cannot be counted, so a call under any budget is
refused when its price is unknown, whatever the unknown-price policy says (fail closed).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Connection

from aifactory.errors import BudgetExceededError, ConflictError, InvalidInputError, NotFoundError
from aifactory.gateway.windows import WINDOW_KINDS, Window, WindowKind, window_at, zone
from aifactory.ids import new_id
from aifactory.ledger import Event, Ledger
from aifactory.records import InputModel
from aifactory.store import budget_rows, identity_rows
from aifactory.store.changes import bump
from aifactory.store.db import Database

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "MAX_LIMIT_USD",
    "SCOPES",
    "TOPIC",
    "Balance",
    "Budget",
    "BudgetBook",
    "BudgetCounter",
    "BudgetIn",
    "BudgetStore",
    "Hold",
    "InProcessBudgetStore",
    "RedisBudgetStore",
    "Reservation",
    "RunSpend",
    "Slot",
    "SpendSource",
    "StoreOutcome",
    "from_nanos",
    "to_nanos",
]

log = logging.getLogger(__name__)

TOPIC = "budgets"
Scope = Literal["key", "team", "use_case"]
SCOPES: tuple[str, ...] = ("key", "team", "use_case")
MAX_LIMIT_USD = Decimal(9_000_000)
"""Redis scripts compute in doubles: nano-dollar counts stay exact below 2**53 (about $9.007M)."""

_NANO = Decimal("1e-9")


def to_nanos(amount: Decimal, *, rounding: str = ROUND_CEILING) -> int:
    """Dollars as integer nano-dollars, rounded up unless told otherwise."""
    return int(amount.quantize(_NANO, rounding=rounding).scaleb(9))


def from_nanos(nanos: int) -> Decimal:
    """Integer nano-dollars as dollars, without trailing zeros (`1.5`, not `1.500000000`)."""
    return _plain(Decimal(nanos).scaleb(-9))


def _plain(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount.normalize()


# --- budgets ---------------------------------------------------------------------------------------


class BudgetIn(InputModel):
    """A new budget: at most `limit_usd` per `window` (day, week, month) in `timezone`."""

    scope: str
    subject: str
    limit_usd: Decimal
    window: str
    timezone: str = "UTC"


class Budget(BaseModel):
    """A hard spending limit for one API key, team or use case over a calendar window."""

    model_config = ConfigDict(frozen=True)

    id: str
    scope: Scope
    subject: str
    limit_usd: Decimal
    window: WindowKind
    timezone: str
    created_by: str | None
    created_at: datetime
    disabled_at: datetime | None = None

    @field_validator("limit_usd")
    @classmethod
    def _no_trailing_zeros(cls, value: Decimal) -> Decimal:
        return _plain(value)  # SQLite hands back 10 decimal places: `5.0000000000`

    def window_at(self, at: datetime) -> Window:
        """The window of this budget that contains `at`."""
        return window_at(self.window, self.timezone, at)


def _field_error(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{field}: {message}", field=field)


def _validate(spec: BudgetIn) -> None:
    if spec.scope not in SCOPES:
        raise _field_error("scope", f"{spec.scope!r} is not one of {', '.join(SCOPES)}")
    if spec.window not in WINDOW_KINDS:
        raise _field_error("window", f"{spec.window!r} is not one of {', '.join(WINDOW_KINDS)}")
    zone(spec.timezone)
    if not 1 <= len(spec.subject) <= 200:
        raise _field_error("subject", "must be 1 to 200 characters")
    limit = spec.limit_usd
    if not limit.is_finite() or limit <= 0:
        raise _field_error("limit_usd", f"must be a positive amount of dollars, not {limit}")
    if limit > MAX_LIMIT_USD:
        raise _field_error("limit_usd", f"must be at most {MAX_LIMIT_USD} per window")
    if limit != limit.quantize(Decimal("1e-9"), rounding=ROUND_FLOOR):
        raise _field_error("limit_usd", "has more than 9 decimal places")


class BudgetBook:
    """Creates, lists and disables budgets (each change in the ledger) and keeps the enabled ones
    in memory, so finding the budgets of a call reads no database."""

    def __init__(self, db: Database, ledger: Ledger) -> None:
        self.db = db
        self.ledger = ledger
        self._by_subject: dict[tuple[str, str], tuple[Budget, ...]] = {}
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        """Reload the enabled budgets into memory (on this process's changes and the change feed's)."""
        grouped: dict[tuple[str, str], list[Budget]] = {}
        for budget in self.budgets():
            grouped.setdefault((budget.scope, budget.subject), []).append(budget)
        with self._lock:
            self._by_subject = {key: tuple(found) for key, found in grouped.items()}

    def applicable(self, *, key_id: str | None, team_id: str | None, use_case: str | None) -> list[Budget]:
        """The enabled budgets that a call by this key, team and use case counts against."""
        wanted = (("key", key_id), ("team", team_id), ("use_case", use_case))
        by_subject = self._by_subject
        return [b for scope, subject in wanted if subject for b in by_subject.get((scope, subject), ())]

    def create(self, spec: BudgetIn, actor: str | None) -> Budget:
        """Add a budget; InvalidInputError names the bad field, ConflictError a duplicate."""
        _validate(spec)
        with self.db.write(
            conflict=f"a {spec.window} budget for {spec.scope} {spec.subject!r} already exists "
            "(a disabled one counts too)"
        ) as conn:
            budget = Budget(
                id=new_id("bud"),
                scope=cast(Scope, spec.scope),
                subject=_subject_id(conn, spec.scope, spec.subject),
                limit_usd=spec.limit_usd,
                window=cast(WindowKind, spec.window),
                timezone=spec.timezone,
                created_by=actor,
                created_at=datetime.now(UTC),
            )
            budget_rows.insert_budget(conn, budget.model_dump())
            data = budget.model_dump(include={"scope", "subject", "window", "timezone"})
            self.ledger.enqueue(
                conn,
                Event(
                    "budget.created", f"budget:{budget.id}", actor, data | {"limit_usd": str(spec.limit_usd)}
                ),
            )
            bump(conn, TOPIC)
        self.reload()
        return budget

    def get(self, budget_id: str) -> Budget:
        """A budget by id."""
        with self.db.read() as conn:
            row = budget_rows.budget(conn, budget_id)
        if row is None:
            raise NotFoundError(f"no budget {budget_id!r}")
        return Budget(**row)

    def budgets(self, *, include_disabled: bool = False) -> list[Budget]:
        """Budgets by scope, subject and window."""
        with self.db.read() as conn:
            return [Budget(**r) for r in budget_rows.budgets_list(conn, include_disabled=include_disabled)]

    def disable(self, budget_id: str, actor: str | None) -> Budget:
        """Stop enforcing a budget (every replica within the change poll interval)."""
        budget = self.get(budget_id)
        with self.db.write() as conn:
            if not budget_rows.disable_budget(conn, budget.id, datetime.now(UTC)):
                raise ConflictError(f"budget {budget.id} is already disabled")
            self.ledger.enqueue(conn, Event("budget.disabled", f"budget:{budget.id}", actor, {}))
            bump(conn, TOPIC)
        self.reload()
        return self.get(budget.id)


def _subject_id(conn: Connection, scope: str, ref: str) -> str:
    """Keys and teams may be named by prefix or name; budgets store their ids, as runs do."""
    if scope == "key":
        row = identity_rows.key(conn, ref)
    elif scope == "team":
        row = identity_rows.team(conn, ref)
    else:
        return ref
    if row is None:
        raise _field_error("subject", f"no {scope} {ref!r}")
    return str(row["id"])


# --- spend already recorded ------------------------------------------------------------------------


class SpendSource(Protocol):
    """Where a window's counter starts: the spend already recorded for the budget's subject."""

    def __call__(self, budget: Budget, window: Window, /) -> Decimal: ...


class RunSpend:
    """The recorded cost of the subject's runs in the window (a database read, off the event loop)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, budget: Budget, window: Window) -> Decimal:
        """Sum of `runs.cost_usd` for the budget's subject within the window."""
        with self.db.read() as conn:
            return budget_rows.spent(conn, budget.scope, budget.subject, window.start, window.end)


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
    Cluster every key of a multi-budget script lands in one slot.
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
        reply = await self._reserve(keys=self._keys(slots), args=args)
        return _outcome(reply)

    async def settle(self, slots: Sequence[Slot], reservation: str, nanos: int, actual: int) -> StoreOutcome:
        """Turn the reservation into spend (one script)."""
        args: list[str | int] = [f"{reservation}:{nanos}", -nanos, actual]
        args += [int(slot.expires_at) for slot in slots]
        return _outcome(await self._settle(keys=self._keys(slots), args=args))

    async def release(self, slots: Sequence[Slot], reservation: str, nanos: int) -> None:
        """Drop the reservation (one script)."""
        await self._release(keys=self._keys(slots), args=[f"{reservation}:{nanos}", -nanos])

    async def seed(self, slot: Slot, spent: int) -> None:
        """Start a counter unless one exists (HSETNX)."""
        await self._seed(keys=[self.prefix + slot.name], args=[spent, int(slot.expires_at)])

    async def balance(self, slot: Slot) -> tuple[int, int] | None:
        """(spent, reserved) of a slot."""
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


# --- enforcement -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """A reservation's part in one budget: the budget and the window it was reserved in."""

    budget: Budget
    window: Window


@dataclass(eq=False)
class Reservation:
    """Money held for one call against every budget that applies, until settled or released."""

    id: str
    amount: Decimal
    nanos: int
    holds: tuple[Hold, ...]
    slots: tuple[Slot, ...]
    closed: bool = False


@dataclass(frozen=True)
class Balance:
    """A budget's standing in one window."""

    budget: Budget
    window: Window
    spent: Decimal
    reserved: Decimal

    @property
    def remaining(self) -> Decimal:
        """What is left to reserve (negative only if settled calls cost more than they reserved)."""
        return self.budget.limit_usd - self.spent - self.reserved


class BudgetCounter:
    """Reserves worst-case costs against budgets before calls and settles them after."""

    def __init__(self, store: BudgetStore, spend: SpendSource, *, ttl: float = 900.0) -> None:
        self.store = store
        self.spend = spend
        self.ttl = ttl
        self._current: dict[Budget, tuple[Hold, Slot]] = {}

    async def reserve(
        self,
        budgets: Sequence[Budget],
        amount: Decimal | None,
        *,
        at: datetime | None = None,
        ttl: float | None = None,
    ) -> Reservation:
        """Hold `amount` (the call's worst case; None: unknown price) against every budget, or raise
        `BudgetExceededError` naming the budget that has no room, and hold nothing."""
        when = at or datetime.now(UTC)
        placed = [self._place(b, when) for b in {b.id: b for b in budgets}.values()]
        holds = tuple(hold for hold, _ in placed)
        if amount is None and holds:
            raise _unpriced(holds)
        amount = amount or Decimal(0)
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        # No limit exceeds MAX_LIMIT_USD, so a larger amount can be capped and is still refused.
        nanos = to_nanos(min(amount, 2 * MAX_LIMIT_USD))
        reservation = Reservation(new_id("rsv"), amount, nanos, holds, tuple(slot for _, slot in placed))
        if not holds:
            return reservation
        outcome = await self._seeded(
            reservation,
            lambda: self.store.reserve(reservation.slots, reservation.id, reservation.nanos, ttl or self.ttl),
        )
        if outcome.short:
            raise _refusal(holds, outcome.short, amount)
        return reservation

    async def settle(self, reservation: Reservation, actual: Decimal | None) -> None:
        """Turn the reservation into the call's actual cost (None: charge the whole reservation)."""
        if reservation.closed or not reservation.holds:
            reservation.closed = True
            return
        reservation.closed = True
        if actual is None:
            log.warning("reservation %s settled without a cost: charging its full amount", reservation.id)
            actual = reservation.amount
        elif actual > reservation.amount:
            log.warning(
                "reservation %s: actual cost %s exceeds the worst case %s it reserved; recorded anyway",
                reservation.id,
                actual,
                reservation.amount,
            )
        nanos = to_nanos(actual)
        outcome = await self._seeded(
            reservation,
            lambda: self.store.settle(reservation.slots, reservation.id, reservation.nanos, nanos),
        )
        if outcome.held < len(reservation.slots):
            log.warning("reservation %s had lapsed before it was settled; spend recorded", reservation.id)

    async def release(self, reservation: Reservation) -> None:
        """Give the reservation back (the call failed, or was never made). A no-op once closed."""
        if reservation.closed:
            return
        reservation.closed = True
        if reservation.holds:
            await self.store.release(reservation.slots, reservation.id, reservation.nanos)

    async def balance(self, budget: Budget, *, at: datetime | None = None) -> Balance:
        """The budget's spend and reservations in the window containing `at` (default: now)."""
        hold, slot = self._place(budget, at or datetime.now(UTC))
        found = await self.store.balance(slot)
        if found is None:
            await self._seed(hold, slot)
            found = await self.store.balance(slot) or (0, 0)
        return Balance(budget, hold.window, from_nanos(found[0]), from_nanos(found[1]))

    def _place(self, budget: Budget, at: datetime) -> tuple[Hold, Slot]:
        """The budget's window at `at` and its slot; the current window is computed once."""
        cached = self._current.get(budget)
        if cached is not None and cached[0].window.contains(at):
            return cached
        hold = Hold(budget, budget.window_at(at))
        keep = self.ttl + 3600  # counters outlive their window by this, for late settles
        expires_at = max(hold.window.end.timestamp(), time.time()) + keep
        limit = to_nanos(budget.limit_usd, rounding=ROUND_FLOOR)
        placed = hold, Slot(f"{budget.id}:{hold.window.key}", limit, expires_at)
        if hold.window.contains(datetime.now(UTC)):
            if len(self._current) > 10_000:
                self._current.clear()
            self._current[budget] = placed
        return placed

    async def _seeded(
        self, reservation: Reservation, attempt: Callable[[], Awaitable[StoreOutcome]]
    ) -> StoreOutcome:
        """Run a store operation, first seeding any counter it finds missing from recorded runs."""
        for _ in range(3):
            outcome = await attempt()
            if not outcome.unseeded:
                return outcome
            await asyncio.gather(
                *(self._seed(reservation.holds[i], reservation.slots[i]) for i in outcome.unseeded)
            )
        raise RuntimeError("budget counters vanished while being seeded")  # pragma: no cover

    async def _seed(self, hold: Hold, slot: Slot) -> None:
        spent = await asyncio.to_thread(self.spend, hold.budget, hold.window)
        await self.store.seed(slot, to_nanos(spent))


def _describe(hold: Hold) -> str:
    b = hold.budget
    return f"budget {b.id} ({b.scope} {b.subject!r}, {b.window} {hold.window.key} in {b.timezone})"


def _refusal(
    holds: Sequence[Hold], short: Sequence[tuple[int, int, int]], amount: Decimal
) -> BudgetExceededError:
    index, spent, reserved = short[0]
    hold = holds[index]
    budget = hold.budget
    remaining = max(budget.limit_usd - from_nanos(spent) - from_nanos(reserved), Decimal(0))
    more = f" (and {len(short) - 1} more)" if len(short) > 1 else ""
    return BudgetExceededError(
        f"{_describe(hold)}{more} has no room for this call: limit ${budget.limit_usd:f}, remaining "
        f"${remaining:f}, this call may cost up to ${amount:f}; the window resets at "
        f"{hold.window.end.isoformat()}",
        budget_id=budget.id,
        scope=budget.scope,
        subject=budget.subject,
        window=budget.window,
        window_key=hold.window.key,
        limit_usd=f"{budget.limit_usd:f}",
        remaining_usd=f"{remaining:f}",
        requested_usd=f"{amount:f}",
        resets_at=hold.window.end.isoformat(),
        exceeded=[holds[i].budget.id for i, _, _ in short],
    )


def _unpriced(holds: Sequence[Hold]) -> BudgetExceededError:
    hold = holds[0]
    return BudgetExceededError(
        f"this call's price is unknown, so it cannot be counted against {_describe(hold)}: calls under "
        "a budget need a known price (set prices on the deployment or add a price override)",
        budget_id=hold.budget.id,
        scope=hold.budget.scope,
        subject=hold.budget.subject,
        reason="price_unknown",
    )
