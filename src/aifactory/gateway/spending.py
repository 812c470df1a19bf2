"""Money and rate at the gateway: prices, the unknown-price policy, budget reservations, rate limits.

Before a call: the worst-case cost over the candidate deployments is reserved against every budget
that applies (key, team, use case), and the request is charged to every rate limit. After it: the
reservation is settled to the actual cost (released when nothing was spent) and the token estimate
corrected. Counters live in the process, or in Redis when several replicas share them.

Rate limits per key and team are the settings' defaults unless the key or team has limits of its own
(`LimitSource`: the identity directory's in-memory cache, so admission reads no database).

When Redis does not answer, a call that needs the counters is refused with `CounterUnavailableError`
(503): fail closed. A settle that fails after the call is logged and counted, never raised (the run
is still recorded); its reservation lapses by its TTL and its spend is retried in the background, so
the budget learns of it once Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter

from aifactory.errors import CounterUnavailableError, LimitExceededError
from aifactory.gateway.budgets import (
    BudgetBook,
    BudgetCounter,
    InProcessBudgetStore,
    RedisBudgetStore,
    Reservation,
    RunSpend,
)
from aifactory.gateway.pricing import PriceBook, UnknownPricePolicy
from aifactory.gateway.ratelimits import InProcessRateStore, Permit, RateLimit, RateLimiter, RedisRateStore
from aifactory.gateway.shared_counters import connect
from aifactory.gateway.specs import DeploymentSpec, RouteSpec
from aifactory.gateway.types import Usage
from aifactory.ledger import Ledger
from aifactory.settings import Settings
from aifactory.store.db import Database

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Admission", "LimitSource", "Spending"]

log = logging.getLogger(__name__)

_RESERVATION_SLACK = 60.0
"""Seconds a reservation outlives its route's request deadline before it lapses by itself."""
_RETRY_FIRST, _RETRY_MAX = 0.5, 10.0
"""Seconds between retries of failed settles: doubling from the first to the most."""


@dataclass
class Admission:
    """A call let through: what it reserved and what it was charged, to settle afterwards."""

    at: datetime
    reservation: Reservation | None
    permit: Permit | None
    tokens_estimate: int


class LimitSource(Protocol):
    """The per-minute limits set on a key or team, overriding the settings' defaults."""

    def rate_limits(self, scope: str, subject: str) -> tuple[int | None, int | None]:
        """(rpm, tpm) of the key or team (`scope` "key" or "team"); None where the default applies."""
        ...


class _Defaults:
    def rate_limits(self, scope: str, subject: str) -> tuple[int | None, int | None]:
        return None, None


