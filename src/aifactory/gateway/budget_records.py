"""Budget records: the shapes the API, the CLI and the SDK exchange (no database, no counters here).

Amounts are exact `Decimal` dollars, written in JSON as plain decimal strings without trailing zeros
(`"250.5"`, `"0.000000001"`, never `"1E-9"`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

from aifactory.gateway.windows import Window, WindowKind, window_at
from aifactory.records import InputModel

__all__ = [
    "MAX_LIMIT_USD",
    "SCOPES",
    "Budget",
    "BudgetIn",
    "BudgetStatus",
    "Scope",
    "Usd",
    "WindowSpend",
    "plain",
]

Scope = Literal["key", "team", "use_case"]
SCOPES: tuple[str, ...] = ("key", "team", "use_case")
MAX_LIMIT_USD = Decimal(9_000_000)
"""Redis scripts compute in doubles: nano-dollar counts stay exact below 2**53 (about $9.007M)."""


def plain(amount: Decimal) -> Decimal:
    """The amount without trailing zeros (`5`, not `5.0000000000` as SQLite hands it back)."""
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount.normalize()


Usd = Annotated[
    Decimal,
    AfterValidator(plain),
    PlainSerializer(lambda amount: format(amount, "f"), return_type=str, when_used="json"),
]
"""Exact dollars: a decimal string in JSON."""


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
    limit_usd: Usd
    window: WindowKind
    timezone: str
    created_by: str | None
    created_at: datetime
    disabled_at: datetime | None = None

    def window_at(self, at: datetime) -> Window:
        """The window of this budget that contains `at`."""
        return window_at(self.window, self.timezone, at)


class WindowSpend(BaseModel):
    """A budget's standing in one window: settled spend, reservations held, and what is left."""

    window: str
    start: datetime
    end: datetime
    spent_usd: Usd
    reserved_usd: Usd
    remaining_usd: Usd


class BudgetStatus(Budget):
    """A budget with its current window's spend."""

    current: WindowSpend
