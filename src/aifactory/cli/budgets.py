"""`aifactory budgets`: hard spending limits per API key, team or use case, and their current spend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.gateway.budget_records import Budget, BudgetStatus

__all__ = ["app"]

app = typer.Typer(
    help="Budgets: hard spending limits per key, team or use case (create, list, show, disable).",
    no_args_is_help=True,
)

_FIELDS = (
    "id",
    "scope",
    "subject",
    "limit_usd",
    "window",
    "timezone",
    "created_by",
    "created_at",
    "disabled_at",
)


def _usd(amount: Any) -> str:
    return f"${amount:f}"


def _rows(budgets: Sequence[Budget]) -> list[list[Any]]:
    return [
        [
            b.id,
            b.scope,
            b.subject,
            _usd(b.limit_usd),
            b.window,
            b.timezone,
            "disabled" if b.disabled_at else "on",
        ]
        for b in budgets
    ]


def _show(budget: BudgetStatus) -> None:
    rows = [[name, getattr(budget, name)] for name in _FIELDS]
    rows[3][1] = _usd(budget.limit_usd)
    print_table(f"Budget {budget.id}", ["field", "value"], rows)
    now = budget.current
    print_table(
        f"Window {now.window} ({now.start.isoformat()} to {now.end.isoformat()})",
        ["spent", "reserved", "remaining"],
        [[_usd(now.spent_usd), _usd(now.reserved_usd), _usd(now.remaining_usd)]],
    )


@app.command("create")
def create(
    scope: Annotated[str, typer.Argument(help="What the budget limits: key, team or use_case.")],
    subject: Annotated[str, typer.Argument(help="The key (id or prefix), team (id or name) or use case.")],
    limit_usd: Annotated[str, typer.Option("--limit-usd", help="Dollars per window, e.g. 250 or 0.50.")],
    window: Annotated[str, typer.Option(help="day, week (from Monday) or month.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone the windows follow.")] = "UTC",
    json_: JsonFlag = False,
) -> None:
    """Create a budget: calls whose worst-case cost does not fit are refused before they are sent."""
    budget = current().call(
        lambda c: c.budgets.create(scope, subject, limit_usd, window=window, timezone=timezone)
    )
    if json_:
        emit_json(budget)
        return
    say(f"created budget {budget.id}: {_usd(budget.limit_usd)} per {budget.window} ({budget.timezone})")
    _show(budget)


@app.command("list")
def list_(json_: JsonFlag = False) -> None:
    """List every budget, disabled ones included."""
    budgets = current().call(lambda c: c.budgets.list())
    if json_:
        emit_json(budgets)
        return
    print_table(
        "Budgets", ["id", "scope", "subject", "limit", "window", "time zone", "state"], _rows(budgets)
    )


@app.command("show")
def show(
    budget_id: Annotated[str, typer.Argument(help="The budget id (bud_...).")], json_: JsonFlag = False
) -> None:
    """Show a budget and its current window: spent, reserved by calls in flight, remaining."""
    budget = current().call(lambda c: c.budgets.get(budget_id))
    if json_:
        emit_json(budget)
        return
    _show(budget)


@app.command("disable")
def disable(
    budget_id: Annotated[str, typer.Argument(help="The budget id (bud_...).")], json_: JsonFlag = False
) -> None:
    """Stop enforcing a budget (a new one may then take its place)."""
    budget = current().call(lambda c: c.budgets.disable(budget_id))
    if json_:
        emit_json(budget)
        return
    say(f"disabled budget {budget.id} at {budget.disabled_at}")
