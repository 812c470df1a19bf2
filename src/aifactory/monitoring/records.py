"""Incident records: the shapes the API, the CLI and the SDK exchange."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from aifactory.records import InputModel

__all__ = ["SEVERITIES", "STATUSES", "Incident", "IncidentIn", "ResolutionIn", "Severity", "Status"]

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

Status = Literal["open", "resolved"]
STATUSES: tuple[str, ...] = ("open", "resolved")


class IncidentIn(InputModel):
    """Open an incident on an asset."""

    asset: str = Field(min_length=1, max_length=241, description="The asset's id or `kind:name`.")
    title: str = Field(min_length=1, max_length=200)
    severity: Severity


class ResolutionIn(InputModel):
    """Resolve an incident, saying how."""

    resolution: str = Field(min_length=1, max_length=4000)


class Incident(BaseModel):
    """Something wrong with an asset in service; while open, the asset's labels cannot move to it."""

    id: str
    asset_id: str
    title: str
    severity: Severity
    status: Status
    opened_by: str
    opened_at: datetime
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
