"""Gates: the checks a label move must pass. Each returns every condition it finds unmet.

Gates are plugins (hook `aifactory_register_gates`); the approval gate is the first built-in.
Which gates a move must pass is the catalog's gate policy (setting `label_gates`), per label and kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from aifactory.catalog.records import Approval, Asset, AssetVersion

__all__ = ["ApprovalGate", "Gate", "MoveContext"]


@dataclass(frozen=True)
class MoveContext:
    """Everything a gate may look at when a label is about to move."""

    asset: Asset
    version: AssetVersion
    label: str
    actor_id: str
    current: int | None
    approvals: Sequence[Approval]
    conn: Connection
    """The move's own transaction: a gate reads through `aifactory.store` row functions with it, so
    what it checks is what the move commits against."""


class Gate(Protocol):
    """A condition on a label move."""

    name: str

    def unmet(self, ctx: MoveContext) -> list[str]:
        """Every unmet condition, each a sentence a person can act on; empty when the gate passes."""
        ...


class ApprovalGate:
    """Approval by someone other than the author (two for critical assets)."""

    name = "approval"

    def unmet(self, ctx: MoveContext) -> list[str]:
        """Ask for the missing approvals of this exact version."""
        needed = 2 if ctx.asset.critical else 1
        approvers = {a.approver_id for a in ctx.approvals if a.approver_id != ctx.version.author_id}
        if len(approvers) >= needed:
            return []
        what = "a critical asset needs 2 approvals" if needed == 2 else "it needs 1 approval"
        return [
            f"approval: version {ctx.version.number} has {len(approvers)} approval(s) by someone other "
            f"than its author ({ctx.version.author_id}); {what} before it can be labelled "
            f"'{ctx.label}'"
        ]
