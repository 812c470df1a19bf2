"""Budgets: calendar windows in time zones, the budget book, and reservation-based enforcement on the
in-process store and on Redis (several processes), seeded from recorded runs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis
from redis.asyncio import Redis
from sqlalchemy import insert

from aifactory.errors import BudgetExceededError, ConflictError, InvalidInputError, NotFoundError
from aifactory.gateway.budgets import (
    Budget,
    BudgetBook,
    BudgetCounter,
    BudgetIn,
    BudgetStore,
    InProcessBudgetStore,
    RedisBudgetStore,
    RunSpend,
    from_nanos,
    to_nanos,
)
from aifactory.gateway.windows import Window, window_at
from aifactory.identity.records import TeamIn
from aifactory.runtime import Runtime
from aifactory.store.db import Database
from aifactory.store.schema import budgets, runs

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
    prefix = f"test:{uuid.uuid4().hex}:{{budgets}}:"
    yield prefix
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT) as client:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which budget store a test runs on."""
    return str(request.param)


@pytest.fixture
def prefix(store_kind: str, request: pytest.FixtureRequest) -> str:
    """The Redis prefix for redis-backed tests (unused in memory)."""
    if store_kind == "memory":
        return ""
    return str(request.getfixturevalue("redis_prefix"))


@asynccontextmanager
async def open_store(kind: str, prefix: str) -> AsyncIterator[BudgetStore]:
    """A store on this event loop."""
    if kind == "memory":
        yield InProcessBudgetStore()
        return
    client = Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        yield RedisBudgetStore(client, prefix=prefix)
    finally:
        await client.aclose()


def budget(limit: str, scope: str = "key", subject: str = "key_1", **extra: Any) -> Budget:
    """A budget record (as the book would hold it) with an id of its own."""
    return Budget.model_validate(
        {
            "id": f"bud_{uuid.uuid4().hex[:16]}",
            "scope": scope,
            "subject": subject,
            "limit_usd": Decimal(limit),
            "window": extra.pop("window", "day"),
            "timezone": extra.pop("timezone", "UTC"),
            "created_by": None,
            "created_at": datetime.now(UTC),
            **extra,
        }
    )


def nothing_spent(_budget: Budget, _window: Window) -> Decimal:
    """A spend source for counters that start empty."""
    return Decimal(0)


# --- windows ---------------------------------------------------------------------------------------


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "zone", "at", "key", "start", "hours"),
    [
        ("day", "Europe/Berlin", "2025-03-30T12:00", "2025-03-30", "2025-03-29T23:00", 23),  # spring forward
        ("day", "Europe/Berlin", "2025-10-26T12:00", "2025-10-26", "2025-10-25T22:00", 25),  # fall back
        ("day", "America/Santiago", "2024-09-08T12:00", "2024-09-08", "2024-09-08T04:00", 23),  # no midnight
        ("day", "America/Havana", "2024-11-03T12:00", "2024-11-03", "2024-11-03T04:00", 25),  # two midnights
        ("day", "Pacific/Kiritimati", "2025-01-01T10:00", "2025-01-02", "2025-01-01T10:00", 24),
        ("day", "Pacific/Pago_Pago", "2025-01-01T10:00", "2024-12-31", "2024-12-31T11:00", 24),
        ("day", "UTC", "2025-01-01T10:00", "2025-01-01", "2025-01-01T00:00", 24),
        ("week", "UTC", "2024-12-30T00:00", "2025-W01", "2024-12-30T00:00", 168),  # ISO year != calendar
        ("week", "UTC", "2021-01-03T23:59", "2020-W53", "2020-12-28T00:00", 168),
        ("week", "Europe/Berlin", "2025-03-30T21:59", "2025-W13", "2025-03-23T23:00", 167),  # Sun 23:59
        ("week", "Europe/Berlin", "2025-03-30T22:00", "2025-W14", "2025-03-30T22:00", 168),  # Mon 00:00
        ("week", "America/New_York", "2025-03-10T03:59", "2025-W10", "2025-03-03T05:00", 167),  # Sun 23:59
        ("month", "Europe/Berlin", "2025-01-31T23:30", "2025-02", "2025-01-31T23:00", 672),
        ("month", "UTC", "2025-01-31T23:30", "2025-01", "2025-01-01T00:00", 744),
        ("month", "Europe/Berlin", "2025-03-15T00:00", "2025-03", "2025-02-28T23:00", 743),
        ("month", "Asia/Tokyo", "2024-02-29T15:00", "2024-03", "2024-02-29T15:00", 744),  # leap day ends
    ],
)
def test_window_keys_and_bounds_in_time_zones(
    kind: Any, zone: str, at: str, key: str, start: str, hours: int
) -> None:
    window = window_at(kind, zone, utc(at))
    assert window.key == key
    assert window.start == utc(start)
    assert window.end - window.start == timedelta(hours=hours)
    assert window.contains(utc(at))


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe"])
@pytest.mark.parametrize("kind", ["day", "week", "month"])
def test_windows_tile_the_timeline_without_gaps_or_overlaps(kind: Any, zone: str) -> None:
    window = window_at(kind, zone, utc("2024-12-20T00:00"))
    for _ in range(400 if kind == "day" else 60 if kind == "week" else 14):
        assert window_at(kind, zone, window.start) == window
        assert window_at(kind, zone, window.end - timedelta(microseconds=1)) == window
        following = window_at(kind, zone, window.end)
        assert following.start == window.end
        assert following.key > window.key
        window = following


