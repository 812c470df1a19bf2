"""The JSON shapes of the PII routes, shared by the server and the SDK."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aifactory.policy.pii.entities import Entity

__all__ = ["Analysis", "AnalyzeIn", "Finding", "RedactIn", "Redacted"]

_LANGUAGE = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"


class AnalyzeIn(BaseModel):
    """Find PII in a text."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The text to analyze (any script; bounded by the body size limit).")
    language: str | None = Field(
        default=None, max_length=35, pattern=_LANGUAGE, description="BCP 47 tag, e.g. `de` or `en-GB`."
    )
    entities: list[str] | None = Field(
        default=None, max_length=100, description="Entity types to look for (default: all)."
    )
    return_text: bool = Field(default=False, description="Include each finding's text in the answer.")


class RedactIn(BaseModel):
    """Find PII in a text and redact it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The text to redact.")
    mode: str | dict[str, str] = Field(
        description="`mask`, `remove`, `hash` or `pseudonymize`, or a map entity type -> mode."
    )
    entities: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Entity types to redact with a single mode (default: all; a map names its own).",
    )
    language: str | None = Field(default=None, max_length=35, pattern=_LANGUAGE)


class Finding(BaseModel):
    """One entity found: type, span (Unicode code point offsets), score, and the text when asked."""

    type: str
    start: int
    end: int
    score: float
    text: str | None = None

    @classmethod
    def of(cls, entity: Entity, *, with_text: bool) -> Finding:
        """The finding of an entity, with or without its text."""
        return cls(
            type=entity.type,
            start=entity.start,
            end=entity.end,
            score=round(entity.score, 4),
            text=entity.text if with_text else None,
        )


class Analysis(BaseModel):
    """What `POST /v1/pii/analyze` answers."""

    entities: list[Finding]


class Redacted(BaseModel):
    """What `POST /v1/pii/redact` answers: the redacted text, and each replacement's span in it."""

    text: str
    entities: list[Finding]
