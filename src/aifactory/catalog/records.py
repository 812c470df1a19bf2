"""Catalog records: the shapes the API, the CLI and the SDK exchange."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from aifactory.records import InputModel

__all__ = [
    "LABEL_PATTERN",
    "Approval",
    "ApprovalIn",
    "Asset",
    "AssetIn",
    "AssetVersion",
    "LabelMove",
    "LabelMoveIn",
    "ReviewIn",
    "VersionIn",
]

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
    """One move of one label; `to_version` None means the label was removed."""

    asset_id: str
    label: str
    from_version: int | None
    to_version: int | None
    actor_id: str
    reason: str
    at: datetime


class ReviewIn(InputModel):
    """Record a review of an asset and set the next review date."""

    next_review_by: date | None = None
    comment: str = Field(default="", max_length=2000)