def test_unknown_time_zones_and_naive_instants_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="timezone") as caught:
        window_at("day", "Mars/Olympus_Mons", datetime.now(UTC))
    assert caught.value.extra["field"] == "timezone"
    with pytest.raises(ValueError, match="timezone-aware"):
        window_at("day", "UTC", datetime(2025, 1, 1))


# --- the budget book -------------------------------------------------------------------------------


def test_budgets_are_created_listed_found_and_disabled(runtime: Runtime) -> None:
    book = BudgetBook(runtime.db, runtime.ledger)
    team = runtime.directory.create_team(TeamIn(name="payments"), actor=None)
    monthly = book.create(
        BudgetIn(
            scope="team",
            subject="payments",
            limit_usd=Decimal("250.5"),
            window="month",
            timezone="Europe/Berlin",
        ),
        actor="prn_admin",
    )
    assert monthly.subject == team.id  # named by name, stored by id (as runs record it)
    assert monthly.limit_usd == Decimal("250.5")
    daily = book.create(
        BudgetIn(scope="use_case", subject="claims", limit_usd=Decimal(5), window="day"), None
    )
    assert book.get(monthly.id) == monthly
    assert [b.id for b in book.budgets()] == [monthly.id, daily.id]
    found = book.applicable(key_id="key_x", team_id=team.id, use_case="claims")
    assert {b.id for b in found} == {monthly.id, daily.id}
    assert book.applicable(key_id=None, team_id=None, use_case="other") == []

    disabled = book.disable(daily.id, actor="prn_admin")
    assert disabled.disabled_at is not None
    assert [b.id for b in book.applicable(key_id=None, team_id=team.id, use_case="claims")] == [monthly.id]
    assert [b.id for b in book.budgets()] == [monthly.id]
    assert len(book.budgets(include_disabled=True)) == 2
    with pytest.raises(ConflictError, match="already disabled"):
        book.disable(daily.id, actor=None)
    with pytest.raises(NotFoundError):
        book.get("bud_missing")
    # Another replica's book sees the budgets too (after the change feed tells it to reload).
    assert [b.id for b in BudgetBook(runtime.db, runtime.ledger).budgets()] == [monthly.id]


