"""PII over HTTP: find personal data in a text, or redact it."""

from __future__ import annotations

from fastapi import APIRouter, Request

from aifactory.policy.pii.records import Analysis, AnalyzeIn, Finding, Redacted, RedactIn
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/pii", tags=["pii"])


@router.post(
    "/analyze",
    openapi_extra=governed("pii.analyze"),
    summary="Find PII in a text",
    response_model_exclude_none=True,
)
def analyze(request: Request, body: AnalyzeIn, _c: Caller = permit("pii.analyze", "Pii")) -> Analysis:
    """The entities found: type, span (code point offsets), score; their text only when asked.
    An unknown entity type is a 400 naming the valid ones."""
    found = runtime_of(request).pii.analyze(body.text, language=body.language, entities=body.entities)
    return Analysis(entities=[Finding.of(e, with_text=body.return_text) for e in found])


@router.post("/redact", openapi_extra=governed("pii.redact"), summary="Redact PII in a text")
def redact(request: Request, body: RedactIn, caller: Caller = permit("pii.redact", "Pii")) -> Redacted:
    """The text with each entity masked, removed, hashed (keyed per team) or pseudonymized (surrogates
    of this request); spans are in the redacted text, and `text` is the replacement, never the value."""
    result = runtime_of(request).pii.redact(
        body.text,
        body.mode,
        entities=body.entities,
        language=body.language,
        team=caller.subject.team,
    )
    return Redacted(text=result.text, entities=[Finding.of(e, with_text=True) for e in result.entities])
