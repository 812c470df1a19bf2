"""Budgets over HTTP: hard spending limits per key, team or use case, and their current spend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from aifactory.gateway.budgets import Budget, BudgetIn, BudgetStatus
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/budgets", tags=["budgets"])

BudgetId = Annotated[str, Path(pattern=r"^bud_[0-9a-f]{1,64}$|^[A-Za-z0-9_]{1,64}$")]


async def _with_balance(request: Request, budget: Budget) -> BudgetStatus:
    balance = await runtime_of(request).gateway.spending.counter.balance(budget)
    return balance.status()


@router.post("", status_code=201, openapi_extra=governed("budgets.create"), summary="Create a budget")
async def create_budget(
    request: Request, body: BudgetIn, caller: Caller = permit("budgets.create", "Budget")
) -> BudgetStatus:
    """A hard limit: calls whose worst-case cost does not fit are refused with 429."""
    budget = runtime_of(request).gateway.spending.budgets.create(body, caller.id)
    return await _with_balance(request, budget)


@router.get("", openapi_extra=governed("budgets.list"), summary="List budgets")
def list_budgets(request: Request, _c: Caller = permit("budgets.list", "Budget")) -> list[Budget]:
    """Every budget, disabled ones included."""
    return runtime_of(request).gateway.spending.budgets.budgets(include_disabled=True)


@router.get("/{budget_id}", openapi_extra=governed("budgets.read"), summary="A budget and its spend")
async def get_budget(
    request: Request, budget_id: BudgetId, _c: Caller = permit("budgets.read", "Budget")
) -> BudgetStatus:
    """The budget with its current window's spent, reserved and remaining amounts."""
    return await _with_balance(request, runtime_of(request).gateway.spending.budgets.get(budget_id))


@router.post("/{budget_id}/disable", openapi_extra=governed("budgets.disable"), summary="Disable a budget")
def disable_budget(
    request: Request, budget_id: BudgetId, caller: Caller = permit("budgets.disable", "Budget")
) -> Budget:
    """Stop enforcing a budget (recorded in the ledger)."""
    return runtime_of(request).gateway.spending.budgets.disable(budget_id, caller.id)