def test_a_disabled_budget_can_be_replaced_but_an_enabled_one_cannot(runtime: Runtime) -> None:
    book = BudgetBook(runtime.db, runtime.ledger)
    team = runtime.directory.create_team(TeamIn(name="payments"), actor=None)
    daily = BudgetIn(scope="use_case", subject="claims", limit_usd=Decimal(5), window="day")
    first = book.create(daily, None)
    book.disable(first.id, None)
    second = book.create(daily.model_copy(update={"limit_usd": Decimal(9)}), None)  # twice, and again
    book.disable(second.id, None)
    third = book.create(daily, None)
    assert [b.id for b in book.applicable(key_id=None, team_id=None, use_case="claims")] == [third.id]
    with pytest.raises(ConflictError) as caught:
        book.create(daily, None)
    assert caught.value.extra["budget_id"] == third.id
    assert third.id in caught.value.detail
    assert "disable it first" in caught.value.detail
    monthly = BudgetIn(scope="team", subject=team.name, limit_usd=Decimal(50), window="month")
    existing = book.create(monthly, None)
    with pytest.raises(ConflictError) as caught:  # named by name, found by id
        book.create(monthly.model_copy(update={"subject": team.id}), None)
    assert caught.value.extra["budget_id"] == existing.id
    # Another kind of window for the same subject is another budget.
    book.create(monthly.model_copy(update={"window": "week"}), None)
    assert len(book.budgets()) == 3
    assert len(book.budgets(include_disabled=True)) == 5


def test_the_database_allows_one_enabled_budget_per_subject_and_window(runtime: Runtime) -> None:
    """The partial unique index holds even for a writer that skips the book's own check."""
    row = {
        "scope": "use_case",
        "subject": "claims",
        "limit_usd": Decimal(1),
        "window": "day",
        "timezone": "UTC",
        "created_at": datetime.now(UTC),
    }
    with runtime.db.write() as conn:
        conn.execute(insert(budgets), [row | {"id": "bud_1", "disabled_at": datetime.now(UTC)}])
        conn.execute(insert(budgets), [row | {"id": "bud_2", "disabled_at": datetime.now(UTC)}])
        conn.execute(insert(budgets), [row | {"id": "bud_3"}])
    with pytest.raises(ConflictError), runtime.db.write(conflict="duplicate") as conn:
        conn.execute(insert(budgets), [row | {"id": "bud_4"}])


BAD_BUDGETS: list[tuple[str, dict[str, Any]]] = [
    ("scope", {"scope": "org"}),
    ("window", {"window": "year"}),
    ("timezone", {"timezone": "Europe/Atlantis"}),
    ("limit_usd", {"limit_usd": Decimal(0)}),
    ("limit_usd", {"limit_usd": Decimal("-5")}),
    ("limit_usd", {"limit_usd": Decimal("0.0000000001")}),
    ("limit_usd", {"limit_usd": Decimal("9000000.01")}),
    ("subject", {"scope": "team", "subject": "no-such-team"}),
    ("subject", {"scope": "key", "subject": "key_missing"}),
    ("subject", {"subject": ""}),
]


def test_bad_budgets_are_refused_naming_the_field(runtime: Runtime) -> None:
    book = BudgetBook(runtime.db, runtime.ledger)
    for field, changes in BAD_BUDGETS:
        spec = {"scope": "use_case", "subject": "claims", "limit_usd": Decimal(10), "window": "day"} | changes
        with pytest.raises(InvalidInputError) as caught:
            book.create(BudgetIn.model_validate(spec), actor=None)
        assert caught.value.extra["field"] == field, changes
        assert caught.value.detail.startswith(f"{field}:")
    assert book.budgets(include_disabled=True) == []


# --- reservation arithmetic ------------------------------------------------------------------------


def test_reserve_settle_and_release_are_exact(store_kind: str, prefix: str) -> None:
    limit = budget("1")

    async def scenario() -> None:
        async with open_store(store_kind, prefix) as store:
            counter = BudgetCounter(store, nothing_spent)
            first = await counter.reserve([limit], Decimal("0.1234567891"))
            assert first.nanos == 123_456_790  # rounded up to the nano-dollar
            balance = await counter.balance(limit)
            assert (balance.spent, balance.reserved) == (Decimal(0), Decimal("0.12345679"))
            await counter.settle(first, Decimal("0.0000000001"))
            settled = Decimal("0.000000001")
            for i in range(1, 40):
                amount = Decimal(i).scaleb(-9) * 1_000_003
                reservation = await counter.reserve([limit], amount * 2)
                if i % 3 == 0:
                    await counter.release(reservation)
                else:
                    await counter.settle(reservation, amount)
                    settled += amount
            balance = await counter.balance(limit)
            assert balance.spent == settled
            assert balance.reserved == 0
            assert balance.remaining == Decimal(1) - settled

    asyncio.run(scenario())


