"""Identity records: the shapes the API, the CLI and the SDK exchange."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from aifactory.records import InputModel

__all__ = [
    "MAX_RATE",
    "ApiKey",
    "KeyIn",
    "LimitsIn",
    "NewApiKey",
    "Principal",
    "PrincipalIn",
    "Rpm",
    "Team",
    "TeamIn",
    "Tpm",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$"
MAX_RATE = 1_000_000_000
"""The largest requests- or tokens-per-minute limit that can be set."""

_RPM = "Requests per minute through the gateway; unset: the server's default."
_TPM = "Tokens per minute through the gateway; unset: the server's default."


Rpm = Annotated[int | None, Field(ge=1, le=MAX_RATE, description=_RPM)]
"""A requests-per-minute limit of a key or team, overriding the server's default (None: the default)."""
Tpm = Annotated[int | None, Field(ge=1, le=MAX_RATE, description=_TPM)]
"""A tokens-per-minute limit of a key or team, overriding the server's default (None: the default)."""


class LimitsIn(InputModel):
    """New per-minute limits of a key or team: a field left out stays as it is; null goes back to the
    server's default."""

    rpm_limit: Rpm = None
    tpm_limit: Tpm = None


class TeamIn(InputModel):
    """A new team, with its own per-minute limits if it needs them."""

    name: str = Field(pattern=NAME_PATTERN)
    rpm_limit: Rpm = None
    tpm_limit: Tpm = None


class Team(BaseModel):
    """A team that owns or stewards assets."""

    id: str
    name: str
    created_at: datetime
    rpm_limit: Rpm = None
    tpm_limit: Tpm = None


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
    """A new API key, with its own per-minute limits if it needs them."""

    name: str = Field(min_length=1, max_length=200, description="What the key is for.")
    principal: str | None = Field(default=None, description="Whose key (id or name); default: yours.")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    rpm_limit: Rpm = None
    tpm_limit: Tpm = None


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
    rpm_limit: Rpm = None
    tpm_limit: Tpm = None


class NewApiKey(ApiKey):
    """A key just created: `key` is shown this once."""

    key: str
