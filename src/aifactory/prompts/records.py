"""Prompt records: the shapes the prompt routes, the CLI and the SDK exchange."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from aifactory.catalog.records import NAME_PATTERN
from aifactory.errors import InvalidInputError
from aifactory.prompts.files import PromptFile
from aifactory.prompts.resolution import Resolution
from aifactory.prompts.snapshot import PromptEntry
from aifactory.prompts.spec import parse_spec
from aifactory.prompts.templates import RenderedPrompt
from aifactory.records import InputModel

__all__ = [
    "PromptConsumer",
    "PromptPushIn",
    "PromptRenderIn",
    "PromptRendered",
    "PromptResolved",
    "PromptSummary",
]


class PromptPushIn(InputModel):
    """A prompt file's content, pushed as a new version (the prompt is registered if new)."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=10_000)
    critical: bool = False
    spec: dict[str, Any] = Field(description="The version's content: messages or text, variables, ...")
    message: str = Field(default="", max_length=2000, description="What changed, like a commit message.")

    def file(self) -> PromptFile:
        """The prompt file this push carries; an invalid spec is a 400 naming each problem."""
        try:
            spec = parse_spec(self.spec)
        except ValueError as exc:
            raise InvalidInputError(f"invalid prompt {self.name}: {exc}") from None
        try:
            return PromptFile(name=self.name, description=self.description, critical=self.critical, spec=spec)
        except ValidationError as exc:
            raise InvalidInputError(f"invalid prompt {self.name}: {exc.errors()[0]['msg']}") from None


class PromptRenderIn(InputModel):
    """Which version to render (one of label, version, hash; default: the default label) and with what."""

    label: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    hash: str | None = Field(default=None, pattern=r"^(sha256:)?[0-9a-f]{64}$")
    variables: dict[str, Any] = Field(default_factory=dict)
    subject: str | None = Field(default=None, max_length=1000, description="Sticks the canary split.")


class PromptResolved(BaseModel):
    """The version a request resolved to, with its template and pins."""

    name: str
    version: int
    content_hash: str
    label: str | None
    canary: bool = Field(description="True when the label's canary served this request.")
    mark: str | None = Field(description="candidate, deprecated or retired, if someone marked it.")
    sunset: date | None
    spec: dict[str, Any]
    pins: dict[str, str] = Field(description="Include ref -> the content hash it was pinned to at release.")

    @classmethod
    def of(cls, found: Resolution) -> PromptResolved:
        """The record of a resolution."""
        return cls(
            name=found.name,
            version=found.version,
            content_hash=found.content_hash,
            label=found.label,
            canary=found.canary,
            mark=found.mark,
            sunset=found.sunset,
            spec=found.spec.content(),
            pins=dict(found.pins),
        )


class PromptRendered(PromptResolved):
    """A resolution rendered: chat `messages` or `text`, and the includes it used (ref -> hash)."""

    messages: list[dict[str, str]] | None = None
    text: str | None = None
    includes: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of_rendering(cls, found: Resolution, rendered: RenderedPrompt) -> PromptRendered:
        """The record of a rendered resolution."""
        base = PromptResolved.of(found).model_dump()
        return cls(**base, messages=rendered.messages, text=rendered.text, includes=rendered.includes)


class PromptSummary(BaseModel):
    """One prompt in a listing or a search."""

    name: str
    description: str
    owner_id: str
    critical: bool
    latest_version: int | None
    labels: dict[str, int]
    canaries: dict[str, dict[str, float]] = Field(description="Label -> {version, percent}.")
    tags: dict[str, Any] = Field(description="Of the version the default label serves, else the newest.")
    use_cases: list[str] = Field(description="Use cases that resolved it (who shares this prompt).")

    @classmethod
    def of(cls, entry: PromptEntry, label: str, use_cases: list[str]) -> PromptSummary:
        """The summary of a snapshot entry."""
        return cls(
            name=entry.name,
            description=entry.description,
            owner_id=entry.owner_id,
            critical=entry.critical,
            latest_version=entry.latest.number if entry.latest else None,
            labels={name: s.version for name, s in entry.labels.items()},
            canaries={
                name: {"version": s.canary.version, "percent": s.canary.percent}
                for name, s in entry.labels.items()
                if s.canary is not None
            },
            tags=entry.tags(label),
            use_cases=use_cases,
        )


class PromptConsumer(BaseModel):
    """A key or app that resolved a prompt version."""

    asset_id: str
    version_number: int
    consumer: str = Field(description="The API key id (or the principal id for a call without a key).")
    environment: str
    use_case: str
    first_seen: datetime
    last_seen: datetime
    uses: int