def test_all_or_nothing_across_key_team_and_use_case(store_kind: str, prefix: str) -> None:
    key, team = budget("10", "key", "key_1"), budget("1", "team", "team_1", window="month")
    use_case = budget("10", "use_case", "claims", window="week", timezone="Asia/Kolkata")

    async def scenario() -> None:
        async with open_store(store_kind, prefix) as store:
            counter = BudgetCounter(store, nothing_spent)
            spend = await counter.reserve([team], Decimal("0.95"))
            await counter.settle(spend, Decimal("0.95"))
            with pytest.raises(BudgetExceededError) as caught:
                await counter.reserve([key, team, use_case], Decimal("0.10"))
            error = caught.value
            assert error.extra["budget_id"] == team.id
            assert error.extra["scope"] == "team"
            assert error.extra["subject"] == "team_1"
            assert error.extra["window"] == "month"
            assert error.extra["limit_usd"] == "1"
            assert error.extra["remaining_usd"] == "0.05"
            assert error.extra["requested_usd"] == "0.10"
            assert "team 'team_1'" in error.detail
            assert "remaining $0.05" in error.detail
            for untouched in (key, use_case):
                assert (await counter.balance(untouched)).reserved == 0
            held = await counter.reserve([key, team, use_case], Decimal("0.05"))
            for each in (key, team, use_case):
                assert (await counter.balance(each)).reserved == Decimal("0.05")
            await counter.release(held)
            assert (await counter.balance(team)).spent == Decimal("0.95")

    asyncio.run(scenario())


def test_calls_with_unknown_prices_are_refused_under_a_budget(store_kind: str, prefix: str) -> None:
    async def scenario() -> None:
        async with open_store(store_kind, prefix) as store:
            counter = BudgetCounter(store, nothing_spent)
            with pytest.raises(BudgetExceededError, match="price is unknown") as caught:
                await counter.reserve([budget("100")], None)
            assert caught.value.extra["reason"] == "price_unknown"
            free_for_all = await counter.reserve([], None)  # no budget applies: nothing to count
            await counter.settle(free_for_all, None)

    asyncio.run(scenario())


