"""Catalog records: the shapes the API, the CLI and the SDK exchange."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from aifactory.records import InputModel

__all__ = [
    "LABEL_PATTERN",
    "STAGES",
    "Approval",
    "ApprovalIn",
    "Asset",
    "AssetIn",
    "AssetVersion",
    "Canary",
    "CanaryIn",
    "LabelMove",
    "LabelMoveIn",
    "LifecycleIn",
    "RampStep",
    "ReviewIn",
    "RollbackIn",
    "VersionIn",
]

STAGES = ("draft", "candidate", "approved", "canary", "production", "deprecated", "retired")
"""A version's lifecycle, in order. People set candidate, deprecated and retired; the rest follows
from approvals and labels."""

LABEL_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
KIND_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"


class AssetIn(InputModel):
    """A new governed asset."""

    kind: str = Field(pattern=KIND_PATTERN, description="What it is: prompt, policy_pack, route, ...")
    name: str = Field(pattern=NAME_PATTERN, description="Unique within its kind.")
    description: str = Field(default="", max_length=10_000)
    owner: str | None = Field(default=None, description="Owning principal (id or name); default: you.")
    steward_team: str | None = Field(default=None, description="Team that stewards it (id or name).")
    review_by: date | None = Field(default=None, description="Next review date; default: in review_days.")
    retirement_condition: str = Field(default="", max_length=2000)
    critical: bool = Field(
        default=False, description="Critical assets need two approvals to reach a protected label."
    )


class Asset(BaseModel):
    """A governed asset in the catalog."""

    id: str
    kind: str
    name: str
    description: str
    owner_id: str
    steward_team_id: str | None
    review_by: date
    retirement_condition: str
    critical: bool
    status: str
    created_by: str
    created_at: datetime
    labels: dict[str, int] = Field(default_factory=dict)
    canaries: dict[str, Canary] = Field(
        default_factory=dict, description="Label -> the canary splitting its traffic, if any."
    )


class VersionIn(InputModel):
    """New content for an asset; identical content returns the existing version."""

    content: dict[str, Any]
    message: str = Field(default="", max_length=2000)


class AssetVersion(BaseModel):
    """An immutable, content-addressed version of an asset."""

    asset_id: str
    number: int
    content_hash: str
    content: dict[str, Any]
    author_id: str
    message: str
    created_at: datetime
    created: bool = Field(default=False, description="False when identical content already existed.")
    stage: str | None = Field(default=None, description="Where the version is in its lifecycle (STAGES).")
    sunset: date | None = Field(default=None, description="When a deprecated version retires.")


class ApprovalIn(InputModel):
    """An approval of one version."""

    comment: str = Field(default="", max_length=2000)


class Approval(BaseModel):
    """Someone other than the author approved a version."""

    asset_id: str
    version_number: int
    approver_id: str
    comment: str
    at: datetime


class LabelMoveIn(InputModel):
    """Move a label to a version (the one way any label ever moves)."""

    version: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field(default="", max_length=2000)


class LabelMove(BaseModel):
    """One move of one label; `to_version` None means the label was removed.

    `kind`: move, remove, canary (`to_version` is the canary, at `percent`), canary_end, rollback.
    """

    asset_id: str
    label: str
    from_version: int | None
    to_version: int | None
    actor_id: str
    reason: str
    at: datetime
    kind: str = "move"
    percent: float | None = None


class RampStep(InputModel):
    """From `after_minutes` after the canary started, it serves `percent` of subjects."""

    after_minutes: float = Field(gt=0, le=60 * 24 * 90)
    percent: float = Field(gt=0, lt=100)


class CanaryIn(InputModel):
    """Serve `version` to `percent` of subjects (sticky by subject), through the label's gates."""

    version: int = Field(ge=1, le=2**31 - 1)
    percent: float = Field(gt=0, lt=100, description="Share of subjects, 0 < percent < 100.")
    ramp: list[RampStep] = Field(default_factory=list, max_length=20)
    reason: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _ramp_rises(self) -> CanaryIn:
        steps = [(s.after_minutes, s.percent) for s in self.ramp]
        if steps != sorted(steps) or len({m for m, _ in steps}) != len(steps):
            raise ValueError("ramp steps must be in order of after_minutes, each later than the last")
        if any(p <= self.percent for _, p in steps) or any(a[1] >= b[1] for a, b in pairwise(steps)):
            raise ValueError("each ramp step must raise the percent above the one before it")
        return self


class Canary(BaseModel):
    """The canary of one label: where a share of its traffic goes, and how that share ramps."""

    version: int
    percent: float
    ramp: list[RampStep]
    started_by: str
    started_at: datetime

    def percent_at(self, now: datetime) -> float:
        """The share of subjects the canary serves at `now` (the last ramp step reached)."""
        share = self.percent
        for step in self.ramp:
            if now >= self.started_at + timedelta(minutes=step.after_minutes):
                share = step.percent
        return share


class RollbackIn(InputModel):
    """Put a label back where it was: end its canary, or else return it to its previous version."""

    reason: str = Field(default="", max_length=2000)


class LifecycleIn(InputModel):
    """Mark a version a candidate, deprecate it (with a sunset date), or retire it."""

    state: Literal["candidate", "deprecated", "retired"]
    sunset: date | None = Field(default=None, description="Required to deprecate: when it retires.")
    reason: str = Field(default="", max_length=2000)
    force: bool = Field(
        default=False, description="Retire although consumers used it recently (needs a reason)."
    )


class ReviewIn(InputModel):
    """Record a review of an asset and set the next review date."""

    next_review_by: date | None = None
    comment: str = Field(default="", max_length=2000)


Asset.model_rebuild()
