"""Money and rate at the gateway: prices, the unknown-price policy, budget reservations, rate limits.

Before a call: the worst-case cost over the candidate deployments is reserved against every budget
that applies (key, team, use case), and the request is charged to every rate limit. After it: the
reservation is settled to the actual cost (released when nothing was spent) and the token estimate
corrected. Counters live in the process, or in Redis when several replicas share them.

Rate limits per key and team are the settings' defaults unless the key or team has limits of its own
(`LimitSource`: the identity directory's in-memory cache, so admission reads no database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

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
from aifactory.gateway.specs import DeploymentSpec, RouteSpec
from aifactory.gateway.types import Usage
from aifactory.ledger import Ledger
from aifactory.settings import Settings
from aifactory.store.db import Database

__all__ = ["Admission", "LimitSource", "Spending"]

_RESERVATION_SLACK = 60.0
"""Seconds a reservation outlives its route's request deadline before it lapses by itself."""


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
        self, settings: Settings, db: Database, ledger: Ledger, *, limits: LimitSource | None = None
    ) -> None:
        self.settings = settings
        self.prices = PriceBook()
        self.policy = UnknownPricePolicy(
            "flag" if settings.gateway_unknown_price == "flag" else "fail_closed"
        )
        self.budgets = BudgetBook(db, ledger)
        self.overrides: LimitSource = limits or _Defaults()
        if settings.redis_url:
            import redis.asyncio as redis

            client = redis.Redis.from_url(settings.redis_url)
            self.counter = BudgetCounter(RedisBudgetStore(client), RunSpend(db))
            self.limiter = RateLimiter(RedisRateStore(client))
        else:
            self.counter = BudgetCounter(InProcessBudgetStore(), RunSpend(db))
            self.limiter = RateLimiter(InProcessRateStore())

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
    ) -> Admission:
        """Check prices, reserve the worst case against budgets, charge rate limits; or raise."""
        at = datetime.now(UTC)
        worst: Decimal | None = Decimal(0)
        for name, spec in candidates:
            case = self.prices.worst_case(prompt_tokens, max_output_tokens, name, spec, at=at)
            self.policy.admit(name, spec, case)
            worst = None if case is None or worst is None else max(worst, case)
        budgets = self.budgets.applicable(key_id=key_id, team_id=team_id, use_case=use_case)
        ttl = route.timeout_seconds + _RESERVATION_SLACK
        reservation = await self.counter.reserve(budgets, worst, at=at, ttl=ttl) if budgets else None
        tokens = prompt_tokens + max_output_tokens
        limits = self._limits(candidates, key_id, team_id)
        try:
            permit = await self.limiter.acquire(limits, tokens) if limits else None
        except BaseException:
            if reservation is not None:
                await self.counter.release(reservation)
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
        the token charge."""
        if admission.reservation is not None:
            if spent:
                await self.counter.settle(admission.reservation, cost)
            else:
                await self.counter.release(admission.reservation)
        if admission.permit is not None:
            await self.limiter.adjust(admission.permit, usage.total_tokens)
