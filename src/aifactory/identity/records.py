"""Identity records: the shapes the API, the CLI and the SDK exchange."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from aifactory.records import InputModel

__all__ = ["ApiKey", "KeyIn", "NewApiKey", "Principal", "PrincipalIn", "Team", "TeamIn"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$"


class TeamIn(InputModel):
    """A new team."""

    name: str = Field(pattern=NAME_PATTERN)


class Team(BaseModel):
    """A team that owns or stewards assets."""

    id: str
    name: str
    created_at: datetime


class PrincipalIn(InputModel):
    """A new person or app."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: str = Field(pattern="^(person|app)$", description="person or app")
    roles: list[str] = Field(min_length=1, max_length=10)
    team: str | None = Field(default=None, description="Team id or name.")


class Principal(BaseModel):
    """A person or an app that can hold API keys."""

    id: str
    name: str
    kind: str
    roles: list[str]
    team_id: str | None
    created_at: datetime
    disabled_at: datetime | None = None


class KeyIn(InputModel):
    """A new API key."""

    name: str = Field(min_length=1, max_length=200, description="What the key is for.")
    principal: str | None = Field(default=None, description="Whose key (id or name); default: yours.")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKey(BaseModel):
    """An API key's metadata (the secret is never stored or shown again)."""

    id: str
    prefix: str
    principal_id: str
    name: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class NewApiKey(ApiKey):
    """A key just created: `key` is shown this once."""

    key: str
