"""`client.budgets`: hard spending limits per API key, team or use case, and their current spend.

budget = await client.budgets.create("team", "payments", "250", window="month", timezone="Europe/Berlin")
print(budget.current.remaining_usd)
"""

from __future__ import annotations

import builtins
from decimal import Decimal

from aifactory.client._http import Channel, segment
from aifactory.gateway.budget_records import Budget, BudgetStatus

__all__ = ["BudgetsApi"]


class BudgetsApi:
    """Budgets: create, list, read with the current window's spend, disable."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def create(
        self, scope: str, subject: str, limit_usd: Decimal | str, *, window: str, timezone: str = "UTC"
    ) -> BudgetStatus:
        """A budget of `limit_usd` dollars per `window` (day, week, month) in `timezone` for a key, team
        (id, prefix or name) or use case (`scope` key, team or use_case)."""
        body = {
            "scope": scope,
            "subject": subject,
            "limit_usd": str(limit_usd),
            "window": window,
            "timezone": timezone,
        }
        return await self._channel.one(BudgetStatus, "POST", "/v1/budgets", json=body)

    async def list(self) -> builtins.list[Budget]:
        """Every budget, disabled ones included."""
        return await self._channel.many(Budget, "GET", "/v1/budgets")

    async def get(self, budget_id: str) -> BudgetStatus:
        """A budget with its current window's spent, reserved and remaining dollars."""
        return await self._channel.one(BudgetStatus, "GET", f"/v1/budgets/{segment(budget_id)}")

    async def disable(self, budget_id: str) -> Budget:
        """Stop enforcing a budget."""
        return await self._channel.one(Budget, "POST", f"/v1/budgets/{segment(budget_id)}/disable")
