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

A store that does not answer raises `CounterUnavailableError`: a reservation is then refused (fail
closed), and a settle is kept to be retried with `settle_unsettled` once the store is back.

A subject has at most one enabled budget per kind of window (a partial unique index); a disabled
budget stays on record and may be replaced.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol, cast

from sqlalchemy import Connection

from aifactory.errors import (
    BudgetExceededError,
    ConflictError,
    CounterUnavailableError,
    InvalidInputError,
    NotFoundError,
)
from aifactory.gateway.budget_records import (
    MAX_LIMIT_USD,
    SCOPES,
    Budget,
    BudgetIn,
    BudgetStatus,
    Scope,
    WindowSpend,
    plain,
)
from aifactory.gateway.budget_stores import (
    BudgetStore,
    InProcessBudgetStore,
    RedisBudgetStore,
    Slot,
    StoreOutcome,
)
from aifactory.gateway.windows import WINDOW_KINDS, Window, WindowKind, zone
from aifactory.ids import new_id
from aifactory.ledger import Event, Ledger
from aifactory.store import budget_rows, identity_rows
from aifactory.store.changes import bump
from aifactory.store.db import Database

__all__ = [
    "MAX_LIMIT_USD",
    "SCOPES",
    "TOPIC",
    "Balance",
    "Budget",
    "BudgetBook",
    "BudgetCounter",
    "BudgetIn",
    "BudgetStatus",
    "BudgetStore",
    "Hold",
    "InProcessBudgetStore",
    "RedisBudgetStore",
    "Reservation",
    "RunSpend",
    "Slot",
    "SpendSource",
    "StoreOutcome",
    "WindowSpend",
    "from_nanos",
    "to_nanos",
]

log = logging.getLogger(__name__)

TOPIC = "budgets"

_NANO = Decimal("1e-9")
_MAX_UNSETTLED = 100_000
"""Settles kept for a retry while the store is unavailable; beyond this the spend is only in `runs`."""


def to_nanos(amount: Decimal, *, rounding: str = ROUND_CEILING) -> int:
    """Dollars as integer nano-dollars, rounded up unless told otherwise."""
    return int(amount.quantize(_NANO, rounding=rounding).scaleb(9))


def from_nanos(nanos: int) -> Decimal:
    """Integer nano-dollars as dollars, without trailing zeros (`1.5`, not `1.500000000`)."""
    return plain(Decimal(nanos).scaleb(-9))


# --- budgets ---------------------------------------------------------------------------------------


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
        """Add a budget; InvalidInputError names the bad field, ConflictError the enabled budget that
        already covers the same subject and window (a disabled one does not count)."""
        _validate(spec)
        try:
            return self._insert(spec, actor)
        except ConflictError as conflict:
            if conflict.extra.get("budget_id"):
                raise
            with self.db.read() as conn:  # lost a race with another create: name the winner
                raise _duplicate(conn, spec) from None

    def _insert(self, spec: BudgetIn, actor: str | None) -> Budget:
        with self.db.write(conflict="an enabled budget for this subject and window already exists") as conn:
            subject = _subject_id(conn, spec.scope, spec.subject)
            if budget_rows.enabled_budget(conn, spec.scope, subject, spec.window) is not None:
                raise _duplicate(conn, spec)
            budget = Budget(
                id=new_id("bud"),
                scope=cast(Scope, spec.scope),
                subject=subject,
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


def _duplicate(conn: Connection, spec: BudgetIn) -> ConflictError:
    """The conflict of a new budget with the enabled one on the same subject and window."""
    subject = _subject_id(conn, spec.scope, spec.subject)
    row = budget_rows.enabled_budget(conn, spec.scope, subject, spec.window)
    existing = "" if row is None else f" ({row['id']})"
    return ConflictError(
        f"{spec.scope} {spec.subject!r} already has an enabled {spec.window} budget{existing}: disable "
        "it first to replace it",
        budget_id=None if row is None else row["id"],
    )


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

    def status(self) -> BudgetStatus:
        """The budget with this window's spend, as the API answers it."""
        current = WindowSpend(
            window=self.window.key,
            start=self.window.start,
            end=self.window.end,
            spent_usd=self.spent,
            reserved_usd=self.reserved,
            remaining_usd=self.remaining,
        )
        return BudgetStatus(**self.budget.model_dump(), current=current)


class BudgetCounter:
    """Reserves worst-case costs against budgets before calls and settles them after."""

    def __init__(self, store: BudgetStore, spend: SpendSource, *, ttl: float = 900.0) -> None:
        self.store = store
        self.spend = spend
        self.ttl = ttl
        self._current: dict[Budget, tuple[Hold, Slot]] = {}
        self._unsettled: deque[tuple[Reservation, int]] = deque()

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
        try:
            await self._record(reservation, nanos)
        except CounterUnavailableError:
            if len(self._unsettled) < _MAX_UNSETTLED:
                self._unsettled.append((reservation, nanos))
            raise

    @property
    def unsettled(self) -> int:
        """How many settles failed for want of the store and wait for `settle_unsettled`."""
        return len(self._unsettled)

    async def settle_unsettled(self) -> None:
        """Record the spend of settles that failed while the store was unavailable, oldest first;
        `CounterUnavailableError` while it still is. A settle that reached the store but whose answer
        was lost is counted twice: too much spend, never too little."""
        while self._unsettled:
            reservation, nanos = self._unsettled.popleft()
            try:
                await self._record(reservation, nanos)
            except CounterUnavailableError:
                self._unsettled.appendleft((reservation, nanos))
                raise

    async def _record(self, reservation: Reservation, nanos: int) -> None:
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