def test_lapsed_reservations_release_themselves(
    store_kind: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    limit = budget("1")

    async def scenario() -> None:
        async with open_store(store_kind, prefix) as store:
            counter = BudgetCounter(store, nothing_spent, ttl=0.3)
            crashed = await counter.reserve([limit], Decimal("0.9"))
            with pytest.raises(BudgetExceededError):
                await counter.reserve([limit], Decimal("0.9"))
            await asyncio.sleep(0.4)
            assert (await counter.balance(limit)).reserved == 0
            alive = await counter.reserve([limit], Decimal("0.5"), ttl=30)
            with caplog.at_level(logging.WARNING, logger="aifactory.gateway.budgets"):
                await counter.settle(crashed, Decimal("0.25"))  # a late settle still records the spend
            assert "lapsed" in caplog.text
            balance = await counter.balance(limit)
            assert (balance.spent, balance.reserved) == (Decimal("0.25"), Decimal("0.5"))
            await counter.release(alive)

    asyncio.run(scenario())


def test_settling_more_than_reserved_is_recorded_and_warned(
    store_kind: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    limit = budget("1")

    async def scenario() -> None:
        async with open_store(store_kind, prefix) as store:
            counter = BudgetCounter(store, nothing_spent)
            reservation = await counter.reserve([limit], Decimal("0.1"))
            with caplog.at_level(logging.WARNING, logger="aifactory.gateway.budgets"):
                await counter.settle(reservation, Decimal("0.3"))
            assert "exceeds the worst case" in caplog.text
            await counter.settle(reservation, Decimal("0.3"))  # once only
            await counter.release(reservation)  # and a release after a settle gives nothing back
            balance = await counter.balance(limit)
            assert (balance.spent, balance.reserved) == (Decimal("0.3"), Decimal(0))

    asyncio.run(scenario())


# --- spend recorded in runs ------------------------------------------------------------------------


def record_runs(db: Database, rows: list[tuple[str, str | None, str | None]]) -> None:
    """Insert run records: (created_at ISO in UTC, key id, cost)."""
    values: list[dict[str, Any]] = [
        {
            "id": f"run_{uuid.uuid4().hex[:16]}",
            "created_at": utc(at),
            "principal_id": "prn_1",
            "key_id": key_id,
            "team_id": "team_1",
            "use_case": "claims",
            "operation": "chat",
            "route": "chat-default",
            "status": "ok",
            "stream": False,
            "attempts": [],
            "prompt_tokens": 10,
            "completion_tokens": 10,
            "cost_usd": None if cost is None else Decimal(cost),
            "price_known": cost is not None,
        }
        for at, key_id, cost in rows
    ]
    with db.write() as conn:
        conn.execute(insert(runs), values)


def test_spend_survives_a_restart_by_seeding_from_runs(
    runtime: Runtime, store_kind: str, prefix: str
) -> None:
    limit = budget("5", "key", "key_1", window="day", timezone="Europe/Berlin")
    now = datetime.now(UTC)
    window = limit.window_at(now)
    inside = window.start.replace(tzinfo=None).isoformat()
    record_runs(
        runtime.db,
        [
            (inside, "key_1", "0.1"),
            (inside, "key_1", "0.2"),
            (inside, "key_1", "0.0000000001"),
            (inside, "key_1", "1234.5678901234"),
            (inside, "key_1", None),  # unknown price: counts nothing (and is refused under budgets)
            (inside, "key_2", "7"),  # someone else's
            ((window.start - timedelta(microseconds=1)).replace(tzinfo=None).isoformat(), "key_1", "9"),
            (window.end.replace(tzinfo=None).isoformat(), "key_1", "9"),
        ],
    )
    recorded = RunSpend(runtime.db)(limit, window)
    assert recorded == Decimal("1234.8678901235")  # exact on SQLite too, where NUMERIC is a float

    async def scenario() -> None:
        async with open_store(store_kind, prefix) as store:  # a fresh process: empty counters
            counter = BudgetCounter(store, RunSpend(runtime.db))
            balance = await counter.balance(limit, at=now)
            assert balance.spent == from_nanos(to_nanos(recorded))
            with pytest.raises(BudgetExceededError):
                await counter.reserve([limit], Decimal("0.01"), at=now)

    asyncio.run(scenario())


def test_redis_counters_are_seeded_only_when_missing(runtime: Runtime, redis_prefix: str) -> None:
    limit = budget("100", "key", "key_1")
    now = datetime.now(UTC)
    start = limit.window_at(now).start.replace(tzinfo=None).isoformat()
    record_runs(runtime.db, [(start, "key_1", "1.5")])

    async def scenario() -> None:
        async with open_store("redis", redis_prefix) as store:
            counter = BudgetCounter(store, RunSpend(runtime.db))
            reservation = await counter.reserve([limit], Decimal(1), at=now)
            await counter.settle(reservation, Decimal("0.25"))
            assert (await counter.balance(limit, at=now)).spent == Decimal("1.75")
            # Runs recorded later (that call's, and one the counter never saw) do not re-seed it:
            # another replica starting now reads the shared counter, not the runs.
            record_runs(runtime.db, [(start, "key_1", "0.25"), (start, "key_1", "3")])
            replica = BudgetCounter(store, RunSpend(runtime.db))
            assert (await replica.balance(limit, at=now)).spent == Decimal("1.75")
            # Redis lost its data: the counter is rebuilt from the runs.
            with redis.Redis(host=REDIS_HOST, port=REDIS_PORT) as client:
                client.delete(*client.scan_iter(match=f"{redis_prefix}*"))
            assert (await replica.balance(limit, at=now)).spent == Decimal("4.75")

    asyncio.run(scenario())


# --- concurrency -----------------------------------------------------------------------------------


def test_threads_never_overspend_the_in_process_store() -> None:
    limit = budget("1")
    store = InProcessBudgetStore()
    counter = BudgetCounter(store, nothing_spent)
    settled: list[int] = []
    failures: list[BaseException] = []
    refusals = accepted = 0
    lock = threading.Lock()
    done = threading.Event()
    highest = Decimal(0)

    async def one(rng: random.Random) -> None:
        nonlocal refusals, accepted
        worst = Decimal(rng.randint(1, 50_000_000)).scaleb(-9)
        try:
            reservation = await counter.reserve([limit], worst)
        except BudgetExceededError:
            with lock:
                refusals += 1
            return
        with lock:
            accepted += 1
        await asyncio.sleep(rng.random() * 0.01)
        if rng.random() < 0.2:
            await counter.release(reservation)
            return
        actual = Decimal(rng.randint(0, reservation.nanos)).scaleb(-9)
        await counter.settle(reservation, actual)
        with lock:
            settled.append(to_nanos(actual))

    def worker(seed: int) -> None:
        rng = random.Random(seed)

        async def batch() -> None:
            await asyncio.gather(*(one(rng) for _ in range(10)))

        try:
            asyncio.run(batch())
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def watch() -> None:
        nonlocal highest
        while not done.is_set():
            balance = asyncio.run(counter.balance(limit))
            highest = max(highest, balance.spent + balance.reserved)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    watcher.join(timeout=60)
    assert failures == []
    balance = asyncio.run(counter.balance(limit))
    assert balance.reserved == 0
    assert balance.spent == from_nanos(sum(settled))
    assert balance.spent <= limit.limit_usd
    assert 0 < highest <= limit.limit_usd
    assert refusals > 0
    assert accepted + refusals == 200


WORKER = """
import asyncio, json, random, sys, time
from decimal import Decimal
from redis.asyncio import Redis
from aifactory.errors import BudgetExceededError
from aifactory.gateway.budgets import Budget, BudgetCounter, RedisBudgetStore, to_nanos

async def main(prefix, budget_json, count, seed, start_at):
    rng = random.Random(seed)
    budget = Budget.model_validate_json(budget_json)
    client = Redis(host="127.0.0.1", port=6379)
    counter = BudgetCounter(RedisBudgetStore(client, prefix=prefix), lambda b, w: Decimal(0))
    result = {"accepted": 0, "refused": 0, "settled": 0, "other": []}

    async def one():
        worst = Decimal(rng.randint(1, 50_000_000)).scaleb(-9)
        try:
            reservation = await counter.reserve([budget], worst)
        except BudgetExceededError:
            result["refused"] += 1
            return
        except Exception as exc:
            result["other"].append(repr(exc))
            return
        result["accepted"] += 1
        await asyncio.sleep(rng.random() * 0.02)
        if rng.random() < 0.2:
            await counter.release(reservation)
        else:
            actual = Decimal(rng.randint(0, reservation.nanos)).scaleb(-9)
            await counter.settle(reservation, actual)
            result["settled"] += to_nanos(actual)

    await client.ping()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(one() for _ in range(count)))
    await client.aclose()
    print(json.dumps(result))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])))
"""


def test_processes_sharing_redis_never_overspend(redis_prefix: str) -> None:
    limit = budget("1")
    slot_key = f"{redis_prefix}{limit.id}:{limit.window_at(datetime.now(UTC)).key}"
    start_at = time.time() + 3
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                redis_prefix,
                limit.model_dump_json(),
                "50",
                str(seed),
                str(start_at),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(4)
    ]
    highest = 0
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT) as client:
        deadline = time.monotonic() + 60
        while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
            spent, reserved = client.hmget(slot_key, "spent", "reserved")
            highest = max(highest, int(spent or 0) + int(reserved or 0))
            time.sleep(0.001)
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert worker.returncode == 0, err
            results.append(json.loads(out))
        spent, reserved = (int(v or 0) for v in client.hmget(slot_key, "spent", "reserved"))
    assert [r["other"] for r in results] == [[], [], [], []]  # every refusal was BudgetExceededError
    assert sum(r["accepted"] + r["refused"] for r in results) == 200
    assert sum(r["refused"] for r in results) > 0
    assert reserved == 0
    assert spent == sum(r["settled"] for r in results)
    assert spent <= to_nanos(limit.limit_usd)
    assert 0 < highest <= to_nanos(limit.limit_usd)
