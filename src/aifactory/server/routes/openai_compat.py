"""OpenAI-compatible routes: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`.

The official `openai` SDK works unchanged with `base_url=<server>/v1` and an aifactory key. `model`
names a route alias. Governance context comes from `X-Aifactory-*` headers or the body's
`metadata`; every response carries `X-Aifactory-Run-Id`. Errors use OpenAI's error shape here.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from aifactory.errors import (
    AifactoryError,
    GuardrailViolationError,
    InvalidInputError,
    UpstreamError,
)
from aifactory.gateway.runs import RunRecord
from aifactory.gateway.service import CallContext, Gateway
from aifactory.gateway.types import ChatRequest, ChatResponse, Delta, EmbeddingRequest, StreamEnd, StreamEvent
from aifactory.identity.permissions import Resource
from aifactory.prompts.chat import PromptCall, build_chat, prompt_use
from aifactory.server.auth import Caller, authenticated, governed, permit, runtime_of
from aifactory.server.openai_errors import openai_error_body
from aifactory.server.routes.prompts import resolve_for

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

RUN_HEADER = "X-Aifactory-Run-Id"
_CONTEXT_HEADERS = {
    "use_case": "x-aifactory-use-case",
    "jurisdiction": "x-aifactory-jurisdiction",
    "surface": "x-aifactory-surface",
    "data_subject": "x-aifactory-subject",
    "risk_class": "x-aifactory-risk-class",
    "data_categories": "x-aifactory-data-categories",
    "purpose": "x-aifactory-purpose",
}
_LIMITS = {
    "use_case": 200,
    "jurisdiction": 16,
    "surface": 32,
    "data_subject": 1000,
    "risk_class": 32,
    "data_categories": 1000,
    "purpose": 200,
}
_METADATA_KEYS = {
    "use_case": "use_case",
    "jurisdiction": "jurisdiction",
    "surface": "surface",
    "data_subject": "subject",
    "risk_class": "risk_class",
    "data_categories": "data_categories",
    "purpose": "purpose",
}
_RISK_CLASSES = ("prohibited", "high", "limited", "minimal")


def _context(request: Request, caller: Caller, metadata: dict[str, str] | None) -> CallContext:
    values: dict[str, str | None] = {}
    for field, header in _CONTEXT_HEADERS.items():
        value = request.headers.get(header) or (metadata or {}).get(_METADATA_KEYS[field])
        limit = _LIMITS[field]
        if value is not None and (len(value) > limit or "\x00" in value):
            raise InvalidInputError(f"{header} must be at most {limit} characters")
        values[field] = value
    risk = values["risk_class"]
    if risk is not None and risk not in _RISK_CLASSES:
        raise InvalidInputError(
            f"{_CONTEXT_HEADERS['risk_class']} must be one of {', '.join(_RISK_CLASSES)}, not {risk!r}"
        )
    categories = values["data_categories"] or ""
    return CallContext(
        subject=caller.subject,
        key_id=caller.key_id,
        use_case=values["use_case"],
        jurisdiction=values["jurisdiction"].upper() if values["jurisdiction"] else None,
        surface=values["surface"],
        data_subject=values["data_subject"],
        risk_class=risk,
        data_categories=frozenset(c.strip() for c in categories.split(",") if c.strip()),
        purpose=values["purpose"],
    )


def _authorize(request: Request, caller: Caller, action: str, alias: str, call: CallContext) -> Gateway:
    runtime = runtime_of(request)
    try:
        runtime.authorize(caller.subject, action, Resource("Route", alias))
    except AifactoryError as error:
        runtime.gateway.refuse(alias, "chat" if action == "gateway.chat" else "embeddings", call, error)
        raise
    return runtime.gateway


def _with_prompt(
    request: Request, caller: Caller, body: ChatRequest, call: CallContext
) -> tuple[ChatRequest, CallContext]:
    """Build the request from the prompt it names (resolved for this caller, canary split sticky
    by the data subject), and mark the call with the version served."""
    ask = PromptCall.of((body.model_extra or {})["prompt"])
    prompts, found = resolve_for(request, caller, ask.name, ask.selector, call.data_subject, call.use_case)
    rendered = prompts.render(found, ask.variables)
    return build_chat(body, found, rendered), replace(call, prompt=prompt_use(found, rendered))


def _completion(
    run_id: str, alias: str, response: ChatResponse, governance: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "id": f"chatcmpl-{run_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": alias,
        "choices": response.choices,
        "usage": response.usage.as_openai(),
        "aifactory": governance | response.extra,
    }
    return body


def _governance(run: RunRecord) -> dict[str, Any]:
    """What the caller must know of the call's policy decision: what to show the user (disclosures)
    and whether a person must review the output before it is acted on."""
    o = run.obligations
    return {
        "run_id": run.id,
        "decision_id": run.decision_id,
        "disclosures": list(o.disclosures) if o else [],
        "human_review": bool(o and o.human_review),
    }


def _headers(run: RunRecord) -> dict[str, str]:
    """The run's id and the decision's notices, as response headers (streams have no body to carry
    them before the first token). Non-ASCII disclosure text is percent-encoded (UTF-8)."""
    headers = {RUN_HEADER: run.id}
    if run.decision_id:
        headers["X-Aifactory-Decision-Id"] = run.decision_id
    o = run.obligations
    if o and o.human_review:
        headers["X-Aifactory-Human-Review"] = "required"
    if o and o.disclosures:
        headers["X-Aifactory-Disclosure"] = quote(" | ".join(o.disclosures), safe=" ,.;:!?'()/-")
    return headers


@router.post("/chat/completions", openapi_extra=governed("gateway.chat"), summary="Chat completions (OpenAI)")
async def chat_completions(
    request: Request, body: ChatRequest, caller: Caller = Depends(authenticated)
) -> Response:
    """A completion from the route named by `model`, streamed (SSE) or whole."""
    return await chat(request, body, caller)


async def chat(request: Request, body: ChatRequest, caller: Caller) -> Response:
    """Chat completions, for the route above and for the edge (`aifactory.server.edge`)."""
    call = _context(request, caller, body.metadata)
    if "prompt" in (body.model_extra or {}):
        body, call = _with_prompt(request, caller, body, call)
    gateway = _authorize(request, caller, "gateway.chat", body.model, call)
    if not body.stream:
        response, run = await gateway.chat(body, call)
        answer = _completion(run.id, body.model, response, _governance(run))
        return JSONResponse(answer, headers=_headers(run))
    run, events = await gateway.chat_stream(body, call)
    first = await anext(events)  # a failure before any content is an ordinary error response
    include_usage = bool((getattr(body, "stream_options", None) or {}).get("include_usage"))
    chunks = _sse(run.id, body.model, first, events, include_usage)
    return StreamingResponse(chunks, media_type="text/event-stream", headers=_headers(run))


async def _sse(
    run_id: str,
    alias: str,
    first: StreamEvent | None,
    events: AsyncIterator[StreamEvent],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    created = int(time.time())
    base = {"id": f"chatcmpl-{run_id}", "object": "chat.completion.chunk", "created": created, "model": alias}

    def frame(data: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

    async def all_events() -> AsyncIterator[StreamEvent]:
        if first is not None:
            yield first
        async for event in events:
            yield event

    try:
        async for event in all_events():
            if isinstance(event, Delta):
                yield frame(base | {"choices": event.choices})
            elif isinstance(event, StreamEnd) and include_usage:
                yield frame(base | {"choices": [], "usage": event.usage.as_openai()})
    except (UpstreamError, GuardrailViolationError) as error:
        # Content was already sent: end with a typed error event, never a silent truncation (a
        # guardrail's block arrives here before any of the text that broke it was sent).
        yield frame(openai_error_body(error, run_id=run_id))
        return
    yield b"data: [DONE]\n\n"


@router.post("/embeddings", openapi_extra=governed("gateway.embed"), summary="Embeddings (OpenAI)")
async def embeddings(
    request: Request, body: EmbeddingRequest, caller: Caller = Depends(authenticated)
) -> Response:
    """Vectors from the route named by `model`."""
    return await embed(request, body, caller)


async def embed(request: Request, body: EmbeddingRequest, caller: Caller) -> Response:
    """Embeddings, for the route above and for the edge (`aifactory.server.edge`)."""
    call = _context(request, caller, None)
    gateway = _authorize(request, caller, "gateway.embed", body.model, call)
    response, run = await gateway.embed(body, call)
    encode = _base64_floats if body.encoding_format == "base64" else list
    vectors = enumerate(response.vectors)
    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in vectors]
    payload = {
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "total_tokens": response.usage.prompt_tokens,
        },
    }
    return JSONResponse(payload, headers=_headers(run))


def _base64_floats(vector: list[float]) -> str:
    """OpenAI's `encoding_format=base64`: little-endian float32 values, base64 encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


@router.get("/models", openapi_extra=governed("gateway.models"), summary="Served routes (OpenAI model list)")
def models(request: Request, _c: Caller = permit("gateway.models", "Route")) -> dict[str, Any]:
    """The route aliases the gateway serves, as OpenAI models."""
    return {"object": "list", "data": runtime_of(request).gateway.models()}