class Spending:
    """Prices calls, enforces budgets by reservation and rate limits, settles after the call."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        ledger: Ledger,
        *,
        limits: LimitSource | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.prices = PriceBook()
        self.policy = UnknownPricePolicy(
            "flag" if settings.gateway_unknown_price == "flag" else "fail_closed"
        )
        self.budgets = BudgetBook(db, ledger)
        self.overrides: LimitSource = limits or _Defaults()
        self.failures = Counter(
            "aifactory_gateway_counter_failures_total",
            "Budget and rate-limit counter operations that failed because the store (Redis) did not answer",
            ["operation"],
            registry=registry,
        )
        self._retry: asyncio.Task[None] | None = None
        self._redis: Redis | None = None
        if settings.redis_url:
            self._redis = client = connect(settings.redis_url, timeout=settings.redis_timeout)
            self.counter = BudgetCounter(RedisBudgetStore(client), RunSpend(db))
            self.limiter = RateLimiter(RedisRateStore(client))
        else:
            self.counter = BudgetCounter(InProcessBudgetStore(), RunSpend(db))
            self.limiter = RateLimiter(InProcessRateStore())

    async def aclose(self) -> None:
        """Stop retrying failed settles and close the connections to Redis (in the serving loop)."""
        if self._retry is not None:
            self._retry.cancel()
        if self._redis is not None:
            await self._redis.aclose()

    def is_priced(self, name: str, spec: DeploymentSpec) -> bool:
        """Whether the deployment's price is known."""
        return self.prices.rate(name, spec) is not None

    def blended(self, name: str, spec: DeploymentSpec) -> Decimal | None:
        """A comparable price (a thousand input plus a thousand output tokens), for lowest-cost routing."""
        return self.prices.worst_case(1000, 1000, name, spec)

    def cost(self, usage: Usage, name: str, spec: DeploymentSpec, at: datetime) -> Decimal | None:
        """The exact cost of a finished call, or None when the price is unknown."""
        return self.prices.cost(usage, name, spec, at=at)

    async def admit(
        self,
        route: RouteSpec,
        candidates: Sequence[tuple[str, DeploymentSpec]],
        *,
        prompt_tokens: int,
        max_output_tokens: int,
        key_id: str | None,
        team_id: str | None,
        use_case: str | None,
        cost_ceiling: Decimal | None = None,
    ) -> Admission:
        """Check prices and the policy's cost ceiling, reserve the worst case against budgets,
        charge rate limits; or raise."""
        at = datetime.now(UTC)
        worst: Decimal | None = Decimal(0)
        for name, spec in candidates:
            case = self.prices.worst_case(prompt_tokens, max_output_tokens, name, spec, at=at)
            self.policy.admit(name, spec, case)
            worst = None if case is None or worst is None else max(worst, case)
        if cost_ceiling is not None:
            _within_ceiling(worst, cost_ceiling)
        budgets = self.budgets.applicable(key_id=key_id, team_id=team_id, use_case=use_case)
        ttl = route.timeout_seconds + _RESERVATION_SLACK
        tokens = prompt_tokens + max_output_tokens
        limits = self._limits(candidates, key_id, team_id)
        reservation: Reservation | None = None
        permit: Permit | None = None
        try:
            reservation = await self.counter.reserve(budgets, worst, at=at, ttl=ttl) if budgets else None
            permit = await self.limiter.acquire(limits, tokens) if limits else None
        except BaseException as error:
            if isinstance(error, CounterUnavailableError):
                self.failures.labels("admit").inc()
            if reservation is not None:
                await self._release(reservation)
            raise
        return Admission(at, reservation, permit, tokens)

    def _limits(
        self, candidates: Sequence[tuple[str, DeploymentSpec]], key_id: str | None, team_id: str | None
    ) -> list[RateLimit]:
        s = self.settings
        limits = []
        for scope, subject, default_rpm, default_tpm in (
            ("key", key_id, s.gateway_key_rpm, s.gateway_key_tpm),
            ("team", team_id, s.gateway_team_rpm, s.gateway_team_tpm),
        ):
            if subject:
                rpm, tpm = self.overrides.rate_limits(scope, subject)
                rpm, tpm = rpm or default_rpm, tpm or default_tpm
                if rpm or tpm:
                    limits.append(RateLimit(f"{scope}:{subject}", rpm, tpm))
        first, spec = candidates[0]
        if spec.rpm_limit or spec.tpm_limit:
            # Charged to the first choice: a fallback is the exception, not the plan.
            limits.append(RateLimit(f"deployment:{first}", spec.rpm_limit, spec.tpm_limit))
        return limits

    async def settle(self, admission: Admission, cost: Decimal | None, usage: Usage, *, spent: bool) -> None:
        """Settle the reservation to the actual cost (release it when nothing was spent), correct
        the token charge. Never raises for want of the counters' store: the call is over."""
        if admission.reservation is not None:
            if not spent:
                await self._release(admission.reservation)
            else:
                try:
                    await self.counter.settle(admission.reservation, cost)
                except CounterUnavailableError as error:
                    self._failed("settle", error, "its spend is retried until the store is back")
                    self._retry_unsettled()
        if admission.permit is not None:
            try:
                await self.limiter.adjust(admission.permit, usage.total_tokens)
            except CounterUnavailableError as error:
                self._failed("adjust", error, "the token estimate stands")

    async def _release(self, reservation: Reservation) -> None:
        try:
            await self.counter.release(reservation)
        except CounterUnavailableError as error:
            self._failed("release", error, "the reservation lapses by its TTL")

    def _failed(self, operation: str, error: CounterUnavailableError, consequence: str) -> None:
        self.failures.labels(operation).inc()
        log.warning("budget counters: %s failed, %s: %s", operation, consequence, error.detail)

    def _retry_unsettled(self) -> None:
        """Retry the failed settles in the background until the store takes them."""
        if self._retry is None or self._retry.done():
            self._retry = asyncio.get_running_loop().create_task(self._settle_unsettled())

    async def _settle_unsettled(self) -> None:
        delay = _RETRY_FIRST
        while self.counter.unsettled:
            await asyncio.sleep(delay)
            try:
                await self.counter.settle_unsettled()
            except CounterUnavailableError:
                delay = min(delay * 2, _RETRY_MAX)
        log.info("budget counters: every settle that failed while the store was away is recorded")


def _within_ceiling(worst: Decimal | None, ceiling: Decimal) -> None:
    """A policy's cost ceiling per call: the worst case must fit it, and an unknown price cannot."""
    if worst is None:
        raise LimitExceededError(
            f"the policy caps a call at ${ceiling}, and a candidate deployment's price is unknown, so "
            "the call's worst case cannot be checked against it"
        )
    if worst > ceiling:
        raise LimitExceededError(
            f"the call's worst-case cost ${worst:.6f} is above the policy's ceiling of ${ceiling} per "
            "call; ask for fewer output tokens (max_tokens) or a cheaper route"
        )
