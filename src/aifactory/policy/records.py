"""Policy over HTTP: the dry run's request body and the description of an active pack."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from aifactory.policy.decision import RequestContext
from aifactory.policy.jurisdictions import JURISDICTION_PATTERN
from aifactory.policy.rules import ActivePack
from aifactory.records import InputModel

__all__ = ["ContextIn", "PackInfo"]

_WORD = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"


class ContextIn(InputModel):
    """A request context to decide (the dry run): every field of `RequestContext`, all optional."""

    principal: str | None = Field(default=None, max_length=200, description="Default: the caller.")
    roles: list[str] = Field(default_factory=list, max_length=50)
    team: str | None = Field(default=None, max_length=200)
    use_case: str | None = Field(default=None, pattern=_WORD)
    jurisdiction: str | None = Field(default=None, pattern=JURISDICTION_PATTERN)
    surface: Literal["chat", "voice", "api", "batch", "agent"] | None = None
    risk_class: Literal["prohibited", "high", "limited", "minimal"] | None = None
    data_categories: list[str] = Field(default_factory=list, max_length=50)
    purpose: str | None = Field(default=None, pattern=_WORD)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=100)
    at: datetime | None = Field(default=None, description="The instant to decide at; default: now.")

    def to_context(self, caller: str) -> RequestContext:
        """The context, with the caller as principal and now as `at` unless given."""
        at = self.at or datetime.now(UTC)
        return RequestContext(
            principal=self.principal or caller,
            at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
            roles=tuple(self.roles),
            team=self.team,
            use_case=self.use_case,
            jurisdiction=self.jurisdiction,
            surface=self.surface,
            risk_class=self.risk_class,
            data_categories=frozenset(self.data_categories),
            purpose=self.purpose,
            attributes=dict(self.attributes),
        )


class PackInfo(BaseModel):
    """An active pack version: what `GET /v1/policy/packs` lists."""

    name: str
    version: int
    title: str
    status: str
    family: str
    scope: dict[str, Any]
    sources: list[dict[str, Any]]
    rules: int
    content: dict[str, Any]

    @classmethod
    def of(cls, pack: ActivePack) -> PackInfo:
        """The description of an active pack version."""
        spec = pack.spec
        return cls(
            name=pack.name,
            version=pack.version,
            title=spec.title,
            status=spec.status,
            family=spec.track_family,
            scope=spec.scope.model_dump(),
            sources=[s.model_dump(exclude_none=True) for s in spec.sources],
            rules=len(spec.rules),
            content=spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
        )
