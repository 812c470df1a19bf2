"""How long a run's payload is kept: the instance's default, clamped by the policy decision.

    days = clamp(retention_default_days, retention_min_days, retention_max_days)

A decision whose minimum exceeds its maximum (two packs disagree: a legal duty to keep, a rule to
delete early) keeps the minimum: a legal minimum wins over a preference to delete. The conflict is
logged and flagged in the run's ledger entry (`retention_conflict`), so it can be resolved in the packs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RetentionTerm"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionTerm:
    """The days a payload is kept, and whether the decision's minimum and maximum conflicted."""

    days: int
    conflict: bool = False

    @classmethod
    def of(cls, default_days: int, min_days: int | None = None, max_days: int | None = None) -> RetentionTerm:
        """The default clamped to [min_days, max_days]; if min_days > max_days, min_days."""
        days = default_days
        if max_days is not None:
            days = min(days, max_days)
        if min_days is not None:
            days = max(days, min_days)
        conflict = min_days is not None and max_days is not None and min_days > max_days
        if conflict:
            log.warning(
                "retention minimum %d days exceeds the maximum %d days: keeping the minimum",
                min_days,
                max_days,
            )
        return cls(max(days, 0), conflict)

    def until(self, start: datetime) -> datetime:
        """When a payload created at `start` is due for purging."""
        return start + timedelta(days=self.days)
