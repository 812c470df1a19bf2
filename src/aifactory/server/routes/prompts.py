"""Prompts over HTTP: push, search, resolve (with ETag), render, consumers, and label events (SSE).

Approvals, label moves, canaries, rollbacks and lifecycle marks of a prompt are the catalog's routes
(`/v1/assets/prompt:{name}/...`): one choke point for every kind of asset.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, time
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from aifactory.catalog.records import AssetVersion
from aifactory.identity.permissions import Resource
from aifactory.prompts.records import (
    PromptConsumer,
    PromptPushIn,
    PromptRendered,
    PromptRenderIn,
    PromptResolved,
    PromptSummary,
)
from aifactory.prompts.registry import Prompts
from aifactory.prompts.resolution import Resolution, Selector
from aifactory.prompts.snapshot import KIND, PromptEntry
from aifactory.prompts.usage import Consumer
from aifactory.runtime import Runtime
from aifactory.server.auth import Caller, authenticated, governed, permit, runtime_of

router = APIRouter(prefix="/v1/prompts", tags=["prompts"])

Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$", description="The prompt's name.")]
_LABEL = r"^[a-z][a-z0-9_-]{0,63}$"
_HEADER = r"^[^\x00]{0,200}$"
_KEEPALIVE_SECONDS = 15.0
_STREAM_SECONDS = 300.0


def _consumer(request: Request, caller: Caller, use_case: str | None) -> Consumer:
    environment = request.headers.get("x-aifactory-environment") or "default"
    use_case = use_case or request.headers.get("x-aifactory-use-case") or ""
    return Consumer(caller.key_id or caller.id, environment[:64], use_case[:200])


def resolve_for(
    request: Request,
    caller: Caller,
    name: str,
    select: Selector,
    subject: str | None,
    use_case: str | None = None,
) -> tuple[Prompts, Resolution]:
    """Resolve for this caller (`prompts.resolve` on the prompt), sticky by `subject`, else by the
    `X-Aifactory-Subject` header, else by the key; the caller is counted as a consumer, in
    `use_case` (a chat call's, which may come from its `metadata`) or the `X-Aifactory-Use-Case`
    header."""
    runtime = runtime_of(request)
    prompts = runtime.prompts
    entry = prompts.entry(name)
    resource = Resource(
        "Asset", entry.asset_id, {"owner": entry.owner_id, "kind": KIND, "critical": entry.critical}
    )
    runtime.authorize(caller.subject, "prompts.resolve", resource)
    subject = subject or request.headers.get("x-aifactory-subject")
    return prompts, prompts.resolve(name, select, _consumer(request, caller, use_case), subject)


def _resource(entry: PromptEntry) -> Resource:
    return Resource(
        "Asset", entry.asset_id, {"owner": entry.owner_id, "kind": KIND, "critical": entry.critical}
    )


def _headers(found: Resolution) -> dict[str, str]:
    headers = {"ETag": found.etag, "X-Aifactory-Prompt-Version": str(found.version)}
    if found.mark == "deprecated" and found.sunset is not None:
        headers["Sunset"] = format_datetime(datetime.combine(found.sunset, time(), UTC), usegmt=True)
        headers["Warning"] = (
            f'299 - "prompt {found.name} version {found.version} is deprecated and retires on {found.sunset}"'
        )
    return headers


@router.get("", openapi_extra=governed("assets.list"), summary="List and search prompts")
def search(
    request: Request,
    q: Annotated[
        str | None, Query(max_length=200, pattern=_HEADER, description="In name or description.")
    ] = None,
    tag: Annotated[str | None, Query(max_length=100, pattern=_HEADER)] = None,
    function: Annotated[str | None, Query(max_length=100, pattern=_HEADER)] = None,
    risk: Annotated[str | None, Query(pattern=r"^(low|medium|high|critical)$")] = None,
    model_family: Annotated[str | None, Query(max_length=100, pattern=_HEADER)] = None,
    _c: Caller = permit("assets.list", "Asset"),
) -> list[PromptSummary]:
    """Prompts by name, matching text, tag, business function, risk and model family, with the use
    cases that resolved each."""
    prompts = runtime_of(request).prompts
    found = prompts.search(q, tag=tag, function=function, risk=risk, model_family=model_family)
    use_cases = prompts.use_cases(found)
    return [PromptSummary.of(e, prompts.default_label, use_cases[e.name]) for e in found]


@router.post("", status_code=201, openapi_extra=governed("assets.version"), summary="Push a prompt version")
def push(request: Request, body: PromptPushIn, caller: Caller = Depends(authenticated)) -> AssetVersion:
    """Register the prompt if new (`assets.create`) and add a version (`assets.version`); identical
    content returns the existing version with `created: false`."""
    runtime = runtime_of(request)
    prompt = body.file()
    existing = runtime.prompts.snapshot.prompts.get(prompt.name)
    if existing is None:
        runtime.authorize(
            caller.subject, "assets.create", Resource("Asset", f"{KIND}:{prompt.name}", {"kind": KIND})
        )
    else:
        runtime.authorize(caller.subject, "assets.version", _resource(existing))
    return runtime.prompts.push(prompt, caller.id, body.message)


@router.get(
    "/events", openapi_extra=governed("prompts.resolve"), summary="Label moves, as server-sent events"
)
async def events(
    request: Request,
    name: Annotated[list[str] | None, Query(description="Only these prompts (repeatable).")] = None,
    _c: Caller = permit("prompts.resolve", "Asset"),
) -> StreamingResponse:
    """An SSE stream: `ready` once, then a `label` event whenever a label of a prompt (optionally only
    the named ones) serves something else. It ends after a few minutes with `reconnect`."""
    prompts = runtime_of(request).prompts
    wanted = set(name or ())
    return StreamingResponse(
        _stream(request, prompts, wanted),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )


async def _stream(request: Request, prompts: Prompts, wanted: set[str]) -> AsyncIterator[bytes]:
    queue = prompts.watchers.subscribe()
    deadline = asyncio.get_running_loop().time() + _STREAM_SECONDS
    try:
        yield b"retry: 1000\nevent: ready\ndata: {}\n\n"
        while asyncio.get_running_loop().time() < deadline and not await request.is_disconnected():
            try:
                change = await asyncio.wait_for(queue.get(), timeout=_KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if not wanted or change.name in wanted:
                yield f"event: label\ndata: {json.dumps(asdict(change))}\n\n".encode()
        yield b"event: reconnect\ndata: {}\n\n"
    finally:
        prompts.watchers.unsubscribe(queue)


@router.get("/{name}", openapi_extra=governed("prompts.resolve"), summary="Resolve a prompt")
def get_prompt(
    request: Request,
    name: Name,
    label: Annotated[str | None, Query(pattern=_LABEL)] = None,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    hash: Annotated[
        str | None, Query(pattern=r"^(sha256:)?[0-9a-f]{64}$", description="Pin by content.")
    ] = None,
    subject: Annotated[str | None, Query(max_length=1000, pattern=_HEADER)] = None,
    caller: Caller = Depends(authenticated),
) -> Response:
    """The version a label serves this caller (canary split sticky by subject, else by key), a version
    number, or a content hash; with its template. `If-None-Match` with the ETag answers `304`."""
    _, found = resolve_for(request, caller, name, Selector(label, version, hash), subject)
    headers = _headers(found)
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    body = PromptResolved.of(found).model_dump(mode="json")
    return JSONResponse(body, headers=headers | {"Cache-Control": "no-cache"})


@router.post(
    "/{name}/render", openapi_extra=governed("prompts.resolve"), summary="Resolve and render a prompt"
)
def render_prompt(
    request: Request, name: Name, body: PromptRenderIn, caller: Caller = Depends(authenticated)
) -> JSONResponse:
    """Resolve as `GET` does, then render with `variables` (checked against the prompt's schema)."""
    select = Selector(body.label, body.version, body.hash)
    prompts, found = resolve_for(request, caller, name, select, body.subject)
    rendered = prompts.render(found, body.variables)
    answer = PromptRendered.of_rendering(found, rendered).model_dump(mode="json")
    return JSONResponse(answer, headers=_headers(found))


@router.get("/{name}/consumers", openapi_extra=governed("assets.read"), summary="Who uses a prompt")
def consumers(
    request: Request,
    name: Name,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    caller: Caller = Depends(authenticated),
) -> list[PromptConsumer]:
    """Every key or app that resolved the prompt (or one version): environment, use case, first and
    last use, and how often; most recent first."""
    runtime: Runtime = runtime_of(request)
    entry = runtime.prompts.entry(name)
    runtime.authorize(caller.subject, "assets.read", _resource(entry))
    return [PromptConsumer(**row) for row in runtime.prompts.consumers(name, version)]
